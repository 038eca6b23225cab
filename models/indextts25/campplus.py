"""CAMPPlus (the shared models.speaker network) loaded with the widths its file has.

The released campplus_cn_common.bin is the 2.0 one (growth 32, bottleneck 4, 128 initial
channels); reading the widths from the tensors instead of assuming them lets the same loader
take the reduced-width test network of the 2.5 reference set, and names the file when its
keys or shapes do not fit.
"""

from __future__ import annotations

from pathlib import Path

import torch

from models.layout import read_torch
from models.speaker import NUM_MEL_BINS, STYLE_DIM, CAMPPlus, SpeakerStyle
from models.t2s.loading import CheckpointMismatch, check_keys


def widths_of(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """growth_rate, bn_size and init_channels from the first dense layer's shapes."""
    try:
        init = int(state["xvector.tdnn.linear.weight"].shape[0])
        growth = int(state["xvector.block1.tdnnd1.cam_layer.linear_local.weight"].shape[0])
        bottleneck = int(state["xvector.block1.tdnnd1.linear1.weight"].shape[0])
    except KeyError as exc:
        raise CheckpointMismatch(f"not a CAMPPlus state dict (no {exc.args[0]})") from None
    return {"growth_rate": growth, "bn_size": max(1, bottleneck // growth), "init_channels": init}


def load_speaker_style(path: Path, device: str | torch.device = "cpu") -> SpeakerStyle:
    state = read_torch(Path(path))
    if not isinstance(state, dict):
        raise CheckpointMismatch(f"{path}: not a CAMPPlus state dict")
    try:
        widths = widths_of(state)
    except CheckpointMismatch as exc:
        raise CheckpointMismatch(f"{path}: {exc}") from None
    model = CAMPPlus(feat_dim=NUM_MEL_BINS, embedding_size=STYLE_DIM, **widths)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = check_keys(expected, {k: tuple(v.shape) for k, v in state.items()})
    if problems:
        raise CheckpointMismatch(f"{path} is not a CAMPPlus model:\n  " + "\n  ".join(problems))
    model.load_state_dict(state, strict=True)
    device = torch.device(device)
    return SpeakerStyle(model.to(device).eval(), device)
