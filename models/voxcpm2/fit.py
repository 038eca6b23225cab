"""Landing a free-paced take in its span: VoxCPM2 has no duration input.

VoxCPM2 generates a fixed number of audio samples per decoding step (4 latent frames of
1920 samples at 48 kHz: 0.16 s) and stops when its stop head says so. A line is fitted
to its span in four moves, cheapest and least audible first:

1. bound the steps from the slot: never stop before half the slot, never run past
   `MAX_OVER` of it (a take that long is unusable, so its steps are not spent);
2. ask for a faster or slower delivery in the style text when the natural length misses
   the slot by more than the stretch limit (`PACES`, one level per retry, further when
   the miss is large);
3. of the candidates rendered, keep the closest to the slot;
4. close the rest with a high-quality time-stretch (Signalsmith Stretch: phase-locked,
   pitch kept) limited to `STRETCH_LIMIT`, then trim or pad to the exact sample count.

Lengths are measured on the speech: silence the model leaves before or after it is not
speech, is not stretched, and the line starts at its first sound (less a 20 ms onset).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

STRETCH_LIMIT = 0.06  # +-6 %: below what listeners notice on speech
NATURAL_STRETCH = (0.8, 1.25)  # --mode natural: the limits IndexTTS2's natural mode keeps
MIN_UNDER = 0.5  # no stop before half the slot (a take cut off at its first word)
MAX_OVER = 1.35  # nor a run past 1.35x of it: beyond any fit, so not worth its steps
MAX_CANDIDATES = 3
SILENCE_DB = -40.0  # below the take's loudest 10 ms by this much: silence
TAIL_KEEP_S = 0.04  # the breath after the last word is kept
LEAD_KEEP_S = 0.02  # and the onset before the first: silence before it would delay the lips
FADE_S = 0.01  # a cut end fades out instead of clicking

# Style-text words for a delivery pace, slowest to fastest; index 3 is "as it comes".
PACES = (
    "very slow pace",
    "slow pace",
    "slightly slower",
    None,
    "slightly faster",
    "fast pace",
    "very fast pace",
)
NATURAL_PACE = 3


@dataclass(frozen=True)
class StepBounds:
    """The generation's bounds in decoding steps, from the slot."""

    min_steps: int
    max_steps: int
    slot_steps: float


def step_bounds(target_samples: int, step_samples: int) -> StepBounds:
    slot = target_samples / step_samples
    return StepBounds(
        min_steps=max(1, math.floor(slot * MIN_UNDER)),
        max_steps=max(2, math.ceil(slot * MAX_OVER) + 1),
        slot_steps=slot,
    )


