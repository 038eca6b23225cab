"""S2M: IndexTTS2's semantic-to-mel model (length regulator, GPT-latent projection, CFM/DiT).

API used by the engine (all tensors on the model's device):

    s2m = S2M.load(Path(".../s2mel.pth"), cfg, device="cpu")   # cfg: S2MConfig, dict or yaml
    gpt = s2m.gpt_latent_to_cond(latent)            # [B,N,D_gpt] -> [B,N,H]; add vq2emb(codes)
    prompt_cond = s2m.regulate(S_ref, [ref_frames])  # [B,N,H] -> [B,F,C] (zero past each F_b)
    target_cond = s2m.regulate(S_infer, [F])         # F = official_target_frames(n) or exact F
    mels = s2m.synthesize(prompt_cond, prompt_mel, style, target_cond, target_frames=[F],
                          steps=25, cfg_rate=0.7, noise=None, generator=gen)
    # -> list of [80, F_b] float32 log-mels (prompt frames removed), ready for the vocoder

`synthesize` takes either batched tensors (all rows sharing one prompt length) or per-row
sequences, so lines of different lengths with different prompts share one batch. Noise is
drawn per row as torch.randn([1, 80, P_b + F_b], generator=generator) in row order (what the
official code draws for that row alone), or injected with `noise` for reproducible runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from models.s2m.cfm import CFM
from models.s2m.config import S2MConfig
from models.s2m.length_regulator import LengthRegulator
from models.s2m.loading import load_s2m

RowsLike = Tensor | Sequence[Tensor]


class S2M(nn.Module):
    def __init__(self, cfg: S2MConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.cfm = CFM(cfg)
        self.length_regulator = LengthRegulator(cfg.length_regulator)
        d_in, d1, d2, d_out = cfg.gpt_layer_dims
        self.gpt_layer = nn.Sequential(nn.Linear(d_in, d1), nn.Linear(d1, d2), nn.Linear(d2, d_out))

    @classmethod
    def load(
        cls,
        s2mel_pth: Path,
        cfg: S2MConfig | Mapping[str, Any] | Path,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> S2M:
        """Strictly load an official s2mel.pth; widths of gpt_layer and the regulator input
        come from the checkpoint's tensor shapes."""
        return load_s2m(Path(s2mel_pth), cfg, device=device, dtype=dtype, model_type=cls)

    @property
    def device(self) -> torch.device:
        return self.gpt_layer[0].weight.device

    def store_estimator(self, dtype: torch.dtype) -> None:
        """Keep the flow model's estimator (DiT + WaveNet, 25 steps x 2 passes per line) in
        `dtype`, once, in place. Weight-norm weights are folded in float32 first, so the
        half weights are the rounded fp32 ones. The Euler loop, the length regulator and
        gpt_layer stay float32 (cfm.sample casts at the estimator's door)."""
        self.cfm.estimator.fold_weight_norms()
        self.cfm.estimator.to(dtype)

    @torch.inference_mode()
    def gpt_latent_to_cond(self, latent: Tensor) -> Tensor:
        """gpt_layer: GPT latent [B, N, D_gpt] -> [B, N, H_codec] (added to vq2emb(codes))."""
        return self.gpt_layer(latent.to(self.gpt_layer[0].weight.dtype))

    @torch.inference_mode()
    def regulate(
        self, s: Tensor, ylens: Sequence[int] | Tensor, slens: Sequence[int] | Tensor | None = None
    ) -> Tensor:
        """Length regulator: [B, N, H] semantic features -> [B, max(ylens), C] condition,
        zero past each row's ylens[b]; rows are valid up to slens[b] (default N)."""
        w = self.length_regulator.content_in_proj.weight
        return self.length_regulator(s.to(w.dtype), ylens, slens)

    @torch.inference_mode()
    def synthesize(
        self,
        prompt_cond: RowsLike,
        prompt_mel: RowsLike,
        style: RowsLike,
        target_cond: RowsLike,
        target_frames: Sequence[int] | None = None,
        steps: int = 25,
        cfg_rate: float = 0.7,
        noise: RowsLike | None = None,
        generator: torch.Generator | None = None,
    ) -> list[Tensor]:
        """Generate the target mels of a batch of lines.

        prompt_cond [B,P,C] or B x [P_b,C]; prompt_mel [B,80,P] or B x [80,P_b] (the prompt
        condition and mel must have the same frame count); style [B,S] or B x [S];
        target_cond [B,F,C] or B x [F_b,C]; target_frames F_b (default: each row's length);
        noise [B,80,T>=P_b+F_b] or B x [80,P_b+F_b] (optional). Returns B x [80, F_b].
        """
        device = self.device
        p_cond = _rows(prompt_cond, 2, "prompt_cond")
        p_mel = _rows(prompt_mel, 2, "prompt_mel")
        styles = [s.reshape(-1) for s in _rows(style, 1, "style")]
        t_cond = _rows(target_cond, 2, "target_cond")
        n = len(t_cond)
        if not (len(p_cond) == len(p_mel) == len(styles) == n):
            raise ValueError("prompt_cond, prompt_mel, style and target_cond differ in batch size")
        frames = (
            [t.size(0) for t in t_cond]
            if target_frames is None
            else [int(f) for f in target_frames]
        )
        if len(frames) != n:
            raise ValueError("one target frame count per row is needed")
        plens = []
        for b in range(n):
            if p_cond[b].size(0) != p_mel[b].size(-1):
                raise ValueError(
                    f"row {b}: prompt condition has {p_cond[b].size(0)} frames, prompt mel {p_mel[b].size(-1)}"
                )
            if frames[b] > t_cond[b].size(0) or frames[b] < 1:
                raise ValueError(
                    f"row {b}: {frames[b]} target frames, condition has {t_cond[b].size(0)}"
                )
            plens.append(p_cond[b].size(0))
        totals = [p + f for p, f in zip(plens, frames, strict=True)]
        T = max(totals)
        if T > self.cfg.dit.block_size:
            raise ValueError(f"prompt + line of {T} mel frames exceeds {self.cfg.dit.block_size}")

        c = self.length_regulator.channels
        mu = torch.zeros(n, T, c, device=device)
        prompt = torch.zeros(n, self.cfg.dit.in_channels, T, device=device)
        for b in range(n):
            mu[b, : plens[b]] = p_cond[b].to(device).float()
            mu[b, plens[b] : totals[b]] = t_cond[b][: frames[b]].to(device).float()
            prompt[b, :, : plens[b]] = p_mel[b].to(device).float()
        style_t = torch.stack([s.to(device).float() for s in styles])
        z = self._noise(noise, totals, T, generator)
        x = self.cfm.sample(
            mu,
            torch.tensor(totals, device=device),
            prompt,
            torch.tensor(plens, device=device),
            style_t,
            z,
            steps=steps,
            cfg_rate=cfg_rate,
        )
        return [x[b, :, plens[b] : totals[b]].clone() for b in range(n)]

    def _noise(
        self, noise: RowsLike | None, totals: list[int], T: int, generator: torch.Generator | None
    ) -> Tensor:
        mels = self.cfg.dit.in_channels
        z = torch.zeros(len(totals), mels, T, device=self.device)
        if noise is None:
            gen_device = generator.device if generator is not None else self.device
            for b, L in enumerate(totals):
                z[b, :, :L] = torch.randn([1, mels, L], generator=generator, device=gen_device)[0]
            return z
        rows = _rows(noise, 2, "noise")
        if len(rows) != len(totals):
            raise ValueError("one noise tensor per row is needed")
        for b, L in enumerate(totals):
            if rows[b].size(-1) < L or rows[b].size(0) != mels:
                raise ValueError(
                    f"row {b}: noise {tuple(rows[b].shape)} is smaller than [{mels}, {L}]"
                )
            z[b, :, :L] = rows[b][:, :L].to(self.device).float()
        return z


def _rows(x: RowsLike, row_dim: int, name: str) -> list[Tensor]:
    """Batched tensor or sequence of per-row tensors -> list of per-row tensors of `row_dim`
    dimensions (a leading singleton batch dimension on a row is dropped)."""
    if isinstance(x, Tensor):
        if x.dim() == row_dim + 1:
            return list(x.unbind(0))
        if x.dim() == row_dim and row_dim == 1:
            return [x]
        raise ValueError(f"{name}: expected a [{row_dim + 1}-d] batch, got shape {tuple(x.shape)}")
    out = []
    for r in x:
        if r.dim() == row_dim + 1 and r.size(0) == 1:
            r = r[0]
        if r.dim() != row_dim:
            raise ValueError(f"{name}: expected rows of {row_dim} dims, got shape {tuple(r.shape)}")
        out.append(r)
    return out
