"""Conformer encoder with conv2d2 subsampling: the conditioning encoder of IndexTTS2's T2S.

Mirrors the WeNet-derived `ConformerEncoder` that UnifiedVoice uses (rel-pos attention without
the relative shift, conv module with GLU and LayerNorm, SiLU everywhere, pre-norm blocks with a
final norm). Parameter names match the official state dict (`embed.conv.0`, `encoders.N.*`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sinusoid_table(length: int, dim: int) -> Tensor:
    """The absolute sinusoid table the official RelPositionalEncoding stores as `pe`."""
    pe = torch.zeros(length, dim)
    position = torch.arange(0, length).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2) * -(math.log(10000.0) / dim))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe.unsqueeze(0)


class PositionalEncoding(nn.Module):
    def __init__(self, dim: int, max_len: int = 5000) -> None:
        super().__init__()
        self.xscale = math.sqrt(dim)
        # Persistent: the official checkpoint carries it (`embed.pos_enc.pe`).
        self.register_buffer("pe", sinusoid_table(max_len, dim))


class Conv2dSubsampling2(nn.Module):
    """Halves the time axis: Conv2d(1, D, 3, stride 2) + ReLU, then Linear(D * F', D)."""

    def __init__(self, input_size: int, dim: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, dim, 3, 2), nn.ReLU())
        self.out = nn.Sequential(nn.Linear(dim * ((input_size - 1) // 2), dim))
        self.pos_enc = PositionalEncoding(dim)
        self.freq_out = (input_size - 1) // 2

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if (x.shape[-1] - 1) // 2 != self.freq_out:
            raise ValueError(
                f"conditioning features are {x.shape[-1]} wide; this checkpoint expects "
                f"{2 * self.freq_out + 1} or {2 * self.freq_out + 2}"
            )
        x = self.conv(x.unsqueeze(1))
        b, c, t, f = x.shape
        x = self.out(x.transpose(1, 2).reshape(b, t, c * f))
        pos = self.pos_enc.pe[:, :t]
        return x * self.pos_enc.xscale, pos, mask[:, :, 2::2]


class RelPositionAttention(nn.Module):
    def __init__(self, heads: int, dim: int) -> None:
        super().__init__()
        self.h = heads
        self.d_k = dim // heads
        self.linear_q = nn.Linear(dim, dim)
        self.linear_k = nn.Linear(dim, dim)
        self.linear_v = nn.Linear(dim, dim)
        self.linear_out = nn.Linear(dim, dim)
        self.linear_pos = nn.Linear(dim, dim, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(heads, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(heads, self.d_k))

    def forward(self, x: Tensor, mask: Tensor, pos: Tensor) -> Tensor:
        b, t, _ = x.shape
        q = self.linear_q(x).view(b, t, self.h, self.d_k)
        k = self.linear_k(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        p = self.linear_pos(pos).view(pos.shape[0], -1, self.h, self.d_k).transpose(1, 2)
        q_u = (q + self.pos_bias_u).transpose(1, 2)
        q_v = (q + self.pos_bias_v).transpose(1, 2)
        # The official layer defines rel_shift but never applies it: keep it that way.
        scores = (q_u @ k.transpose(-2, -1) + q_v @ p.transpose(-2, -1)) / math.sqrt(self.d_k)
        pad = ~mask.unsqueeze(1)  # (b, 1, 1, t)
        attn = torch.softmax(scores.masked_fill(pad, -float("inf")), dim=-1).masked_fill(pad, 0.0)
        out = (attn @ v).transpose(1, 2).reshape(b, t, self.h * self.d_k)
        return self.linear_out(out)


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w_1 = nn.Linear(dim, hidden)
        self.w_2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.w_2(F.silu(self.w_1(x)))


class ConvModule(nn.Module):
    def __init__(self, dim: int, kernel: int = 15) -> None:
        super().__init__()
        self.pointwise_conv1 = nn.Conv1d(dim, 2 * dim, 1)
        self.depthwise_conv = nn.Conv1d(dim, dim, kernel, padding=(kernel - 1) // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.pointwise_conv2 = nn.Conv1d(dim, dim, 1)

    def forward(self, x: Tensor, mask_pad: Tensor) -> Tensor:
        x = x.transpose(1, 2).masked_fill(~mask_pad, 0.0)
        x = F.glu(self.pointwise_conv1(x), dim=1)
        x = self.depthwise_conv(x)
        x = F.silu(self.norm(x.transpose(1, 2))).transpose(1, 2)
        x = self.pointwise_conv2(x).masked_fill(~mask_pad, 0.0)
        return x.transpose(1, 2)


class ConformerLayer(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.self_attn = RelPositionAttention(heads, dim)
        self.feed_forward = FeedForward(dim, hidden)
        self.conv_module = ConvModule(dim)
        self.norm_ff = nn.LayerNorm(dim, eps=1e-5)
        self.norm_mha = nn.LayerNorm(dim, eps=1e-5)
        self.norm_conv = nn.LayerNorm(dim, eps=1e-5)
        self.norm_final = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x: Tensor, mask: Tensor, pos: Tensor) -> Tensor:
        x = x + self.self_attn(self.norm_mha(x), mask, pos)
        x = x + self.conv_module(self.norm_conv(x), mask)
        x = x + self.feed_forward(self.norm_ff(x))
        return self.norm_final(x)


class ConformerEncoder(nn.Module):
    """(B, T, C) features -> (B, T', D) with T' = (T - 1) // 2, plus the (B, 1, T') valid mask."""

    def __init__(
        self, input_size: int, output_size: int, linear_units: int, heads: int, blocks: int
    ) -> None:
        super().__init__()
        self.embed = Conv2dSubsampling2(input_size, output_size)
        self.encoders = nn.ModuleList(
            ConformerLayer(output_size, heads, linear_units) for _ in range(blocks)
        )
        self.after_norm = nn.LayerNorm(output_size, eps=1e-5)

    def forward(self, xs: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        b, t, _ = xs.shape
        if lengths is None:
            mask = torch.ones(b, 1, t, dtype=torch.bool, device=xs.device)
        else:
            mask = (
                torch.arange(t, device=xs.device)[None, :] < lengths.to(xs.device)[:, None]
            ).unsqueeze(1)
        x, pos, mask = self.embed(xs, mask)
        for layer in self.encoders:
            x = layer(x, mask, pos)
        return self.after_norm(x), mask
