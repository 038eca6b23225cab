"""Which take of a line is kept when a retake is rendered, and the voice check it asks.

Public API::

    better_take(line, take, check, voice_check) -> bool
        whether `take` (heard as `check`) beats the line's kept take; `voice_check()`
        gives the voice check (or None), asked only when two error rates tie
    open_voice_check(load, model_dir, device, prompts) -> (VoiceCheck | None, reason | None)
        the speaker model for voice similarity, or None and why it cannot be had

A line here is anything with `speaker`, `take`, `check` and `similarity` (the pipeline's
LinePlan); `similarity` always belongs to the kept take, or is None when not yet known.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from core.lines.listening import TakeCheck
from core.lines.render import Take
from core.speakers.embedding import VoiceCheck

SAME_ERROR = 1e-9  # error rates closer than this are equal (both perfect, both unheard)


class _Voice(Protocol):
    def similarity(self, speaker: str, take_audio: Any, rate: int = ...) -> float | None: ...


def better_take(
    line: Any, take: Take, check: TakeCheck, voice_check: Callable[[], _Voice | None]
) -> bool:
    """Whether a retake beats the line's kept take: a lower error rate wins; at the same
    error rate the voice closer to the prompt. On a win `line.similarity` is the winner's
    (None when it is not known yet): the caller then keeps `take`, and the next retake is
    weighed against that take, never against one already thrown away."""
    assert line.check is not None and line.take is not None
    if abs(check.error_rate - line.check.error_rate) > SAME_ERROR:
        if check.error_rate >= line.check.error_rate:
            return False
        # Measured only if a later retake ties with this one (then from the kept take).
        line.similarity = None
        return True
    voice = voice_check()
    if voice is None:  # no speaker model: the first of equals stays
        return False
    if line.similarity is None:
        line.similarity = voice.similarity(line.speaker, line.take.audio, line.take.sample_rate)
    similarity = voice.similarity(line.speaker, take.audio, take.sample_rate)
    if similarity is None or line.similarity is not None and similarity <= line.similarity:
        return False
    line.similarity = similarity
    return True


def open_voice_check(
    load: Callable[[Path, str], Any], model_dir: Path, device: str, prompts: dict
) -> tuple[VoiceCheck | None, str | None]:
    """The voice check on the speaker model `load(model_dir, device)` gives, or None and
    the reason. Only what a model folder can do wrong is caught: files missing, damaged or
    unreadable (OSError, ModelFilesMissing among them) and weights that do not fit the
    network or the device (RuntimeError from torch). Anything else is a defect and is
    raised, not turned into a quietly missing figure."""
    try:
        return VoiceCheck(load(model_dir, device), prompts), None
    except OSError as exc:
        missing = getattr(exc, "missing", None)  # ModelFilesMissing: the files, not the hint
        reason = f"{', '.join(missing)} missing or damaged" if missing else _first_line(exc)
    except RuntimeError as exc:
        reason = _first_line(exc)
    return None, f"the speaker model (CAMPPlus) cannot be loaded: {reason}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
