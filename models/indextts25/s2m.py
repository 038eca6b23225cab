"""Loading the 2.5 flow model (models.s2m.S2M, shared with 2.0) from an official s2mel.pth.

infer_v2_5 builds `MyModel(cfg.s2mel)`, which has no gpt_layer: the release's s2mel.pth may
still carry one (the reference set's does), and load_checkpoint2 ignores it. Here the cfm
and length_regulator modules load strictly, their shapes from the folder's config.yaml
(every missing, unexpected or mis-shaped key named); a stored gpt_layer is ignored too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from models.layout import read_torch
from models.s2m import S2M
from models.s2m.config import S2MConfig
from models.t2s.loading import CheckpointMismatch, check_keys

MODULES = ("cfm", "length_regulator")
UNUSED_GPT_LAYER = (1, 1, 1, 1)  # 2.5 adds no GPT latent; S2M keeps a placeholder


def s2m_config25(raw: Mapping[str, Any]) -> S2MConfig:
    cfg = S2MConfig.from_dict(raw)
    return dataclasses.replace(cfg, gpt_layer_dims=UNUSED_GPT_LAYER)


def expected_shapes(cfg: S2MConfig) -> dict[str, dict[str, tuple[int, ...]]]:
    with torch.device("meta"):
        model = S2M(cfg)
    return {
        m: {k: tuple(v.shape) for k, v in getattr(model, m).state_dict(keep_vars=True).items()}
        for m in MODULES
    }


def _strip(sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}


def load_s2m25(path: Path, raw: Mapping[str, Any], device: str | torch.device = "cpu") -> S2M:
    ckpt = read_torch(Path(path))
    net = ckpt.get("net") if isinstance(ckpt, Mapping) else None
    if not isinstance(net, Mapping):
        raise CheckpointMismatch(f"{path}: not an s2mel checkpoint (no 'net' entry)")
    absent = [m for m in MODULES if m not in net]
    if absent:
        raise CheckpointMismatch(f"{path}: 'net' lacks {', '.join(absent)}")
    cfg = s2m_config25(raw)
    expected = expected_shapes(cfg)
    problems = []
    states = {m: _strip(net[m]) for m in MODULES}
    for m in MODULES:
        found = {k: tuple(v.shape) for k, v in states[m].items()}
        problems += [f"{m}: {p}" for p in check_keys(expected[m], found)]
    if problems:
        raise CheckpointMismatch(
            f"{path} does not match config.yaml s2mel:\n  " + "\n  ".join(problems)
        )
    with torch.device("meta"):
        model = S2M(cfg)
    for m in MODULES:
        getattr(model, m).load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in states[m].items()},
            strict=True,
            assign=True,
        )
    model.gpt_layer = nn.Sequential(*(nn.Linear(1, 1) for _ in range(3)))  # never used
    return model.to(device).eval()
