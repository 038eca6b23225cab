"""BigVGAN vocoder (NVIDIA's bigvgan package): log-mel [80, F] -> 22050 Hz audio [F * 256].

    voc = Vocoder.load(Path(".../hf_cache/bigvgan"), device="cpu", use_cuda_kernel=False)
    waves = voc([mel_a, mel_b])   # list of float32 numpy arrays, len(waves[i]) == F_i * 256

The model is built from the folder's config.json and the 'generator' entry of
bigvgan_generator.pt (read with torch.load(weights_only=True); the package's from_pretrained
goes through huggingface_hub, which we never touch at run time). Weight norm is removed and
the model put in eval mode, as IndexTTS2 does. With use_tanh_at_final=false the package
clamps its output to [-1, 1]; the official pipeline relies on that.

Batches: mels of different lengths are right-padded with the log-mel floor log(1e-5)
(digital silence in this front-end) and each output is cut to its own F * 256 samples. The
generator's receptive field reaches some frames into that padding, so by default
(`exact_tails=True`) the last `margin` frames of every padded row are vocoded again from a
window of 2 * margin frames ending at the row's end (those windows share one batch) and
spliced in: every row then equals the same mel vocoded alone, for about 2 * margin extra
frames per shorter row. `margin` is a bound on the generator's right-hand reach computed
from its config (29 frames for the tiny test model, 60 for the released one).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from models.layout import read_json, read_torch

log = logging.getLogger(__name__)

MEL_FLOOR = math.log(1e-5)  # log(clamp(x, 1e-5)) of silence


def _quiet():
    """The package prints and warns (deprecated weight_norm) while building and unloading."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore", FutureWarning)
    warnings.simplefilter("ignore", UserWarning)
    return stack


class Vocoder:
    def __init__(
        self,
        model: torch.nn.Module,
        hop: int,
        sampling_rate: int,
        device: torch.device,
        margin: int,
        exact_tails: bool = True,
    ) -> None:
        self.model = model
        self.hop = hop
        self.sampling_rate = sampling_rate
        self.device = device
        self.margin = margin
        self.exact_tails = exact_tails

    @classmethod
    def load(
        cls, bigvgan_dir: Path, device: str | torch.device = "cpu", use_cuda_kernel: bool = False
    ) -> Vocoder:
        from bigvgan import BigVGAN
        from bigvgan.env import AttrDict

        bigvgan_dir = Path(bigvgan_dir)
        device = torch.device(device)
        h = AttrDict(read_json(bigvgan_dir / "config.json"))
        state = read_torch(bigvgan_dir / "bigvgan_generator.pt")
        state = state["generator"] if "generator" in state else state

        want_kernel = bool(use_cuda_kernel) and device.type == "cuda"
        if use_cuda_kernel and not want_kernel:
            log.info("BigVGAN CUDA kernel requested on %s: using the torch activation", device)
        model = None
        if want_kernel:
            try:  # the kernel is compiled on first use (needs nvcc + ninja); fall back if not
                with _quiet():
                    model = _build(BigVGAN, h, state, use_cuda_kernel=True)
            except Exception as exc:
                log.warning("BigVGAN CUDA kernel unavailable (%s); using the torch activation", exc)
                model = None
        if model is None:
            with _quiet():
                model = _build(BigVGAN, h, state, use_cuda_kernel=False)
        model = model.to(device).eval()
        return cls(
            model,
            hop=int(h["hop_size"]),
            sampling_rate=int(h["sampling_rate"]),
            device=device,
            margin=right_reach_frames(h),
        )

    @torch.inference_mode()
    def __call__(self, mels: Sequence[Tensor]) -> list[np.ndarray]:
        """Vocode a batch of log-mels [80, F_i] (or [1, 80, F_i]) -> float32 [F_i * 256]."""
        if len(mels) == 0:
            return []
        rows = [(m[0] if m.dim() == 3 else m).to(self.device, torch.float32) for m in mels]
        frames = [int(m.size(-1)) for m in rows]
        longest = max(frames)
        out = self._run(rows)
        waves = [out[b, : f * self.hop].copy() for b, f in enumerate(frames)]
        if not self.exact_tails:
            return waves
        m = self.margin
        short = [b for b, f in enumerate(frames) if f < longest]
        # Rows too short for a window are redone whole, grouped by length (no padding).
        by_len: dict[int, list[int]] = {}
        for b in short:
            if frames[b] <= 2 * m:
                by_len.setdefault(frames[b], []).append(b)
        for idx in by_len.values():
            redo = self._run([rows[b] for b in idx])
            for j, b in enumerate(idx):
                waves[b] = redo[j].copy()
        tails = [b for b in short if frames[b] > 2 * m]
        if tails:
            redo = self._run([rows[b][:, frames[b] - 2 * m : frames[b]] for b in tails])
            for j, b in enumerate(tails):
                waves[b][(frames[b] - m) * self.hop :] = redo[j, m * self.hop :]
        return waves

    def _run(self, rows: list[Tensor]) -> np.ndarray:
        """One padded forward: [B, F_max * hop] float32."""
        longest = max(int(r.size(-1)) for r in rows)
        batch = torch.full(
            (len(rows), rows[0].size(0), longest),
            MEL_FLOOR,
            dtype=torch.float32,
            device=self.device,
        )
        for b, r in enumerate(rows):
            batch[b, :, : r.size(-1)] = r
        dtype = next(self.model.parameters()).dtype  # fp32 unless a plan said otherwise
        return self.model(batch.to(dtype))[:, 0].float().cpu().numpy()


def right_reach_frames(h) -> int:
    """A safe bound, in mel frames, on how far to the right BigVGAN's output looks.

    conv_pre (k7) reaches 3 frames; each stage's transposed conv about 2 input steps; an
    AMP block reaches sum over dilations of (k-1)*d/2 (plus (k-1)/2 for AMPBlock1's second
    conv) and about 8 samples per anti-aliased activation, at that stage's rate; the final
    activation and conv_post (k7) add a few output samples. Padded by 25% and 2 frames.
    """
    reach = 3.0
    rate = 1.0
    amp1 = str(h["resblock"]) == "1"
    for u in h["upsample_rates"]:
        reach += 2.0 / rate
        rate *= u
        worst = 0.0
        for k, dils in zip(h["resblock_kernel_sizes"], h["resblock_dilation_sizes"], strict=True):
            per = sum(8 + (k - 1) * d / 2 + ((8 + (k - 1) / 2) if amp1 else 0) for d in dils)
            worst = max(worst, per)
        reach += worst / rate
    reach += 11.0 / rate
    return int(math.ceil(1.25 * reach)) + 2


def _build(BigVGAN, h, state: dict[str, Tensor], use_cuda_kernel: bool) -> torch.nn.Module:
    with torch.device("meta"):
        model = BigVGAN(h, use_cuda_kernel=use_cuda_kernel)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError:
        # A generator saved without weight norm (as from_pretrained also accepts).
        model.remove_weight_norm()
        model.load_state_dict(state, strict=True, assign=True)
    model.remove_weight_norm()
    return model
