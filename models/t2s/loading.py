"""Load an official `gpt.pth` into T2S, strictly.

The official loader loads non-strictly, so a wrong file "loads" with random weights. Here every
key and shape must match; otherwise CheckpointMismatch names the offending keys. Two widths the
official code hard-codes (conditioning input 1024, emotion perceiver 1024) are read from the
checkpoint's tensor shapes instead, so the tiny e2e checkpoints load too.

    load_t2s(path, cfg, device) -> T2S
    checkpoint_shapes(model) -> {key: shape}   the state dict as the official file stores it
    widths_from_state_dict(sd, cfg) -> cfg with cond_input_size / emo_perceiver_dim filled in
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor

from models.config import GPTConfig
from models.layout import read_torch
from models.t2s.gpt2 import is_conv1d_key

M = TypeVar("M", bound=torch.nn.Module)


class CheckpointMismatch(ValueError):
    """The checkpoint does not fit the model built from the config."""


Link = tuple[str, Any, Any, str, Any, Any]  # (what, width, file) on each side of a link


def check_links(links: Sequence[Link], lead: str, hint: str = "") -> None:
    """Files that load one by one but not together (mixed releases): raise
    CheckpointMismatch naming both widths and files of every broken link."""
    problems = [
        f"{a} {wa} ({fa}) != {b} {wb} ({fb})"
        for a, wa, fa, b, wb, fb in links
        if int(wa) != int(wb)
    ]
    if problems:
        raise CheckpointMismatch(lead + "; ".join(problems) + hint)


def read_state_dict(path: Path) -> dict[str, Tensor]:
    obj = read_torch(path)  # ModelFilesDamaged naming the file when it cannot be read
    # The official loader accepts a plain state dict or {"model": state_dict}.
    if isinstance(obj, Mapping) and "model" in obj and isinstance(obj["model"], Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping):
        raise CheckpointMismatch(f"{path}: not a state dict ({type(obj).__name__})")
    return dict(obj)


def widths_from_state_dict(sd: Mapping[str, Tensor], cfg: GPTConfig) -> GPTConfig:
    """Fill the widths the official code hard-codes from the tensors that depend on them."""
    changes: dict[str, int] = {}
    w = sd.get("conditioning_encoder.embed.out.0.weight")
    if w is not None and w.ndim == 2:
        odim = cfg.condition_module.output_size
        if w.shape[1] % odim:
            raise CheckpointMismatch(
                f"conditioning_encoder.embed.out.0.weight is {tuple(w.shape)}, not a multiple of "
                f"output_size {odim}: config and checkpoint disagree"
            )
        # Linear in = odim * ((C - 1) // 2): C is 2f + 1 or 2f + 2; feature sizes are even.
        changes["cond_input_size"] = 2 * (w.shape[1] // odim) + 2
    lat = sd.get("emo_perceiver_encoder.latents")
    if lat is not None and lat.ndim == 2:
        changes["emo_perceiver_dim"] = int(lat.shape[1])
    return dataclasses.replace(cfg, **changes)


def checkpoint_shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    """Our state dict's keys with the shapes the official checkpoint stores."""
    out: dict[str, tuple[int, ...]] = {}
    for k, v in model.state_dict(keep_vars=True).items():
        shape = tuple(v.shape)
        out[k] = shape[::-1] if is_conv1d_key(k) else shape
    return out


def _describe(keys: list[str], limit: int = 8) -> str:
    head = ", ".join(keys[:limit])
    return head + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def check_keys(
    expected: Mapping[str, tuple[int, ...]], found: Mapping[str, tuple[int, ...]]
) -> list[str]:
    """Human-readable problems; empty when keys and shapes agree exactly."""
    problems = []
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if tuple(expected[k]) != tuple(found[k]))
    if missing:
        problems.append(f"missing keys: {_describe(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_describe(unexpected)}")
    if wrong:
        shown = [f"{k} {tuple(found[k])} != {tuple(expected[k])}" for k in wrong]
        problems.append(f"shape mismatch (checkpoint != model): {_describe(shown)}")
    return problems


def load_t2s(
    path: Path,
    cfg: GPTConfig,
    device: str | torch.device = "cpu",
    model_type: Callable[[GPTConfig], M] | None = None,
) -> M:
    """`model_type`: the model class (T2S; T2S.load passes itself, so this module does not
    import the model)."""
    if model_type is None:
        raise TypeError("load_t2s needs the model class (use T2S.load)")
    sd = read_state_dict(path)
    cfg = widths_from_state_dict(sd, cfg)
    build = model_type
    return load_strict(path, sd, lambda: build(cfg), "does not match the gpt config", device)


def load_strict(
    path: Path,
    sd: MutableMapping[str, Tensor],
    build: Callable[[], M],
    mismatch: str,
    device: str | torch.device = "cpu",
) -> M:
    """Build the model on the meta device and take `sd` strictly: every missing,
    unexpected or mis-shaped key is named after `path` and `mismatch` (the official
    load_checkpoint is non-strict and would leave random weights). Used by 2.0 and 2.5.
    `sd` is emptied: its tensors move into the model."""
    with torch.device("meta"):
        model = build()
    problems = check_keys(checkpoint_shapes(model), {k: tuple(v.shape) for k, v in sd.items()})
    if problems:
        raise CheckpointMismatch(f"{path} {mismatch}:\n  " + "\n  ".join(problems))
    converted = {}
    # Popped one tensor at a time, so a transposed or upcast copy never sits beside its
    # original: the 1.9 GB of GPT-2 weights would otherwise be held twice while loading.
    for k in list(sd):
        v = sd.pop(k)
        v = v.to(torch.float32) if v.is_floating_point() else v
        # Output-major for F.linear: contiguous, so decoding streams rows of weights.
        converted[k] = v.t().contiguous() if is_conv1d_key(k) else v
        del v
    model.load_state_dict(converted, strict=True, assign=True)
    return model.to(device).eval()
