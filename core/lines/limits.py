"""Lines no engine can speak in their span: refused at planning, never sent to a decoder.

A subtitle file may hold a "line" of two megabytes (a file joined into one cue, a
transcript pasted whole); sent to an engine it grows the decoder's memory until the
process dies (issue 26: std::bad_alloc after 70 s and 4.5 GB). Three limits, each cheap
and each checked before anything costly:

1. `MAX_LINE_CHARS` characters, whatever the span or the engine: no subtitle line is that
   long (two full subtitle lines are ~84 characters; 2000 is over a minute of speech).
   Checked first, on the length alone, so the text is never walked (bounded time and
   memory whatever the file holds).
2. When the take must fill its span and no more (guided and exact modes; natural and
   free keep their own pace), `FASTEST_PACE` times the natural pace (core/lines/timing.py):
   beyond anything a person says (see below).
3. The engine's own limit, when the loaded engine states one (`line_limit(text,
   duration_s)` -> reason or None, given `mode=` and `language=` too when it takes
   them; VoxCPM2 does: its text and steps must fit the model's position table;
   IndexTTS2 and 2.5 too, models/line_limit.py): what the model itself cannot hold.

Public API::

    line_problem(text, span_s, *, language=None, mode=GUIDED, engine=None) -> str | None
        why the line cannot be spoken in its span, with what to do; None when it can.
        The desk flags lines with it (engine=None: the engine-independent limits);
        the dub refuses them at planning ("cue N: not dubbed: <why>", kind "too-long").
"""

from __future__ import annotations

import inspect
from typing import Any

from core.lines.timing import natural_duration
from models.contract import DurationMode

MAX_LINE_CHARS = 2000
# Natural rates (core/lines/timing.py) run at 4.5 syllables a second for English; the fastest
# speakers on record reach about twice conversational rates (10-11 syllables a second),
# and time-compressed speech stops being followed beyond about 2.5-3x. 3x natural (13.5
# syllables a second in English, 15 Chinese characters, 22 Japanese morae) is beyond
# every one of them: only lines no person could say are refused. A bound, not a
# measurement; lines between 1.25x and 3x are flagged (timing.pace_flag) and rendered.
FASTEST_PACE = 3.0
# Modes whose take keeps the engine's own pace: the span does not squeeze their speech.
_OWN_PACE = frozenset({DurationMode.NATURAL, DurationMode.FREE})


def line_problem(
    text: str,
    span_s: float,
    *,
    language: str | None = None,
    mode: DurationMode = DurationMode.GUIDED,
    engine: Any = None,
) -> str | None:
    """Why `text` cannot be spoken in `span_s` seconds (and what to do), or None."""
    if len(text) > MAX_LINE_CHARS:
        return (
            f"its text is {len(text):,} characters, more than any engine is given "
            f"({MAX_LINE_CHARS:,} at most): split it into cues of a sentence or two"
        )
    if mode not in _OWN_PACE and span_s > 0:
        natural = natural_duration(text, language)
        if natural > FASTEST_PACE * span_s:
            return (
                f"it takes about {natural:.1f} s to say and its span is {span_s:.2f} s: "
                f"{natural / span_s:.1f}x natural pace, faster than anyone speaks "
                f"({FASTEST_PACE:g}x at most); shorten the line or widen its span"
            )
    limit = getattr(engine, "line_limit", None)
    if limit is None:
        return None
    # What the line is besides its text and span, for the engines that ask (a slot mode
    # binds a take that natural mode only measures; the language picks the text rules).
    asks = inspect.signature(limit).parameters
    extra = {k: v for k, v in (("mode", mode), ("language", language)) if k in asks}
    return limit(text, span_s if mode is not DurationMode.FREE else None, **extra)
