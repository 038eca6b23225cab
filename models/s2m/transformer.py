"""The DiT's transformer: gpt-fast style blocks with adaptive RMSNorm, rotary attention and
U-ViT skip connections (the first depth//2 layers emit, the layers after the middle one
receive, last in first out). Non-causal; keys beyond each row's length are masked."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _find_multiple(n: int, k: int) -> int:
    return n if n % k == 0 else n + k - (n % k)


def feed_forward_width(dim: int) -> int:
    """gpt-fast's SwiGLU width: 2/3 of 4*dim, rounded up to a multiple of 256."""
    return _find_multiple(int(2 * 4 * dim / 3), 256)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()
        out = xf * torch.rsqrt(torch.mean(xf * xf, dim=-1, keepdim=True) + self.eps)
        return out.type_as(x) * self.weight


class AdaptiveRMSNorm(nn.Module):
    """RMSNorm whose gain and bias are projected from the time embedding."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.dim = dim
        self.project_layer = nn.Linear(dim, 2 * dim)
        self.norm = RMSNorm(dim, eps)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        weight, bias = torch.split(self.project_layer(c), self.dim, dim=-1)
        return weight * self.norm(x) + bias


def rotary_table(seq_len: int, head_dim: int, base: float = 10000.0) -> Tensor:
    """[seq_len, head_dim//2, 2] (cos, sin) for interleaved-pair rotary embeddings."""
    freqs = 1.0 / (base ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
    angles = torch.outer(torch.arange(seq_len), freqs)
    cis = torch.polar(torch.ones_like(angles), angles)
    return torch.stack([cis.real, cis.imag], dim=-1)


def apply_rotary(x: Tensor, table: Tensor) -> Tensor:
    """x [B, T, H, D] rotated by table [T, D//2, 2] (pairs are adjacent channels)."""
    xs = x.float().reshape(*x.shape[:-1], -1, 2)
    rot = table.view(1, xs.size(1), 1, xs.size(3), 2)
    out = torch.stack(
        [
            xs[..., 0] * rot[..., 0] - xs[..., 1] * rot[..., 1],
            xs[..., 1] * rot[..., 0] + xs[..., 0] * rot[..., 1],
        ],
        -1,
    )
    return out.flatten(3).type_as(x)


class Attention(nn.Module):
    def __init__(self, dim: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.head_dim = dim // n_head
        self.wqkv = nn.Linear(dim, 3 * n_head * self.head_dim, bias=False)
        self.wo = nn.Linear(n_head * self.head_dim, dim, bias=False)

    def forward(self, x: Tensor, rotary: Tensor, mask: Tensor | None) -> Tensor:
        B, T, _ = x.shape
        q, k, v = self.wqkv(x).split(self.n_head * self.head_dim, dim=-1)
        q = apply_rotary(q.view(B, T, self.n_head, self.head_dim), rotary)
        k = apply_rotary(k.view(B, T, self.n_head, self.head_dim), rotary)
        v = v.view(B, T, self.n_head, self.head_dim)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0)
        return self.wo(y.transpose(1, 2).contiguous().view(B, T, -1))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, n_head: int, uvit_skip: bool) -> None:
        super().__init__()
        self.attention = Attention(dim, n_head)
        self.feed_forward = FeedForward(dim, feed_forward_width(dim))
        self.ffn_norm = AdaptiveRMSNorm(dim)
        self.attention_norm = AdaptiveRMSNorm(dim)
        # Every block carries skip_in_linear (it is in the checkpoint); only receivers use it.
        self.skip_in_linear = nn.Linear(2 * dim, dim) if uvit_skip else None

    def forward(
        self, x: Tensor, c: Tensor, rotary: Tensor, mask: Tensor | None, skip: Tensor | None
    ) -> Tensor:
        if skip is not None and self.skip_in_linear is not None:
            x = self.skip_in_linear(torch.cat([x, skip], dim=-1))
        h = x + self.attention(self.attention_norm(x, c), rotary, mask)
        return h + self.feed_forward(self.ffn_norm(h, c))


class Transformer(nn.Module):
    def __init__(self, dim: int, n_head: int, depth: int, uvit_skip: bool, block_size: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TransformerBlock(dim, n_head, uvit_skip) for _ in range(depth))
        self.norm = AdaptiveRMSNorm(dim)
        self.uvit_skip = uvit_skip
        self.emit = {i for i in range(depth) if i < depth // 2} if uvit_skip else set()
        self.receive = {i for i in range(depth) if i > depth // 2} if uvit_skip else set()
        self.head_dim = dim // n_head
        self.block_size = block_size
        # Not a state-dict entry (the official model builds it in setup_caches). Built lazily
        # on the input's device so the model can be created on the meta device and assigned.
        self._rotary: Tensor | None = None

    def rotary_for(self, device: torch.device) -> Tensor:
        if self._rotary is None or self._rotary.device != device:
            self._rotary = rotary_table(self.block_size, self.head_dim).to(device)
        return self._rotary

    def forward(self, x: Tensor, c: Tensor, input_pos: Tensor, mask: Tensor | None) -> Tensor:
        if x.size(1) > self.block_size:
            raise ValueError(f"S2M sequence of {x.size(1)} frames exceeds {self.block_size}")
        rotary = self.rotary_for(x.device)[input_pos]
        skips: list[Tensor] = []
        for i, layer in enumerate(self.layers):
            skip = skips.pop() if i in self.receive else None
            x = layer(x, c, rotary, mask, skip)
            if i in self.emit:
                skips.append(x)
        return self.norm(x, c)
