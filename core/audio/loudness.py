"""Integrated loudness (ITU-R BS.1770-4 / EBU R128), vectorised for film-length mixes.

pyloudnorm computes the same measure with a Python loop over gating blocks and float64
IIR passes; on a 10-minute stereo mix that is about 1 s of the 10 s budget of the media
path, so the mix is measured here with float32 second-order sections and per-100 ms
energies summed into the 400 ms, 75 %-overlapping gating blocks. The meter is fed block
by block (``LoudnessMeter``), so a film is measured without holding it. Tests hold it to
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


# BS.1770 channel weights by ffmpeg layout (WAV channel order): surrounds count 1.41,
# the LFE not at all. Layouts not listed weigh every channel 1.0.
_SURROUND_WEIGHTS: dict[str, tuple[float, ...]] = {
    "5.1": (1.0, 1.0, 1.0, 0.0, 1.41, 1.41),
    "5.1(side)": (1.0, 1.0, 1.0, 0.0, 1.41, 1.41),
    "5.0": (1.0, 1.0, 1.0, 1.41, 1.41),
    "5.0(side)": (1.0, 1.0, 1.0, 1.41, 1.41),
    "7.1": (1.0, 1.0, 1.0, 0.0, 1.41, 1.41, 1.41, 1.41),
    "7.1(wide)": (1.0, 1.0, 1.0, 0.0, 1.41, 1.41, 1.0, 1.0),
    "7.1(wide-side)": (1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.41, 1.41),
}


def channel_weights(channels: int, layout: str | None = None) -> np.ndarray:
    """Each channel's BS.1770 weight G_i for a mix in ffmpeg's ``layout``."""
    weights = _SURROUND_WEIGHTS.get(layout or "")
    if weights is None or len(weights) != channels:
        return np.ones(channels)
    return np.asarray(weights, dtype=np.float64)


class LoudnessMeter:
    """BS.1770 integrated loudness fed block by block (two passes need only this state).

    The K-weighting filters carry their state across blocks and the energies are kept
    per 100 ms segment (a film of three hours is 108,000 floats), so the result does not
    depend on how the audio was cut into blocks: a film measured in 10 s blocks gives
    the same figure, to the last bit, as the whole array.
    """

    def __init__(self, rate: int = 48000, channels: int = 1, layout: str | None = None):
        self.rate, self.channels = rate, channels
        self._sos = _k_weighting(rate).astype(np.float32)
        self._zi = np.zeros((self._sos.shape[0], 2, channels), dtype=np.float32)
        self._weights = channel_weights(channels, layout)
        self._step = int(round(_STEP_S * rate))
        self._rest = np.zeros((0, channels), dtype=np.float32)  # filtered, < one segment
        self._segments: list[np.ndarray] = []

    def add(self, audio: np.ndarray) -> None:
        x = np.asarray(audio, dtype=np.float32)
        x = x[:, None] if x.ndim == 1 else x
        if x.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got {x.shape[1]}")
        # Bounded pieces: the whole-array call must not hold a film's float64 squares.
        piece = self._step * 100
        for a in range(0, x.shape[0], piece):
            y, self._zi = scipy.signal.sosfilt(self._sos, x[a : a + piece], axis=0, zi=self._zi)
            y = np.concatenate([self._rest, y.astype(np.float32, copy=False)])
            nseg = y.shape[0] // self._step
            energy = np.zeros(nseg)
            for c in range(self.channels):
                if self._weights[c]:
                    col = y[: nseg * self._step, c].astype(np.float64).reshape(nseg, self._step)
                    energy += self._weights[c] * np.square(col).sum(axis=1)
            self._segments.append(energy)
            self._rest = y[nseg * self._step :]

    def energies(self) -> np.ndarray:
        """Mean square per 100 ms segment so far, channels weighted (short-term loudness
        and the loudness range are read from these)."""
        seg = np.concatenate(self._segments) if self._segments else np.zeros(0)
        return seg / self._step

    def integrated(self) -> float:
        """LUFS so far; -inf for silence or under 400 ms."""
        seg = np.concatenate(self._segments) if self._segments else np.zeros(0)
        per_block = int(round(_BLOCK_S / _STEP_S))
        if seg.size < per_block:
            return float("-inf")
        csum = np.concatenate([[0.0], np.cumsum(seg)])
        block_energy = (csum[per_block:] - csum[:-per_block]) / (per_block * self._step)
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


def integrated_loudness(audio: np.ndarray, rate: int = 48000, layout: str | None = None) -> float:
    """LUFS of mono (n,) or multichannel (n, ch) audio; -inf for silence or < 400 ms.

    Channels weigh 1.0 unless ``layout`` names a surround layout (surrounds 1.41, LFE 0).
    """
    x = np.asarray(audio, dtype=np.float32)
    meter = LoudnessMeter(rate, 1 if x.ndim == 1 else x.shape[1], layout)
    meter.add(x)
    return meter.integrated()
