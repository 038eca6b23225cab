"""Perceiver resampler: a fixed number of learned latents cross-attend to a sequence.

Same maths and parameter names as the official `PerceiverResampler` (latents attend to
[latents; context], GEGLU feed-forward, RMSNorm output). Used with 32 latents for the speaker
and 1 latent for the emotion path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class CrossAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int = 64) -> None:
        super().__init__()
        self.heads = heads
        self.scale = dim_head**-0.5
        inner = dim_head * heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, latents: Tensor, context: Tensor, mask: Tensor | None) -> Tensor:
        b, n, _ = latents.shape
        ctx = torch.cat((latents, context), dim=-2)
        q = self.to_q(latents)
        k, v = self.to_kv(ctx).chunk(2, dim=-1)
        q, k, v = (t.reshape(b, t.shape[1], self.heads, -1).transpose(1, 2) for t in (q, k, v))
        sim = (q @ k.transpose(-2, -1)) * self.scale
        if mask is not None:
            sim = sim.masked_fill(~mask[:, None, None, :], -torch.finfo(sim.dtype).max)
        out = sim.softmax(dim=-1) @ v
        return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


class GEGLU(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        x, gate = x.chunk(2, dim=-1)
        return F.gelu(gate) * x


class RMSNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=-1) * self.scale * self.gamma


def feed_forward(dim: int, mult: float) -> nn.Sequential:
    inner = int(dim * mult * 2 / 3)
    return nn.Sequential(nn.Linear(dim, inner * 2), GEGLU(), nn.Linear(inner, dim))


class PerceiverResampler(nn.Module):
    def __init__(
        self,
        dim: int,
        dim_context: int,
        num_latents: int,
        heads: int,
        ff_mult: float,
        depth: int = 2,
    ) -> None:
        super().__init__()
        self.proj_context = nn.Linear(dim_context, dim) if dim_context != dim else nn.Identity()
        self.latents = nn.Parameter(torch.zeros(num_latents, dim))
        self.layers = nn.ModuleList(
            nn.ModuleList([CrossAttention(dim, heads), feed_forward(dim, ff_mult)])
            for _ in range(depth)
        )
        self.norm = RMSNorm(dim)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x: (B, T, dim_context); mask: (B, num_latents + T) key mask, True = attend."""
        x = self.proj_context(x)
        latents = self.latents.unsqueeze(0).expand(x.shape[0], -1, -1)
        for attn, ff in self.layers:
            latents = attn(latents, x, mask) + latents
            latents = ff(latents) + latents
        return self.norm(latents)
