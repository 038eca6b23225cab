"""Parity of the S2M mel front-end (models.s2m.mel) with DIR/mel/: the filterbank and the
log-mel of a 22050 Hz test wave."""

from __future__ import annotations

from pathlib import Path

import torch

from models.parity import Check, compare, load_arrays
from models.s2m.mel import mel_filterbank, mel_spectrogram

STAGE = "mel"


def run(root: Path) -> list[Check]:
    a = load_arrays(Path(root), "mel")
    wave = torch.from_numpy(a["wav_22k"]).unsqueeze(0)
    return [
        compare(STAGE, "mel_basis", mel_filterbank(), a["mel_basis"], tol=1e-6),
        compare(STAGE, "mel", mel_spectrogram(wave), a["mel"]),
    ]
