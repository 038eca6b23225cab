"""The S2M estimator: IndexTTS2's DiT (diffusion transformer) with every option its config
turns on: style condition (CAMPPlus vector concatenated to every frame), U-ViT skips, the long
skip from the noisy input, and a WaveNet final layer modulated by a second time embedding.

forward(x [B,80,T], prompt_x [B,80,T], x_lens [B] or [1], t [B], style [B,192], cond [B,T,C])
-> velocity [B,80,T]. Frames at or beyond x_lens[b] are padding: they are masked out of the
attention keys and reflect-padded per row in the WaveNet, so each row's valid frames are what
the row alone would give; the padding frames of the output are meaningless.

Unused modules of the official graph (x_embedder, cond_embedder, content_mask_embedder) are
kept so the checkpoint loads strictly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from models.s2m.config import S2MConfig
from models.s2m.layers import WeightNormLinear, _WeightNorm, sequence_mask
from models.s2m.transformer import Transformer
from models.s2m.wavenet import WaveNet


class TimestepEmbedder(nn.Module):
    """Sinusoidal embedding of t (scaled by 1000; cos then sin) followed by an MLP."""

    def __init__(self, hidden: int, freq_dim: int = 256) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.freq_dim = freq_dim
        half = freq_dim // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs)

    def forward(self, t: Tensor) -> Tensor:
        args = 1000 * t[:, None].float() * self.freqs[None].float()
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if self.freq_dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return self.mlp(emb.to(self.mlp[0].weight.dtype))


class FinalLayer(nn.Module):
    def __init__(self, hidden: int, out: int) -> None:
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.linear = WeightNormLinear(hidden, out)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        x = self.norm_final(x) * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)
        return self.linear(x)


class DiT(nn.Module):
    def __init__(self, cfg: S2MConfig) -> None:
        super().__init__()
        d, wn = cfg.dit, cfg.wavenet
        self.in_channels = d.in_channels
        self.long_skip = d.long_skip_connection
        self.transformer = Transformer(
            d.hidden_dim, d.num_heads, d.depth, d.uvit_skip_connection, d.block_size
        )
        self.x_embedder = WeightNormLinear(d.in_channels, d.hidden_dim)  # unused, in checkpoint
        self.cond_embedder = nn.Embedding(d.content_codebook_size, d.hidden_dim)  # unused
        self.cond_projection = nn.Linear(d.content_dim, d.hidden_dim)
        self.t_embedder = TimestepEmbedder(d.hidden_dim)
        self.register_buffer("input_pos", torch.arange(d.block_size))
        self.t_embedder2 = TimestepEmbedder(wn.hidden_dim)
        self.conv1 = nn.Linear(d.hidden_dim, wn.hidden_dim)
        self.conv2 = nn.Conv1d(wn.hidden_dim, d.in_channels, 1)
        self.wavenet = WaveNet(
            wn.hidden_dim, wn.kernel_size, wn.dilation_rate, wn.num_layers, gin=wn.hidden_dim
        )
        self.final_layer = FinalLayer(wn.hidden_dim, wn.hidden_dim)
        self.res_projection = nn.Linear(d.hidden_dim, wn.hidden_dim)
        self.content_mask_embedder = nn.Embedding(1, d.hidden_dim)  # unused
        self.skip_linear = nn.Linear(d.hidden_dim + d.in_channels, d.hidden_dim)
        self.cond_x_merge_linear = nn.Linear(
            d.hidden_dim + 2 * d.in_channels + cfg.style_dim, d.hidden_dim
        )

    @property
    def dtype(self) -> torch.dtype:
        return self.cond_projection.weight.dtype

    def fold_weight_norms(self) -> None:
        """Fold every weight-norm layer (see _WeightNorm.fold): before a cast to half."""
        for module in self.modules():
            if isinstance(module, _WeightNorm):
                module.fold()

    def forward(
        self, x: Tensor, prompt_x: Tensor, x_lens: Tensor, t: Tensor, style: Tensor, cond: Tensor
    ) -> Tensor:
        B, _, T = x.shape
        t1 = self.t_embedder(t)
        cond = self.cond_projection(cond)
        x = x.transpose(1, 2)
        x_in = torch.cat(
            [x, prompt_x.transpose(1, 2), cond, style[:, None, :].expand(-1, T, -1)], dim=-1
        )
        x_in = self.cond_x_merge_linear(x_in)

        lens = x_lens.to(x.device).long().expand(B) if x_lens.numel() == 1 else x_lens.long()
        x_mask = sequence_mask(lens.to(x.device), T).unsqueeze(1)  # [B, 1, T]
        padded = bool((lens < T).any())
        # Key mask only when some row is padded: an all-true mask changes nothing but the kernel.
        attn_mask = x_mask.unsqueeze(1) if padded else None  # [B, 1, 1, T]
        x_res = self.transformer(x_in, t1.unsqueeze(1), self.input_pos[:T], attn_mask)
        if self.long_skip:
            x_res = self.skip_linear(torch.cat([x_res, x], dim=-1))

        h = self.conv1(x_res).transpose(1, 2)
        t2 = self.t_embedder2(t)
        mask = x_mask.to(h.dtype)
        h = self.wavenet(h, mask, t2.unsqueeze(2), lens if padded else None).transpose(1, 2)
        h = h + self.res_projection(x_res)
        h = self.final_layer(h, t1).transpose(1, 2)
        return self.conv2(h)
