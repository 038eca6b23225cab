"""Each line's speaker from the diarization's turns: the speaker with the most speech inside
the line's span. A line where a second voice holds a good part of the span, or where no
one speaks at all, is flagged for the editor to check."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

SECOND_VOICE_SHARE = 0.3  # a second speaker with this share of the first's speech: flagged
SECOND_VOICE_MIN_MS = 300  # ... and at least this long (a cough is not a second speaker)
NO_SPEECH_SHARE = 0.2  # under this share of the span spoken by anyone: flagged


class TurnLike(Protocol):
    start_ms: int
    end_ms: int
    speaker: str


class SpanLike(Protocol):
    index: int
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class LineSpeaker:
    speaker: str | None  # None: nobody speaks in the span
    speech_ms: int  # the chosen speaker's speech inside the span
    flag: str | None = None  # "two speakers ...", "no speech ..."


def assign_turns(lines: Sequence[SpanLike], turns: Sequence[TurnLike]) -> dict[int, LineSpeaker]:
    """line index -> its speaker. Turns may overlap (pyannote gives overlapped speech)."""
    ordered = sorted(turns, key=lambda t: t.start_ms)
    starts = [t.start_ms for t in ordered]
    longest = max((t.end_ms - t.start_ms for t in ordered), default=0)
    out: dict[int, LineSpeaker] = {}
    for line in lines:
        a, b = line.start_ms, line.end_ms
        spoken: dict[str, int] = defaultdict(int)
        lo = bisect.bisect_left(starts, a - longest)
        hi = bisect.bisect_left(starts, b)
        for t in ordered[lo:hi]:
            shared = min(b, t.end_ms) - max(a, t.start_ms)
            if shared > 0:
                spoken[t.speaker] += shared
        ranked = sorted(spoken.items(), key=lambda kv: (-kv[1], kv[0]))
        span = max(b - a, 1)
        if not ranked or sum(ms for _, ms in ranked) < NO_SPEECH_SHARE * span:
            best = ranked[0] if ranked else (None, 0)
            out[line.index] = LineSpeaker(
                best[0], best[1], f"no speech found in its span ({best[1] / span:.0%} spoken)"
            )
            continue
        (first, first_ms), rest = ranked[0], ranked[1:]
        flag = None
        if rest and rest[0][1] >= max(SECOND_VOICE_SHARE * first_ms, SECOND_VOICE_MIN_MS):
            flag = (
                f"two speakers: {first} {first_ms / 1000:.1f} s, "
                f"{rest[0][0]} {rest[0][1] / 1000:.1f} s"
            )
        out[line.index] = LineSpeaker(first, first_ms, flag)
    return out
