"""Stage `campplus` of the 2.5 set: Kaldi fbank and CAMPPlus (reduced widths here, read
from the file) against DIR/campplus/ (weights: DIR/checkpoints/hf_cache/campplus_cn_common.bin)."""

from __future__ import annotations

from pathlib import Path

import torch

from models.indextts25.campplus import load_speaker_style
from models.parity import Check, compare, load_arrays
from models.speaker import kaldi_fbank

STAGE = "campplus"


def run(root: Path) -> list[Check]:
    root = Path(root)
    a = load_arrays(root, STAGE)
    wav = a["wav_16k"]
    style = load_speaker_style(root / "checkpoints" / "hf_cache" / "campplus_cn_common.bin")
    fbank = torch.from_numpy(a["fbank_meansub"])[None]
    return [
        compare(STAGE, "fbank_raw", kaldi_fbank(wav, subtract_mean=False), a["fbank_raw"]),
        compare(STAGE, "fbank_meansub", kaldi_fbank(wav), a["fbank_meansub"]),
        compare(STAGE, "style", style.from_fbank(fbank), a["style"]),
        compare(STAGE, "style_from_wave", style(wav), a["style"]),
    ]