def speech_bounds(audio: np.ndarray, rate: int) -> tuple[int, int]:
    """Where the speech starts and ends (samples): the silence before and after it
    (quieter than SILENCE_DB under the loudest 10 ms) dropped, a short onset and tail kept."""
    n = len(audio)
    hop = max(1, rate // 100)
    frames = n // hop
    if frames == 0:
        return 0, n
    rms = np.sqrt(np.mean(audio[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-20)
    floor = rms.max() * 10 ** (SILENCE_DB / 20)
    loud = np.flatnonzero(rms > floor)
    if loud.size == 0:
        return 0, n
    start = max(0, int(loud[0]) * hop - round(LEAD_KEEP_S * rate))
    end = min(n, (int(loud[-1]) + 1) * hop + round(TAIL_KEEP_S * rate))
    return start, end


def speech_length(audio: np.ndarray, rate: int) -> int:
    """Samples of speech (see speech_bounds)."""
    start, end = speech_bounds(audio, rate)
    return end - start


@dataclass
class Candidate:
    """One rendering of a line: its audio, the pace asked and whether it stopped itself."""

    audio: np.ndarray
    pace: int  # index into PACES
    stopped: bool  # False: it ran into max_steps (cut off mid-speech, likely)
    # It ran into the package's text bound, set under the slot's minimum steps: it could
    # not stop, and it is short, not long.
    cut_short: bool = False
    end: int = 0  # where its speech ends (see speech_bounds)
    start: int = 0  # and starts

    @property
    def speech(self) -> int:
        return self.end - self.start

    def ratio(self, target: int) -> float:
        return self.speech / max(target, 1)

    def cost(self, target: int) -> float:
        """Distance from the slot on a log scale (2x long is as bad as 2x short); a take
        that never stopped is worse than any that did."""
        return abs(math.log(max(self.ratio(target), 1e-6))) + (0.0 if self.stopped else 10.0)


def next_pace(current: int, ratio: float, tried: set[int]) -> int | None:
    """The pace to ask next after a take `ratio` times the slot, or None when none is
    left to try (the slowest/fastest asked, or the same again)."""
    miss = abs(math.log(max(ratio, 1e-6)))
    levels = 1 if miss < 0.15 else 2 if miss < 0.4 else 3
    step = levels if ratio > 1 else -levels
    wanted = min(len(PACES) - 1, max(0, current + step))
    while wanted in tried and 0 < wanted < len(PACES) - 1:
        wanted += 1 if step > 0 else -1
    return None if wanted in tried else wanted


def within(ratio: float, limits: tuple[float, float]) -> bool:
    return limits[0] <= ratio <= limits[1]


def stretch_limits(natural_mode: bool) -> tuple[float, float]:
    """The take/slot length ratios a stretch may close: a stretch of at most
    STRETCH_LIMIT either way (natural mode: the pace range IndexTTS2's natural mode fits)."""
    if natural_mode:
        return NATURAL_STRETCH
    return (1 / (1 + STRETCH_LIMIT), 1 / (1 - STRETCH_LIMIT))


def time_stretch(audio: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """`audio` made `factor` times as long (1.03: 3 % longer), pitch unchanged."""
    if abs(factor - 1.0) < 1e-4 or len(audio) == 0:
        return audio.astype(np.float32, copy=False)
    import python_stretch as ps

    stretch = ps.Signalsmith.Stretch(0)  # seeded: the same take stretches the same way
    stretch.preset(1, float(rate))
    stretch.timeFactor = 1.0 / factor  # Signalsmith's factor is a speed
    out = stretch.process(np.ascontiguousarray(audio, dtype=np.float32)[None, :])
    return np.asarray(out[0], dtype=np.float32)


def exact_length(audio: np.ndarray, target: int, rate: int) -> np.ndarray:
    """Trim (with a short fade-out) or pad with silence to exactly `target` samples."""
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) >= target:
        out = audio[:target].copy()
        fade = min(target, round(FADE_S * rate))
        if len(audio) > target and fade > 0:
            out[target - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        return out
    return np.concatenate([audio, np.zeros(target - len(audio), np.float32)])


@dataclass
class Fit:
    audio: np.ndarray  # exactly the target's length
    method: str  # "natural" (first take fit), "paced" (a pace retry did), "closest"
    stretch: float  # relative change of the speech's length: +0.03 is 3 % longer
    candidates: int
    pace: str | None  # the pace words of the kept take
    natural_s: float  # the kept take's speech before stretching
    padded_ms: float = 0.0  # silence added at the end
    cut_ms: float = 0.0  # speech cut off at the end (the take was too long even stretched)
    flag: str | None = None
    tried: list[str | None] = field(default_factory=list)  # the pace of each candidate

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "stretch": round(self.stretch, 4),
            "candidates": self.candidates,
            "pace": self.pace,
            "natural_s": round(self.natural_s, 3),
            "padded_ms": round(self.padded_ms, 1),
            "cut_ms": round(self.cut_ms, 1),
            "tried": list(self.tried),
        }


def fit_take(
    candidates: list[Candidate], target: int, rate: int, limits: tuple[float, float]
) -> Fit:
    """The closest candidate, stretched within `limits` and made exactly `target` long."""
    best_i = min(range(len(candidates)), key=lambda i: candidates[i].cost(target))
    best = candidates[best_i]
    speech = best.audio[best.start : best.end]
    ratio = best.ratio(target)
    # The stretch that lands the speech on the slot, held within the limits.
    factor = min(max(1.0 / max(ratio, 1e-6), 1.0 / limits[1]), 1.0 / limits[0])
    stretched = time_stretch(speech, rate, factor)
    out = exact_length(stretched, target, rate)
    padded = max(0, target - len(stretched)) * 1000 / rate
    cut = max(0, len(stretched) - target) * 1000 / rate
    if within(ratio, limits):
        method = "natural" if best_i == 0 else "paced"
    else:
        method = "closest"
    flag = None
    if cut > 0.5 * 1000 * FADE_S:
        fastest = any(c.pace == len(PACES) - 1 for c in candidates)
        paces = ", ".join(PACES[c.pace] or "as it comes" for c in candidates)
        how = "even at the fastest pace" if fastest else f"at the paces tried ({paces})"
        flag = f"{cut:.0f} ms of speech cut: the take is {ratio:.2f}x its span {how}"
    elif padded > 0.15 * target * 1000 / rate:
        flag = f"speech fills {1 - padded / (target * 1000 / rate):.0%} of its span (the rest is silence)"
    return Fit(
        audio=out,
        method=method,
        stretch=len(stretched) / max(len(speech), 1) - 1.0,
        candidates=len(candidates),
        pace=PACES[best.pace],
        natural_s=best.speech / rate,
        padded_ms=padded,
        cut_ms=cut,
        flag=flag,
        tried=[PACES[c.pace] for c in candidates],
    )
