"""The S2M mel front-end: log-mel of 22050 Hz audio exactly as IndexTTS2 computes it.

`mel_spectrogram(wave_22k [B, N] or [N]) -> [B, 80, F]` with F = (N + 2*384 - 1024)//256 + 1:
reflect padding of (n_fft - hop)/2 = 384 per side, STFT with a periodic Hann window and
center=False, magnitude sqrt(re^2 + im^2 + 1e-9), Slaney mel filterbank (librosa's default),
then log(clamp(x, 1e-5)). The same mel is the S2M prompt and the BigVGAN input.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from models.s2m.config import MelConfig

DEFAULT_MEL = MelConfig()

_cache: dict[tuple, tuple[Tensor, Tensor]] = {}


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale (linear below 1 kHz, logarithmic above), as librosa's default."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(
        f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels
    )


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


def mel_filterbank(cfg: MelConfig = DEFAULT_MEL) -> np.ndarray:
    """[n_mels, n_fft//2 + 1] float32 Slaney-normalised triangles (librosa.filters.mel)."""
    sr, n_fft, n_mels = cfg.sampling_rate, cfg.n_fft, cfg.n_mels
    fmax = sr / 2.0 if cfg.fmax is None else float(cfg.fmax)
    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_pts = np.linspace(_hz_to_mel(cfg.fmin), _hz_to_mel(fmax), n_mels + 2)
    mel_f = _mel_to_hz(mel_pts)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    # librosa fills a float32 array row by row, then scales it in place (float32 result).
    weights = np.zeros((n_mels, len(fft_freqs)), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, None]
    return weights


def _basis_and_window(cfg: MelConfig, device: torch.device) -> tuple[Tensor, Tensor]:
    key = (cfg, str(device))
    if key not in _cache:
        basis = torch.from_numpy(mel_filterbank(cfg)).float().to(device)
        window = torch.hann_window(cfg.win_length).to(device)
        _cache[key] = (basis, window)
    return _cache[key]


def mel_spectrogram(wave_22k: Tensor, cfg: MelConfig = DEFAULT_MEL) -> Tensor:
    """Log-mel [B, n_mels, F] of float audio [B, N] (or [N]) at cfg.sampling_rate.

    Computed in float32 whatever the input dtype; the result is on the input's device.
    """
    y = wave_22k.float()
    if y.dim() == 1:
        y = y.unsqueeze(0)
    basis, window = _basis_and_window(cfg, y.device)
    pad = int((cfg.n_fft - cfg.hop_length) / 2)
    y = torch.nn.functional.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(
        y,
        cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=window,
        center=False,
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    spec = torch.view_as_real(spec)
    mag = torch.sqrt(spec.pow(2).sum(-1) + 1e-9)
    mel = torch.matmul(basis, mag)
    return torch.log(torch.clamp(mel, min=1e-5))


def mel_frames(n_samples: int, cfg: MelConfig = DEFAULT_MEL) -> int:
    """Number of mel frames `mel_spectrogram` gives for n_samples of audio."""
    pad = int((cfg.n_fft - cfg.hop_length) / 2)
    return (n_samples + 2 * pad - cfg.n_fft) // cfg.hop_length + 1
