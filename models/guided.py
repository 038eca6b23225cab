"""The guided fit and the fit report of the IndexTTS engines (README, "Duration control").

    windows = decode_targets(DurationMode.GUIDED, [60, 40], 0.15, limit=600)
    # [StopWindow(51, 69), StopWindow(34, 46)]: stop allowed from 0.85 T, forced at 1.15 T
    fit = fit_record(DurationMode.GUIDED, 100, windows, decoded, frames=172, official=170)

Why a window: the released 2.0 GPT does not officially honour a token count in its
duration slot, and 2.5 has no slot at all, so forcing exactly T codes (exact mode) cuts a
word when the model's own length is longer, or forces babble when it is shorter. Guided
mode lets the model end where it wants near T; the flow model's length regulator then
takes whatever count came out to the slot's exact frames (the release's own
`duration_factor` mechanism) and the waveform is trimmed or padded to the exact samples.

The fit report says per line what happened, so that the first run on real weights shows
whether they follow the slot: method, tokens_target, tokens_decoded, stop (natural: the
model chose it; forced: T, the window's end or the length bound did), stop_wish (where the
model first wanted to stop, even in exact mode), window, stretch (flow frames over the
official frames for the decoded count, minus one: +0.03 = 3 % longer, as VoxCPM2's) and
suspected_cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models.contract import DurationMode
from models.t2s.generate import Decoded, StopWindow

FORCED = "forced"
NATURAL = "natural"


def stop_windows(targets: Sequence[int], spread: float, limit: int) -> list[StopWindow]:
    """Per segment: the stop allowed from round((1 - spread) T) codes, forced at
    round((1 + spread) T), never past `limit` (the position table)."""
    out = []
    for t in targets:
        hi = max(1, min(int(limit), max(int(t), round(t * (1.0 + spread)))))
        lo = max(1, min(hi, round(t * (1.0 - spread))))
        out.append(StopWindow(lo, hi))
    return out


def decode_targets(
    mode: DurationMode, targets: Sequence[int | None], spread: float, limit: int
) -> list[int | StopWindow | None]:
    """What the decoder is given per segment: exact T, a stop window (guided) or None."""
    if mode is DurationMode.GUIDED and all(t is not None for t in targets):
        return list(stop_windows([int(t) for t in targets if t is not None], spread, limit))
    if mode is DurationMode.EXACT:
        return list(targets)
    return [None] * len(targets)


# Modes whose decoder is given the slot's token count (2.0: W_sem[T] in its duration slot).
SLOT_MODES = frozenset({DurationMode.EXACT, DurationMode.GUIDED})


def fit_record(
    mode: DurationMode,
    tokens_target: int,
    targets: Sequence[int | StopWindow | None],
    decoded: Sequence[tuple[int, bool, int | None]],
    frames: int,
    official: int,
) -> dict[str, Any]:
    """The fit report of one line. `decoded`: per segment (codes, forced, stop_wish);
    `frames`: the flow model's frames for the line, `official`: the release's frames for
    the decoded count. A multi-segment line's stop_wish is the sum of its segments' (the
    count the model wanted in all), None when one segment never wished to stop."""
    wishes = [w for _, _, w in decoded]
    forced = any(f for _, f, _ in decoded)
    wish = None if any(w is None for w in wishes) else sum(int(w) for w in wishes)
    windows = [t if isinstance(t, StopWindow) else None for t in targets]
    window = None
    if windows and all(w is not None for w in windows):
        window = [sum(w.lo for w in windows if w), sum(w.hi for w in windows if w)]
    elif mode is DurationMode.EXACT:
        window = [tokens_target, tokens_target]
    return {
        "method": mode.value,
        "tokens_target": int(tokens_target),
        "tokens_decoded": sum(int(n) for n, _, _ in decoded),
        "stop": FORCED if forced else NATURAL,
        "stop_wish": wish,
        "window": window,
        "stretch": round(frames / max(official, 1) - 1.0, 4),
        "suspected_cut": suspected_cut(forced, wish),
    }


def suspected_cut(forced: bool, stop_wish: int | None) -> bool:
    """A forced stop where the model never wished to stop while it decoded: the line may
    end inside a word (the listening check compares its last words with the text). A
    forced stop after a wish to stop is a forced continuation, not a cut."""
    return forced and stop_wish is None


def job_fit(job: Any, tokens_target: int, official: int) -> dict[str, Any]:
    """fit_record of an engine job (2.0's Job, 2.5's Job25) once its frames are known."""
    counts = [int(c.numel()) for c in job.codes]
    decoded = [(n, *stop) for n, stop in zip(counts, job.stops, strict=True)]
    frames = sum(job.seg_frames)
    return fit_record(
        job.request.mode, tokens_target, job.decode_targets, decoded, frames, official
    )


def segment_stops(decoded: Sequence[Decoded]) -> list[tuple[bool, int | None]]:
    """(forced, stop_wish) per decoded segment, kept with the job's codes."""
    return [(bool(d.forced), d.stop_wish) for d in decoded]
