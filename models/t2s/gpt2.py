"""GPT-2 decoder stack with a preallocated KV cache (gpt-fast style), named so that the
official `gpt.h.N.*` / `gpt.ln_f.*` keys load.

Weights are kept output-major (`nn.Linear`, used through F.linear): the checkpoint stores
GPT-2's Conv1D weights input-major, and loading transposes them (models/t2s/loading.py).
There are no token or position tables here: UnifiedVoice feeds embeddings and its own
learned positions, and GPT-2's `wpe` is replaced by zeros in the official model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.precision import linear

# GPT-2 Conv1D weights in a checkpoint are (in, out); ours are (out, in).
CONV1D_SUFFIXES = (
    "attn.c_attn.weight",
    "attn.c_proj.weight",
    "mlp.c_fc.weight",
    "mlp.c_proj.weight",
)


def is_conv1d_key(key: str) -> bool:
    return key.startswith("gpt.h.") and key.endswith(CONV1D_SUFFIXES)


class KVCache:
    """Per-layer key/value buffers of shape (rows, heads, max_len, head_dim)."""

    def __init__(
        self, layers: int, rows: int, heads: int, max_len: int, head_dim: int, device, dtype
    ) -> None:
        shape = (rows, heads, max_len, head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers)]
        self.max_len = max_len

    def reorder(self, rows: Tensor, start: int, end: int) -> None:
        """Beam search: row i takes the history of row rows[i] over positions [start, end)."""
        for buf in (*self.k, *self.v):
            buf[:, :, start:end] = buf[rows, :, start:end]


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)
        self.narrow_rows: int | None = None  # see models.precision.linear
        self.wide_dtype: torch.dtype | None = None

    def forward(
        self, x: Tensor, mask: Tensor, cache: tuple[Tensor, Tensor] | None, pos: int
    ) -> Tensor:
        """x: (B, S, D) new positions [pos, pos+S); mask: (B, 1, S, pos+S) True = attend."""
        b, s, d = x.shape
        q, k, v = linear(x, self.c_attn, self.narrow_rows, self.wide_dtype).split(d, dim=-1)
        q, k, v = (t.view(b, s, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            ck, cv = cache
            ck[:, :, pos : pos + s] = k
            cv[:, :, pos : pos + s] = v
            k, v = ck[:, :, : pos + s], cv[:, :, : pos + s]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).reshape(b, s, d)
        return linear(y, self.c_proj, self.narrow_rows, self.wide_dtype)


class MLP(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(dim, 4 * dim)
        self.c_proj = nn.Linear(4 * dim, dim)
        self.narrow_rows: int | None = None  # see models.precision.linear
        self.wide_dtype: torch.dtype | None = None

    def forward(self, x: Tensor) -> Tensor:
        # GPT-2's "gelu_new" is the tanh approximation.
        h = F.gelu(linear(x, self.c_fc, self.narrow_rows, self.wide_dtype), approximate="tanh")
        return linear(h, self.c_proj, self.narrow_rows, self.wide_dtype)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, heads)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = MLP(dim)

    def forward(
        self, x: Tensor, mask: Tensor, cache: tuple[Tensor, Tensor] | None, pos: int
    ) -> Tensor:
        x = x + self.attn(self.ln_1(x), mask, cache, pos)
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, dim: int, heads: int, layers: int) -> None:
        super().__init__()
        self.dim, self.heads = dim, heads
        self.h = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(dim, eps=1e-5)

    def new_cache(self, rows: int, max_len: int) -> KVCache:
        p = self.ln_f.weight
        return KVCache(
            len(self.h), rows, self.heads, max_len, self.dim // self.heads, p.device, p.dtype
        )

    def forward(
        self, x: Tensor, mask: Tensor, cache: KVCache | None = None, pos: int = 0
    ) -> Tensor:
        """x: (B, S, D) embeddings at positions [pos, pos+S); returns ln_f(hidden)."""
        for i, block in enumerate(self.h):
            x = block(x, mask, None if cache is None else (cache.k[i], cache.v[i]), pos)
        return self.ln_f(x)


def prefix_mask(valid: Tensor, start: int, length: int) -> Tensor:
    """Causal attention mask for queries [start, start+length) over keys [0, start+length).

    valid: (B, L) bool, False at left-padding positions. A padded query may attend to itself
    only, so no softmax row is empty (its output is never used).
    """
    total = start + length
    q = torch.arange(start, total, device=valid.device)[:, None]
    kpos = torch.arange(total, device=valid.device)[None, :]
    causal = kpos <= q
    m = causal[None] & valid[:, None, :total]
    m = m | (kpos == q)[None]
    return m.unsqueeze(1)
