"""Stage `campplus`: Kaldi fbank and the full-size CAMPPlus style vector against
DIR/campplus/ (weights: DIR/checkpoints/campplus_cn_common.bin)."""

from __future__ import annotations

from pathlib import Path

import torch

from models.parity import Check, compare, exact, load_arrays
from models.speaker import SpeakerStyle, kaldi_fbank

STAGE = "campplus"


def run(root: Path) -> list[Check]:
    root = Path(root)
    a = load_arrays(root, STAGE)
    wav = a["wav_16k"]
    checks: list[Check] = [
        compare(STAGE, "fbank_raw", kaldi_fbank(wav, subtract_mean=False), a["fbank_raw"]),
        compare(STAGE, "fbank_meansub", kaldi_fbank(wav), a["fbank_meansub"]),
    ]
    style = SpeakerStyle.load(root / "checkpoints" / "campplus_cn_common.bin")
    # The network alone, from the official fbank ...
    checks.append(
        compare(
            STAGE, "style", style.from_fbank(torch.from_numpy(a["fbank_meansub"])[None]), a["style"]
        )
    )
    # ... and end to end from the wave.
    checks.append(compare(STAGE, "style_from_wave", style(wav), a["style"]))
    # In a padded batch with two shorter prompts, the full prompt is still the official result.
    batch = style([wav[:20000], wav, wav[7000:40000]], batched=True)
    checks.append(compare(STAGE, "style_batched_row1", batch[1:2], a["style"]))
    checks.append(
        exact(STAGE, "style_batched_shape", tuple(batch.shape) == (3, 192), str(tuple(batch.shape)))
    )
    return checks
