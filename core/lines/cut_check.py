"""Suspected cuts (issue 22): a take whose decoder was stopped, not stopping by itself.

The fit report of an IndexTTS take (models/guided.py) says `suspected_cut` when its stop
was forced (T in exact mode, the window's end in guided mode) without the model ever
wishing to stop: the line may end inside a word. The listening check then compares the
take's last words with the text's; a suspected cut whose last words are not heard is
retaken before any other failing line.

Public API::

    suspected_cut(take) -> bool                 the take's fit report says so
    last_words_heard(transcript, text, language) -> bool
    cut_heard(line, language) -> bool           a suspected cut the check confirms
    retake_first(lines, max_error_rate, language) -> list
        the lines to retake: confirmed cuts first, then those over the error rate

A line here is anything with `cue.text`, `take` (core.lines.render.Take) and `check`
(core.lines.listening.TakeCheck), as the pipeline's LinePlan.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.lines.text_compare import edit_distance, is_character_language, normalize

TAIL_WORDS = 2  # spaced languages: the last two words
TAIL_CHARACTERS = 4  # zh / ja / ko: the last four characters
TAIL_TOLERANCE = 0.5  # at most half of the tail misheard still counts as heard


def suspected_cut(take: Any) -> bool:
    fit = getattr(take, "fit", None) or {}
    return bool(fit.get("suspected_cut"))


def last_words_heard(transcript: str, text: str, language: str | None) -> bool:
    """Whether the end of `transcript` says the end of `text` (one normalisation for both,
    as the error rate's): the text's last words against as many heard last."""
    ref = normalize(text, language)
    hyp = normalize(transcript, language)
    n = min(len(ref), TAIL_CHARACTERS if is_character_language(language) else TAIL_WORDS)
    if n == 0:
        return True
    return edit_distance(ref[-n:], hyp[-n:]) <= TAIL_TOLERANCE * n


def cut_heard(line: Any, language: str | None) -> bool:
    """A suspected cut whose last words the listening check did not hear."""
    if line.take is None or line.check is None or not suspected_cut(line.take):
        return False
    return not last_words_heard(line.check.transcript, line.cue.text, language)


def cut_note(line: Any, language: str | None) -> str:
    """What the listening warning adds for a confirmed suspected cut."""
    if not cut_heard(line, language):
        return ""
    return "; its last words are not heard after a forced stop: a suspected cut"


def needs_retake(line: Any, max_error_rate: float, language: str | None) -> bool:
    if line.take is None or line.check is None:
        return False
    return line.check.error_rate > max_error_rate or cut_heard(line, language)


def retake_first(lines: Iterable[Any], max_error_rate: float, language: str | None) -> list:
    """The lines to retake, confirmed suspected cuts first (in line order), then the
    lines whose take is too far from its text."""
    failing = [ln for ln in lines if needs_retake(ln, max_error_rate, language)]
    return sorted(failing, key=lambda ln: not cut_heard(ln, language))
