"""Small building blocks shared by the S2M modules."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sequence_mask(lengths: Tensor, max_length: int | None = None) -> Tensor:
    """[B] lengths -> [B, T] bool, True on valid frames."""
    if max_length is None:
        max_length = int(lengths.max())
    steps = torch.arange(max_length, device=lengths.device, dtype=lengths.dtype)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def _weight_norm(v: Tensor, g: Tensor) -> Tensor:
    # torch.nn.utils.weight_norm(dim=0): w = g * v / ||v||, the norm over all dims but 0.
    # Folded in float32 even for half weights (the norm of a 512 x 5 kernel in bf16 is
    # off by more than the rounding of the result).
    dims = tuple(range(1, v.dim()))
    vf, gf = v.float(), g.float()
    return (vf * (gf / torch.linalg.vector_norm(vf, dim=dims, keepdim=True))).to(v.dtype)


class _WeightNorm(nn.Module):
    """Holds `weight_g`/`weight_v` (the checkpoint layout) and, outside training, caches the
    folded weight until either parameter changes (in place, or by being replaced/moved)."""

    weight_g: nn.Parameter
    weight_v: nn.Parameter

    def __init__(self) -> None:
        super().__init__()
        self._cache: tuple[tuple, Tensor] | None = None
        self.folded = False  # see fold()

    def fold(self) -> None:
        """Store the folded weight (computed in float32) in weight_v and use it as is from
        then on, so a later cast to half rounds the final weight once (a half gain over a
        half norm would add a per-channel scale error). Outputs are unchanged; the state
        dict no longer has the checkpoint's meaning."""
        with torch.no_grad():
            w = _weight_norm(self.weight_v.float(), self.weight_g.float())
            self.weight_v = nn.Parameter(w, requires_grad=False)
        self.folded = True
        self._cache = None

    def weight(self) -> Tensor:
        if self.folded:
            return self.weight_v
        if self.training or torch.is_grad_enabled():
            return _weight_norm(self.weight_v, self.weight_g)
        v, g = self.weight_v, self.weight_g
        key = (v.data_ptr(), g.data_ptr(), v._version, g._version, v.dtype, v.device)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, _weight_norm(v, g))
        return self._cache[1]


class WeightNormLinear(_WeightNorm):
    """nn.Linear under weight norm, stored as `weight_g`/`weight_v` like the checkpoints."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.weight_g = nn.Parameter(torch.ones(out_features, 1))
        self.weight_v = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        nn.init.kaiming_uniform_(self.weight_v, a=math.sqrt(5))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight(), self.bias)


class WeightNormConv1d(_WeightNorm):
    """Unpadded nn.Conv1d under weight norm (`weight_g`/`weight_v`); callers pad."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1
    ) -> None:
        super().__init__()
        self.dilation = dilation
        self.kernel_size = kernel_size
        self.weight_g = nn.Parameter(torch.ones(out_channels, 1, 1))
        self.weight_v = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight_v, a=math.sqrt(5))

    def forward(self, x: Tensor) -> Tensor:
        # The cached fold: the WaveNet runs 2 x 25 times per line with the same weights.
        return F.conv1d(x, self.weight(), self.bias, dilation=self.dilation)


def reflect_pad(x: Tensor, left: int, right: int, lengths: Tensor | None = None) -> Tensor:
    """Reflect-pad [B, C, T] in time, each row at its own valid length.

    With `lengths` (< T for padded rows), row b is padded as if it ended at lengths[b]: the
    frames after it get the reflection of its last frames. Its valid outputs then equal those
    of the row computed alone, which is what makes batching rows of different lengths exact.
    Frames further out are filled with clamped garbage that callers mask.
    """
    B, C, T = x.shape
    if lengths is None or bool((lengths >= T).all()):
        return F.pad(x, (left, right), mode="reflect")
    t = torch.arange(-left, T + right, device=x.device)
    idx = t.abs().unsqueeze(0).expand(B, -1)
    end = lengths.to(x.device).long().unsqueeze(1)
    idx = torch.where(idx >= end, 2 * (end - 1) - idx, idx).clamp(0, T - 1)
    return x.gather(2, idx.unsqueeze(1).expand(B, C, -1))
