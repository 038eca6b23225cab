"""Stage `vocoder` of the 2.5 set: BigVGAN (shared with 2.0) from DIR/checkpoints/hf_cache/bigvgan."""

from __future__ import annotations

from pathlib import Path

import torch

from models.parity import Check, compare, load_arrays
from models.vocoder import Vocoder

STAGE = "vocoder"


def run(root: Path) -> list[Check]:
    root = Path(root)
    a = load_arrays(root, STAGE)
    voc = Vocoder.load(root / "checkpoints" / "hf_cache" / "bigvgan", device="cpu")
    wave = voc([torch.from_numpy(a["mel"])[0]])[0]
    return [compare(STAGE, "wav", wave[None, None], a["wav"])]
