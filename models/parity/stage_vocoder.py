"""Parity of the vocoder (models.vocoder) with DIR/vocoder/: the tiny BigVGAN of
DIR/checkpoints/bigvgan on the mel/ log-mel, clamped output [1, 1, F * 256]."""

from __future__ import annotations

from pathlib import Path

import torch

from models.parity import Check, compare, load_arrays
from models.vocoder import Vocoder

STAGE = "vocoder"
TOL = 1e-4  # the reference README names no vocoder-specific tolerance


def run(root: Path) -> list[Check]:
    root = Path(root)
    a = load_arrays(root, "vocoder")
    voc = Vocoder.load(root / "checkpoints" / "bigvgan", device="cpu")
    mel = torch.from_numpy(a["mel"])
    wave = voc([mel[0]])[0]
    checks = [compare(STAGE, "wav", wave[None, None], a["wav"], tol=TOL)]
    # The same mel padded in a batch beside a longer one gives the same samples.
    longer = torch.cat([mel[0], mel[0]], dim=-1)
    batched = voc([mel[0], longer])
    checks.append(compare(STAGE, "wav_batched", batched[0][None, None], a["wav"], tol=TOL))
    return checks
