"""Where speech resumes after a moment: lets a line's span grow into the silence after its cue.

A plain energy detector is enough here: the question is only "is the original track quiet
right after this cue", answered against the track's own noise floor, so music beds and
room tone do not count as speech unless they are much louder than the quiet parts.
"""

from __future__ import annotations

import numpy as np

from core.audio.stream import blocks

FRAME_MS = 20
ABOVE_FLOOR_DB = 12.0  # a frame this far above the noise floor counts as sound
FLOOR_PERCENTILE = 10


def frame_levels_db(audio: np.ndarray, rate: int, frame_ms: int = FRAME_MS) -> np.ndarray:
    """RMS level per frame in dBFS (mono input), read in blocks: a film's track may be a
    file mapped into memory (core.audio.stream), and the scan must not hold it."""
    hop = max(1, rate * frame_ms // 1000)
    n = len(audio) // hop
    if n == 0:
        return np.zeros(0)
    levels = np.empty(n)
    per_block = 50_000  # frames: 1000 s at 20 ms
    for a, block in blocks(audio, per_block * hop):
        k = min(block.shape[0] // hop, n - a // hop)
        frames = np.asarray(block[: k * hop], dtype=np.float64).reshape(k, hop)
        levels[a // hop : a // hop + k] = np.sqrt(np.mean(frames * frames, axis=1))
    return 20 * np.log10(np.maximum(levels, 1e-9))


def silence_until_ms(
    audio: np.ndarray,
    rate: int,
    after_ms: list[int],
    *,
    above_floor_db: float = ABOVE_FLOOR_DB,
    frame_ms: int = FRAME_MS,
) -> list[int]:
    """For each time in `after_ms`, when sound next rises above the noise floor (ms).

    The returned time equals the given one when sound is already there (the actor is
    still speaking past the cue end), and the track's end when nothing follows.
    """
    levels = frame_levels_db(audio, rate, frame_ms)
    end_ms = int(len(audio) * 1000 / rate)
    if levels.size == 0:
        return [end_ms for _ in after_ms]
    threshold = np.percentile(levels, FLOOR_PERCENTILE) + above_floor_db
    loud = np.flatnonzero(levels > threshold)
    out = []
    for t in after_ms:
        first_frame = int(np.ceil(t / frame_ms))
        k = np.searchsorted(loud, first_frame)
        out.append(end_ms if k >= loud.size else max(t, int(loud[k] * frame_ms)))
    return out
