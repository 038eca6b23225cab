"""One timbre prompt per speaker: the cleanest stretches of that speaker's own speech.

Each of the speaker's lines is a candidate stretch (its edges trimmed: subtitle timing is
loose and the next voice may bleed in). A stretch is scored for what makes a good voice
sample: nobody else speaking within it, no clipping, mostly speech rather than pauses or
music, and enough length to carry a timbre. The best stretches are joined with short
crossfades into 5-15 s. Every chosen stretch keeps its score and the reason, so the window
can show why it was picked. One prompt per speaker keeps the voice the same from line to
line; each line's own delivery still reaches the dub through its emotion reference.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PROMPT_MAX_S = 15.0  # the official code cuts prompts to 15 s
PROMPT_GOOD_S = 5.0  # below this the timbre is thin (still used, with a lower score)
PROMPT_MIN_S = 1.0  # shorter prompts give the engine too little timbre to work with
CROSSFADE_MS = 20
EDGE_TRIM_MS = 30
CLIP_LEVEL = 0.99  # |sample| at or above this is clipped
FRAME_MS = 20
SILENT_DB = -45.0  # frames this far below full scale (and well below the stretch) are pauses


@dataclass(frozen=True)
class Span:
    start_ms: int
    end_ms: int

    @property
    def ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class PromptPiece:
    """A stretch chosen for (or considered for) a speaker's prompt."""

    start_ms: int
    end_ms: int
    score: float  # 0..1, higher is a better voice sample
    reason: str  # in the editor's words: why it scored so
    overlapped: bool = False  # someone else speaks within it


class _Others:
    """Other speakers' speech, for 'does anyone else speak within this span' in log time."""

    def __init__(self, spans: Sequence[Span]) -> None:
        self.spans = sorted(spans, key=lambda s: s.start_ms)
        self.starts = [s.start_ms for s in self.spans]
        self.longest = max((s.ms for s in self.spans), default=0)

    def overlap_ms(self, a: int, b: int) -> int:
        lo = bisect.bisect_left(self.starts, a - self.longest)
        hi = bisect.bisect_left(self.starts, b)
        return sum(max(0, min(b, s.end_ms) - max(a, s.start_ms)) for s in self.spans[lo:hi])


def _speech_fraction(audio: np.ndarray, rate: int) -> float:
    """Share of 20 ms frames that carry sound (not a pause), relative to the stretch itself."""
    n = max(1, rate * FRAME_MS // 1000)
    frames = len(audio) // n
    if frames == 0:
        return 0.0
    rms = np.sqrt(np.mean(audio[: frames * n].reshape(frames, n) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(rms)
    floor = max(SILENT_DB, float(np.percentile(db, 90)) - 30.0)
    return float(np.mean(db > floor))


def score_stretch(audio: np.ndarray, rate: int, overlap_ms: int) -> tuple[float, str]:
    """A score in 0..1 and the reason, for one trimmed stretch of a speaker's audio."""
    seconds = len(audio) / rate
    clipped = float(np.mean(np.abs(audio) >= CLIP_LEVEL)) if len(audio) else 0.0
    speech = _speech_fraction(audio, rate)
    length = min(seconds / 4.0, 1.0)  # 4 s and longer carry a timbre fully
    score = 0.45 * speech + 0.35 * length + 0.20 * (1.0 - min(clipped * 100, 1.0))
    parts = [f"{seconds:.1f} s", f"{speech:.0%} speech"]
    if clipped > 0.0005:
        parts.append(f"{clipped:.1%} clipped")
    if overlap_ms > 0:
        score *= 0.3  # another voice in the sample is the worst flaw of all
        parts.append(f"another speaker within it for {overlap_ms / 1000:.1f} s")
    else:
        parts.append("nobody else speaks")
    return round(score, 3), ", ".join(parts)


def candidates(
    own: Sequence[Span], others: Sequence[Span], audio: np.ndarray, rate: int
) -> list[PromptPiece]:
    """Every own span as a scored stretch, best first (clean ones before overlapped ones)."""
    other = _Others(others)
    pieces = []
    for span in own:
        a_ms, b_ms = span.start_ms + EDGE_TRIM_MS, span.end_ms - EDGE_TRIM_MS
        a, b = int(a_ms * rate / 1000), min(int(b_ms * rate / 1000), len(audio))
        if b - a < rate * FRAME_MS // 1000:
            continue
        overlap = other.overlap_ms(a_ms, b_ms)
        score, reason = score_stretch(audio[a:b], rate, overlap)
        pieces.append(PromptPiece(a_ms, round(b * 1000 / rate), score, reason, overlap > 0))
    return sorted(pieces, key=lambda p: (p.overlapped, -p.score, p.start_ms))


def choose(
    pieces: Sequence[PromptPiece], *, max_s: float = PROMPT_MAX_S, min_s: float = PROMPT_MIN_S
) -> list[PromptPiece]:
    """The best pieces up to max_s. Overlapped ones only when the clean ones fall short of
    min_s: a slightly mixed prompt beats no voice at all."""
    clean = [p for p in pieces if not p.overlapped]
    pool = clean if sum(p.end_ms - p.start_ms for p in clean) >= min_s * 1000 else list(pieces)
    chosen, total = [], 0
    for p in pool:
        if total >= max_s * 1000:
            break
        chosen.append(p)
        total += p.end_ms - p.start_ms
    return chosen


def join(
    audio: np.ndarray, rate: int, pieces: Sequence[PromptPiece], max_s: float = PROMPT_MAX_S
) -> np.ndarray:
    """The pieces' audio in the order chosen, crossfaded, at most max_s seconds."""
    fade = int(rate * CROSSFADE_MS / 1000)
    out = np.zeros(0, np.float32)
    for p in pieces:
        clip = np.asarray(audio[int(p.start_ms * rate / 1000) : int(p.end_ms * rate / 1000)])
        clip = clip.astype(np.float32)
        n = min(fade, len(out), len(clip))
        if n:
            ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
            mixed = out[-n:] * (1.0 - ramp) + clip[:n] * ramp
            out = np.concatenate([out[:-n], mixed, clip[n:]])
        else:
            out = np.concatenate([out, clip])
    return out[: int(max_s * rate)]
