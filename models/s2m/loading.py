"""Strict loading of the official s2mel.pth: {'net': {'cfm': sd, 'length_regulator': sd,
'gpt_layer': sd}}. Every key must be present with its exact shape (the official
load_checkpoint2 silently skips mismatches and would leave random weights)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor

from models.layout import read_torch
from models.s2m.config import S2MConfig

M = TypeVar("M", bound=torch.nn.Module)

MODULES = ("cfm", "length_regulator", "gpt_layer")


def read_s2mel(path: Path) -> dict[str, dict[str, Tensor]]:
    ckpt = read_torch(Path(path))  # ModelFilesDamaged naming the file when unreadable
    if not isinstance(ckpt, dict) or "net" not in ckpt:
        raise ValueError(f"{path}: not an s2mel checkpoint (no 'net' entry)")
    net = ckpt["net"]
    missing = [m for m in MODULES if m not in net]
    if missing:
        raise ValueError(f"{path}: 'net' lacks {', '.join(missing)}")
    return {m: _strip_module_prefix(net[m]) for m in MODULES}


def _strip_module_prefix(sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
    # Checkpoints saved from DataParallel carry "module." (load_checkpoint2 strips it too).
    return {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}


def as_config(cfg: S2MConfig | Mapping[str, Any] | Path) -> S2MConfig:
    if isinstance(cfg, S2MConfig):
        return cfg
    if isinstance(cfg, (str, Path)):
        return S2MConfig.from_yaml(Path(cfg))
    return S2MConfig.from_dict(cfg)


def config_for_checkpoint(cfg: S2MConfig, net: Mapping[str, Mapping[str, Tensor]]) -> S2MConfig:
    """The config with the widths the official code hard-codes taken from tensor shapes:
    gpt_layer (1280 -> 256 -> 128 -> 1024 officially, 64 -> ... -> 32 in the tiny e2e set)
    and the regulator's input width (= the semantic codec hidden size)."""
    g = net["gpt_layer"]
    dims = (
        int(g["0.weight"].shape[1]),
        int(g["0.weight"].shape[0]),
        int(g["1.weight"].shape[0]),
        int(g["2.weight"].shape[0]),
    )
    in_ch = int(net["length_regulator"]["content_in_proj.weight"].shape[1])
    lr = dataclasses.replace(cfg.length_regulator, in_channels=in_ch)
    return dataclasses.replace(cfg, gpt_layer_dims=dims, length_regulator=lr)


def load_s2m(
    path: Path,
    cfg: S2MConfig | Mapping[str, Any] | Path,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    model_type: Callable[[S2MConfig], M] | None = None,
) -> M:
    """`model_type`: the model class (S2M; S2M.load passes itself, so this module does not
    import the model)."""
    if model_type is None:
        raise TypeError("load_s2m needs the model class (use S2M.load)")
    net = read_s2mel(path)
    config = config_for_checkpoint(as_config(cfg), net)
    with torch.device("meta"):
        model = model_type(config)
    for name in MODULES:
        # assign=True adopts the checkpoint tensors instead of filling initialised ones.
        getattr(model, name).load_state_dict(net[name], strict=True, assign=True)
    return model.to(device=device, dtype=dtype).eval()
