"""What an IndexTTS2 or IndexTTS-2.5 model cannot hold, known before any decoding: the
engines' `line_limit(text, duration_s, mode=None, language=None)` (core/lines/limits.py asks
it at planning, so such a line is refused with a reason instead of failing in the render).

Each check is one the render itself would fail on, from the model's own config:

- text: a segment's tokens must fit the T2S text position table (config gpt
  max_text_tokens; its start and stop tokens have their own places). The engines cut a
  line into segments of at most that many, but the official splitter may add a quote
  past the limit, and a tiny or custom checkpoint may hold fewer.
- span (any mode that times the take): the line's mel frames must fit the flow (S2M)
  model's block (s2m dit block_size); the voice prompt needs room too, so this is what
  the line alone needs and the render still checks the rest.
- span, slot modes (guided, exact): every segment needs at least one semantic code; on
  IndexTTS-2.5 a segment's forced codes must fit the T2S mel position table (gpt
  max_mel_tokens, the stop code included). IndexTTS2 decodes that many and stretches
  them to the slot instead (flagged, models/indextts2/engine.py), so there it is no refusal.

Nothing here loads a model: the engine object is only read (its config, its text
front end). An engine that cannot tell (no text to speak, a language it does not speak)
returns None and lets the render say why, as before.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from models.batching import RequestError
from models.contract import DurationMode
from models.duration import LengthPlan, split_exact
from models.guided import SLOT_MODES
from models.indextts25.duration import LengthPlan25


def _text_problem(longest: int, table: int) -> str | None:
    if longest <= table:
        return None
    return (
        f"a segment of it is {longest} text tokens, the model's text position table holds "
        f"{table} (config max_text_tokens): split the line at a sentence end"
    )


def _frames_problem(duration_s: float, frames: int, block: int) -> str | None:
    if frames <= block:
        return None
    return (
        f"its span of {duration_s:.1f} s needs {frames} mel frames, the flow model renders "
        f"at most {block} (voice prompt included): split the line or shorten its span"
    )


def _segments_problem(duration_s: float, codes: int, segments: int) -> str | None:
    if codes >= segments:
        return None
    return (
        f"its span of {duration_s:.2f} s holds {codes} semantic codes, its {segments} text "
        f"segments need at least {segments}: shorten the line or widen its span"
    )


def indextts2_line_limit(
    engine: Any,
    text: str,
    duration_s: float | None,
    mode: DurationMode | None = None,
    language: str | None = None,
) -> str | None:
    """Why IndexTTS2Engine `engine` cannot speak `text` in `duration_s`, or None."""
    try:
        segments = engine.text_segments(text, language)
    except RequestError:
        return None
    if not segments:
        return None
    gpt = engine.parts.cfg.gpt
    why = _text_problem(max(len(s) for s in segments), gpt.max_text_tokens)
    if why or duration_s is None or duration_s <= 0:
        return why
    plan = LengthPlan.for_duration(duration_s)
    why = _frames_problem(duration_s, plan.frames, engine.parts.s2m.cfg.dit.block_size)
    if why or mode not in SLOT_MODES:
        return why
    return _segments_problem(duration_s, plan.tokens, len(segments))


def indextts25_line_limit(
    engine: Any,
    text: str,
    duration_s: float | None,
    mode: DurationMode | None = None,
    language: str | None = None,
) -> str | None:
    """Why IndexTTS25Engine `engine` cannot speak `text` in `duration_s`, or None."""
    if not text.strip():
        return None
    try:  # the engine's own rule (a request's language, else guessed from the text)
        lang, _ = engine.language_of(SimpleNamespace(language=language, text=text))
    except RequestError:
        return None
    prepared = engine.parts.text.prepare(text, lang, engine.max_segment_tokens)
    segments = [ids for ids in prepared.ids if len(ids) > 2]  # more than prefix + stop
    if not segments:
        return None
    gpt = engine.parts.t2s.cfg
    # Each segment ends in the stop token, which the table holds besides max_text_tokens.
    why = _text_problem(max(len(s) - 1 for s in segments), gpt.max_text_tokens)
    if why or duration_s is None or duration_s <= 0:
        return why
    plan = LengthPlan25.for_duration(duration_s)
    why = _frames_problem(duration_s, plan.frames, engine.parts.s2m.cfg.dit.block_size)
    if why or mode not in SLOT_MODES:
        return why
    why = _segments_problem(duration_s, plan.codes, len(segments))
    if why:
        return why
    longest = max(split_exact(plan.codes, [len(s) for s in segments]))
    table = gpt.mel_positions - 2  # what the render decodes at most, the stop code included
    if longest <= table:
        return None
    return (
        f"its span of {duration_s:.1f} s needs {longest} semantic codes in one segment, the "
        f"model's position table holds {table} (config max_mel_tokens {gpt.max_mel_tokens} "
        f"and the stop code): split the line or shorten its span"
    )
