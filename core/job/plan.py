"""The plan stage: each line's span and counts, grown into the following silence when
asked (core/lines/borrow_silence.py, core/lines/timing.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from core.audio.original_audio import ExtractedAudio
from core.audio.silence import silence_until_ms
from core.job.lines import LinePlan
from core.lines.borrow_silence import plan_borrowing
from core.lines.limits import line_problem
from core.lines.listening import speech_span
from core.lines.timing import plan_lines
from core.notices import Notice
from core.settings import EXTEND_AUTO, DubSettings
from core.subtitles.read import Cue
from models.contract import Engine


def speech_cue(words: list, cue: Cue) -> Cue:
    """The cue moved onto the speech heard within it, when there is enough of it."""
    span = speech_span(words, cue.start_ms, cue.end_ms)
    if span is None or span[1] - span[0] < 300:
        return cue
    return dataclasses.replace(cue, start_ms=span[0], end_ms=span[1])


def plan_spans(
    lines: list[LinePlan],
    settings: DubSettings,
    duration_s: float,
    extracted: ExtractedAudio | None,
    words: list,
    dialogue16k: Callable[[], np.ndarray | None],
    engine: Engine | None,
    warn: Callable[[Notice], None],
) -> None:
    """Each line's timing; a line no engine can say in its span is refused here."""
    cues = [ln.cue for ln in lines]
    ext, end_ms = settings.extend_into_silence_ms, round(duration_s * 1000)
    silences = None
    if ext != EXTEND_AUTO and ext > 0 and extracted is not None:
        silences = silence_until_ms(extracted.load_mono16k(), 16000, [c.end_ms for c in cues])
    if words:  # the lips move for the speech, not for the subtitle's lead-in
        cues = [speech_cue(words, c) for c in cues]
    if ext == EXTEND_AUTO:  # only what a too-fast line needs (core/lines/borrow_silence.py)
        planned = plan_borrowing(cues, [ln.speaker for ln in lines], words=words,
                                 audio16k=dialogue16k(), video_end_ms=end_ms)  # fmt: skip
    else:
        planned = plan_lines(cues, silences_until_ms=silences, extend_ms=ext, video_end_ms=end_ms)
    for line, timing in zip(lines, planned, strict=True):
        line.timing = timing
        why = line_problem(line.cue.text, timing.duration_s, language=timing.language,
                           mode=line.mode, engine=engine)  # fmt: skip
        if why:  # refused now: never sent to the engine (core/lines/limits.py)
            line.error = f"not dubbed: {why}"
            warn(Notice(line.index, "too-long", line.error))
        elif timing.flag:
            warn(Notice(line.index, "pace", timing.flag))
