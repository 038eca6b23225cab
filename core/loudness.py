"""Integrated loudness (ITU-R BS.1770-4 / EBU R128), vectorised for film-length mixes.

pyloudnorm computes the same measure with a Python loop over gating blocks and float64
IIR passes; on a 10-minute stereo mix that is about 1 s of the 10 s budget of the media
path, so the mix is measured here with float32 second-order sections and per-100 ms
energies summed into the 400 ms, 75 %-overlapping gating blocks. Tests hold it to
pyloudnorm within 0.05 LU.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.signal

# K-weighting at 48 kHz (BS.1770-4, Table 1 and 2): high shelf, then RLB high-pass.
_K_SOS_48K = np.array(
    [
        [
            1.53512485958697,
            -2.69169618940638,
            1.19839281085285,
            1.0,
            -1.69065929318241,
            0.73248077421585,
        ],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ]
)
_BLOCK_S = 0.4
_STEP_S = 0.1  # 75 % overlap
_ABS_GATE_LUFS = -70.0
_REL_GATE_LU = -10.0


def _k_weighting(rate: int) -> np.ndarray:
    if rate == 48000:
        return _K_SOS_48K
    # Other rates: the filters designed for that rate by pyloudnorm's reference code.
    import pyloudnorm

    filters = pyloudnorm.Meter(rate)._filters.values()
    return np.vstack([np.hstack([f.b / f.a[0], f.a / f.a[0]]) for f in filters])


def integrated_loudness(audio: np.ndarray, rate: int = 48000) -> float:
    """LUFS of mono (n,) or multichannel (n, ch) audio; -inf for silence or < 400 ms.

    Channels are weighted 1.0 (front left/right/centre); surround weights do not apply to
    the stereo mixes Dubsmith measures.
    """
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    step = int(round(_STEP_S * rate))
    per_block = int(round(_BLOCK_S / _STEP_S))
    nseg = x.shape[0] // step
    if nseg < per_block:
        return float("-inf")
    y = scipy.signal.sosfilt(_k_weighting(rate).astype(np.float32), x, axis=0)
    # Energy per 100 ms segment, then per 400 ms block as a sum of 4 segments.
    seg = np.einsum(
        "sic,sic->s", *(2 * [y[: nseg * step].reshape(nseg, step, -1)]), dtype=np.float64
    )
    csum = np.concatenate([[0.0], np.cumsum(seg)])
    block_energy = (csum[per_block:] - csum[:-per_block]) / (per_block * step)
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10 * np.log10(block_energy)
    kept = block_energy[block_lufs > _ABS_GATE_LUFS]
    if kept.size == 0:
        return float("-inf")
    relative_gate = -0.691 + 10 * math.log10(kept.mean()) + _REL_GATE_LU
    kept = block_energy[(block_lufs > _ABS_GATE_LUFS) & (block_lufs > relative_gate)]
    if kept.size == 0:
        return float("-inf")
    return -0.691 + 10 * math.log10(kept.mean())
