"""`--extend-into-silence auto`: a line too fast for its speaker borrows the silence after it.

A line whose text needs more than BORROW_PACE x its speaker's natural pace runs on into the
quiet after its cue, only as far as brings it back to BORROW_PACE, never into the next cue
(a DEFAULT_GAP_MS guard stays) and never past the video's end. Silence is measured on the
original's dialogue (the dialogue stem when the job separated one), as the MS setting does.

A speaker's natural pace is measured on their own lines in the original: syllables of the
whisper words over the time they take when the analysis heard words, else syllable nuclei
(peaks of speech energy) counted on the 16 kHz copy. It is turned into a speed relative to
the original language's norm (core.lines.timing's per-language rates); the dub's natural duration
is then the dub language's norm scaled by that speed (core.lines.timing.natural_duration).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.audio.silence import frame_levels_db, silence_until_ms
from core.lines.timing import (
    DEFAULT_GAP_MS,
    DEFAULT_SYLLABLES_PER_SECOND,
    SYLLABLES_PER_SECOND,
    Timing,
    natural_duration,
    normalize_language,
    plan_line,
    word_syllables,
)

BORROW_PACE = 1.1  # a line needing more than this x natural pace borrows silence
# A measured speed outside this range is more likely a measuring error (music under the
# voice, a cue that is mostly silence) than a speaker: it is clamped.
SPEED_RANGE = (0.7, 1.4)
MIN_SYLLABLES = 4  # fewer measured syllables than this: the speaker gets the language norm
MIN_SPEECH_MS = 800

NUCLEUS_FRAME_MS = 10
NUCLEUS_DIP_DB = 2.0  # a syllable nucleus stands this far above the dip before it
NUCLEUS_ABOVE_FLOOR_DB = 12.0  # ... and this far above the track's noise floor
NUCLEUS_MIN_GAP_MS = 80  # syllables come at most ~12 a second


def borrow_extent_ms(
    start_ms: int,
    end_ms: int,
    natural_s: float,
    *,
    next_start_ms: int | None,
    silence_until: int | None,
    video_end_ms: int | None,
    pace: float = BORROW_PACE,
    gap_ms: int = DEFAULT_GAP_MS,
) -> int:
    """How many ms past `end_ms` a line that takes `natural_s` at its speaker's natural
    pace runs, so that it needs at most `pace` x that pace: 0 when it fits, less than it
    needs when silence, the next cue (less the guard) or the video end come first."""
    if natural_s <= 0 or end_ms <= start_ms:
        return 0
    wanted = start_ms + math.ceil(natural_s / pace * 1000)
    limit = wanted
    for bound in (silence_until, None if next_start_ms is None else next_start_ms - gap_ms,
                  video_end_ms):  # fmt: skip
        if bound is not None:
            limit = min(limit, bound)
    return max(0, limit - end_ms)


def _rate_from_words(
    words: Sequence[Any], spans: Sequence[tuple[int, int]], lang: str | None
) -> tuple[int, int]:
    syllables = speech_ms = 0
    for start, end in spans:
        inside = [w for w in words if start <= (w.start_ms + w.end_ms) / 2 < end]
        if inside:
            syllables += sum(word_syllables(w.text, lang) for w in inside)
            speech_ms += inside[-1].end_ms - inside[0].start_ms
    return syllables, speech_ms


def syllable_nuclei(levels_db: np.ndarray, threshold_db: float) -> tuple[int, int]:
    """Syllable nuclei (energy peaks above `threshold_db`, each standing NUCLEUS_DIP_DB over
    the dip since the previous one) and the ms from the first to the last loud frame."""
    loud = np.flatnonzero(levels_db > threshold_db)
    if loud.size == 0:
        return 0, 0
    count, last_peak, trough = 0, -(10**9), float(levels_db[0])
    min_gap = NUCLEUS_MIN_GAP_MS // NUCLEUS_FRAME_MS
    for i in range(1, len(levels_db) - 1):
        v = float(levels_db[i])
        trough = min(trough, v)
        peak = v >= levels_db[i - 1] and v > levels_db[i + 1] and v > threshold_db
        if peak and v - trough >= NUCLEUS_DIP_DB and i - last_peak >= min_gap:
            count, last_peak, trough = count + 1, i, v
    return count, int((loud[-1] - loud[0] + 1) * NUCLEUS_FRAME_MS)


def _rate_from_energy(audio16k: np.ndarray, spans: Sequence[tuple[int, int]]) -> tuple[int, int]:
    levels = frame_levels_db(audio16k, 16000, NUCLEUS_FRAME_MS)
    if levels.size == 0:
        return 0, 0
    # Light smoothing so one syllable's pitch pulses do not count as several nuclei.
    smooth = np.convolve(levels, np.ones(3) / 3, mode="same")
    threshold = float(np.percentile(levels, 10)) + NUCLEUS_ABOVE_FLOOR_DB
    syllables = speech_ms = 0
    for start, end in spans:
        a, b = start // NUCLEUS_FRAME_MS, max(start, end) // NUCLEUS_FRAME_MS
        n, ms = syllable_nuclei(smooth[a:b], threshold)
        syllables, speech_ms = syllables + n, speech_ms + ms
    return syllables, speech_ms


def speaker_speeds(
    spans: Sequence[tuple[int, int]],
    speakers: Sequence[str],
    *,
    audio16k: np.ndarray | None,
    words: Sequence[Any] = (),
    original_language: str | None = None,
) -> dict[str, float]:
    """Each speaker's natural speed relative to the original language's norm (1.0: the
    norm; also when too little of them could be measured)."""
    lang = normalize_language(original_language)
    norm = SYLLABLES_PER_SECOND.get(lang or "", DEFAULT_SYLLABLES_PER_SECOND)
    out: dict[str, float] = {}
    for sid in sorted(set(speakers)):
        own = [s for s, who in zip(spans, speakers, strict=True) if who == sid]
        syllables, ms = _rate_from_words(words, own, lang) if words else (0, 0)
        if (syllables < MIN_SYLLABLES or ms < MIN_SPEECH_MS) and audio16k is not None:
            syllables, ms = _rate_from_energy(audio16k, own)
        if syllables < MIN_SYLLABLES or ms < MIN_SPEECH_MS:
            out[sid] = 1.0
            continue
        speed = syllables / (ms / 1000) / norm
        out[sid] = min(max(speed, SPEED_RANGE[0]), SPEED_RANGE[1])
    return out


def plan_borrowing(
    cues: Sequence[Any],
    speakers: Sequence[str],
    *,
    audio16k: np.ndarray | None,
    words: Sequence[Any] = (),
    language: str | None = None,
    original_language: str | None = None,
    video_end_ms: int | None = None,
    gap_ms: int = DEFAULT_GAP_MS,
) -> list[Timing]:
    """core.lines.timing.plan_lines for `auto`: each line's span borrows the silence it needs,
    and its pace (and the pace check's flag) is against its own speaker's natural pace.
    `cues` have start_ms, end_ms and text; `speakers` one id per cue."""
    spans = [(int(c.start_ms), int(c.end_ms)) for c in cues]
    speeds = speaker_speeds(
        spans, speakers, audio16k=audio16k, words=words, original_language=original_language
    )
    silences: list[int | None] = [None] * len(cues)
    if audio16k is not None:
        silences = list(silence_until_ms(audio16k, 16000, [e for _, e in spans]))
    order = sorted(range(len(cues)), key=lambda i: (spans[i][0], spans[i][1], i))
    next_start: list[int | None] = [None] * len(cues)
    for pos, i in enumerate(order[:-1]):
        next_start[i] = spans[order[pos + 1]][0]
    planned = []
    for i, cue in enumerate(cues):
        start, end = spans[i]
        speed = speeds[speakers[i]]
        natural = natural_duration(str(cue.text), language, speed=speed)
        extend = borrow_extent_ms(start, end, natural, next_start_ms=next_start[i],
                                  silence_until=silences[i], video_end_ms=video_end_ms,
                                  gap_ms=gap_ms)  # fmt: skip
        planned.append(
            plan_line(
                start,
                end,
                str(cue.text),
                next_start_ms=next_start[i],
                language=language,
                silence_until_ms=silences[i],
                extend_ms=extend,
                gap_ms=gap_ms,
                video_end_ms=video_end_ms,
                speed=speed,
            )  # fmt: skip
        )
    return planned
