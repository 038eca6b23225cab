"""Conditional flow matching: the Euler sampler of IndexTTS2's S2M, batched.

Rows are laid out [prompt_b | target_b | padding] with their own prompt length P_b and total
length L_b = P_b + F_b. As in the official `CFM.solve_euler`:
- the prompt mel goes into `prompt_x` (zero elsewhere) and the prompt frames of x are zeroed
  before the loop and after every step, so the returned x has zero prompt frames;
- t runs over linspace(0, 1, steps + 1) and is accumulated in float32 (t = t + dt);
- with cfg_rate > 0 the estimator runs once on a doubled batch, [x, x], [prompt_x, 0],
  [style, 0], [mu, 0], and v = (1 + r) * v_cond - r * v_uncond.
Padding frames (>= L_b) are masked in the estimator and kept at zero here.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from models.s2m.config import S2MConfig
from models.s2m.dit import DiT


class CFM(nn.Module):
    def __init__(self, cfg: S2MConfig) -> None:
        super().__init__()
        self.in_channels = cfg.dit.in_channels
        self.estimator = DiT(cfg)

    @torch.inference_mode()
    def sample(
        self,
        mu: Tensor,
        x_lens: Tensor,
        prompt: Tensor,
        prompt_lens: Tensor,
        style: Tensor,
        noise: Tensor,
        steps: int = 25,
        cfg_rate: float = 0.7,
    ) -> Tensor:
        """Integrate from noise to mel.

        mu [B, T, C] condition, x_lens [B] valid lengths, prompt [B, 80, >=P] prompt mels
        (row b valid up to prompt_lens[b]), style [B, S], noise [B, 80, T] (the official
        `torch.randn(...) * temperature`). Returns x [B, 80, T] in float32.
        """
        if steps < 1:
            raise ValueError("steps must be >= 1")
        B, T = mu.size(0), mu.size(1)
        device = mu.device
        dtype = self.estimator.dtype
        frames = torch.arange(T, device=device)
        prompt_lens = prompt_lens.to(device).long()
        x_lens = x_lens.to(device).long()
        in_prompt = frames[None, :] < prompt_lens[:, None]  # [B, T]
        # Frames we generate: after the prompt, before the padding.
        keep = ((~in_prompt) & (frames[None, :] < x_lens[:, None])).unsqueeze(1)

        prompt_x = torch.zeros(B, self.in_channels, T, device=device, dtype=torch.float32)
        width = min(prompt.size(-1), T)
        prompt_x[..., :width] = prompt[..., :width].float()
        prompt_x = prompt_x.masked_fill(~in_prompt.unsqueeze(1), 0.0)
        x = noise.to(device=device, dtype=torch.float32).masked_fill(~keep, 0.0)

        if cfg_rate > 0:
            est_prompt = torch.cat([prompt_x, torch.zeros_like(prompt_x)]).to(dtype)
            est_style = torch.cat([style, torch.zeros_like(style)]).to(dtype)
            est_mu = torch.cat([mu, torch.zeros_like(mu)]).to(dtype)
            est_lens = torch.cat([x_lens, x_lens])
        else:
            est_prompt, est_style, est_mu, est_lens = (
                prompt_x.to(dtype),
                style.to(dtype),
                mu.to(dtype),
                x_lens,
            )

        t_span = torch.linspace(0, 1, steps + 1, device=device)
        t = t_span[0]
        for step in range(1, steps + 1):
            dt = t_span[step] - t_span[step - 1]
            if cfg_rate > 0:
                v = self.estimator(
                    torch.cat([x, x]).to(dtype),
                    est_prompt,
                    est_lens,
                    t.expand(2 * B),
                    est_style,
                    est_mu,
                ).float()
                v_cond, v_uncond = v.chunk(2, dim=0)
                v = (1.0 + cfg_rate) * v_cond - cfg_rate * v_uncond
            else:
                v = self.estimator(
                    x.to(dtype), est_prompt, est_lens, t.expand(B), est_style, est_mu
                ).float()
            x = x + dt * v
            t = t + dt
            x = x.masked_fill(~keep, 0.0)
        return x
