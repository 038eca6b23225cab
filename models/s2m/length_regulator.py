"""The length regulator: semantic features [N, H] -> S2M condition [F, C] at the mel rate.

content_in_proj, nearest-neighbour interpolation to F frames, then a conv stack
(Conv1d k3 -> GroupNorm(1) -> Mish per sampling ratio, then a 1x1 conv). GroupNorm(1)
normalises over the whole sequence and the convs see their neighbours, so each row is
regulated on its own: a padded batch would change the statistics. `embedding` and
`mask_token` are unused at inference but belong to the checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.s2m.config import LengthRegulatorConfig


def official_target_frames(code_len: int) -> int:
    """infer_v2's target length for `code_len` semantic codes: (code_lens * 1.72).long().

    The product is taken in float32 as torch does it (int64 tensor * python float), which
    differs from float64 at exact multiples (25 codes -> 43 frames, not 42).
    """
    return int((torch.tensor([code_len], dtype=torch.int64) * 1.72).long()[0])


class LengthRegulator(nn.Module):
    def __init__(self, cfg: LengthRegulatorConfig) -> None:
        super().__init__()
        ch = cfg.channels
        layers: list[nn.Module] = []
        for _ in cfg.sampling_ratios:
            layers += [nn.Conv1d(ch, ch, 3, 1, 1), nn.GroupNorm(1, ch), nn.Mish()]
        layers.append(nn.Conv1d(ch, ch, 1, 1))
        self.model = nn.Sequential(*layers)
        self.interpolate = len(cfg.sampling_ratios) > 0
        self.embedding = nn.Embedding(cfg.content_codebook_size, ch)  # unused (discrete mode)
        self.mask_token = nn.Parameter(torch.zeros(1, ch))  # unused
        self.content_in_proj = nn.Linear(cfg.in_channels, ch)

    @property
    def channels(self) -> int:
        return self.content_in_proj.out_features

    def regulate_one(self, s: Tensor, frames: int) -> Tensor:
        """s [N, H] -> [frames, C]."""
        x = self.content_in_proj(s.unsqueeze(0)).transpose(1, 2).contiguous()
        if self.interpolate:
            x = F.interpolate(x, size=frames, mode="nearest")
        elif x.size(2) < frames:
            raise ValueError("without interpolation the regulator cannot lengthen its input")
        else:
            x = x[:, :, :frames]
        return self.model(x).transpose(1, 2)[0]

    def forward(
        self, s: Tensor, ylens: Sequence[int] | Tensor, slens: Sequence[int] | Tensor | None = None
    ) -> Tensor:
        """s [B, N, H] (rows valid up to slens[b], default N) -> [B, max(ylens), C], zero
        beyond each row's ylens[b]."""
        ylens = [int(v) for v in ylens]
        slens = [s.size(1)] * s.size(0) if slens is None else [int(v) for v in slens]
        if len(ylens) != s.size(0) or len(slens) != s.size(0):
            raise ValueError("one target length (and input length) per row is needed")
        out = s.new_zeros(s.size(0), max(ylens), self.channels)
        for b, (n, f) in enumerate(zip(slens, ylens, strict=True)):
            if f > 0:
                out[b, :f] = self.regulate_one(s[b, :n], f)
        return out
