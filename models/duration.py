"""Length fitting of a dubbed line: token, mel-frame and sample counts for a target duration,
shared out over a line's text segments so that the totals stay exact.

    plan = LengthPlan.for_duration(2.5)        # tokens 125, frames 215, samples 55125
    split_exact(125, [40, 12])                 # [96, 29]: proportional, sums to 125
    fit_to_samples(wave, 55125)                # trim or zero-pad to exactly that many samples
    pace_ratio(natural_frames, slot_frames)    # natural / slot, flagged outside [0.8, 1.25]

Counts follow DESIGN.md ("Duration control"): T = round(50 d) semantic tokens,
F = round(d * 22050 / 256) mel frames, N = round(d * 22050) samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.units import PACE_RANGE, frames_for, samples_for, tokens_for

NATURAL_FIT_RANGE = PACE_RANGE


@dataclass(frozen=True)
class LengthPlan:
    tokens: int
    frames: int
    samples: int

    @classmethod
    def for_duration(cls, seconds: float) -> LengthPlan:
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(f"a target duration must be positive, got {seconds}")
        return cls(
            tokens=tokens_for(seconds), frames=frames_for(seconds), samples=samples_for(seconds)
        )


def split_exact(total: int, weights: Sequence[float], minimum: int = 1) -> list[int]:
    """Share `total` out in proportion to `weights` (largest remainder), every share at least
    `minimum`, the shares summing to exactly `total`.

    Raises ValueError when total < minimum * len(weights) (nothing sensible to hand out).
    """
    n = len(weights)
    if n == 0:
        raise ValueError("nothing to split over")
    if total < minimum * n:
        raise ValueError(f"{total} cannot be split into {n} parts of at least {minimum}")
    w = np.asarray([max(float(x), 0.0) for x in weights], dtype=np.float64)
    if w.sum() <= 0:
        w = np.ones(n)
    spare = total - minimum * n
    exact = spare * w / w.sum()
    shares = np.floor(exact).astype(np.int64)
    # Largest remainders get the leftover units; ties go to the earlier segment.
    order = sorted(range(n), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[: spare - int(shares.sum())]:
        shares[i] += 1
    return [int(s) + minimum for s in shares]


def fit_to_samples(wave: np.ndarray, samples: int) -> np.ndarray:
    """Trim, or pad with zeros at the end, to exactly `samples` (float32)."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if len(wave) >= samples:
        return wave[:samples].copy()
    return np.concatenate([wave, np.zeros(samples - len(wave), dtype=np.float32)])


def pace_ratio(natural_frames: int, slot_frames: int) -> float:
    """How long the free rendering is relative to the slot (1.2 = 20 % too long)."""
    return natural_frames / max(slot_frames, 1)


def within_fit_range(ratio: float) -> bool:
    lo, hi = NATURAL_FIT_RANGE
    return lo <= ratio <= hi
