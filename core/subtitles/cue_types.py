"""The types every subtitle module shares: the error, a cue, a document, a reader's raw cue.

They live here rather than in core.subtitles.read (which re-exports them as the public front)
so that the readers and checks can use them without importing the module that imports
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.notices import Notice


class SubtitleError(Exception):
    """The file cannot be read as subtitles; the message names it and says what to do."""


# A subtitle warning is a Notice (core/notices.py): one type for every warning shown.
SubtitleWarning = Notice


@dataclass
class Cue:
    index: int  # 1-based number in the file's order
    start_ms: int
    end_ms: int
    text: str  # cleaned of markup, whitespace collapsed, lines joined with a space
    speaker_hint: str | None
    raw: str  # original text with markup
    usable: bool = True  # False for empty / zero / negative length
    sources: tuple[int, ...] = ()  # cue numbers merged into this one (empty if not merged)
    line: int | None = None  # 1-based line of its timing in the file (SRT, WebVTT), if known

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass
class SubtitleDoc:
    path: Path
    format: str  # "srt", "ass", "ssa", "vtt", "microdvd", "ttml" (or another pysubs2 id)
    encoding: str
    cues: list[Cue]  # in the file's order
    warnings: list[SubtitleWarning]
    fps: float | None = None  # frame rate used for frame-based timing, if any

    def usable_cues(self) -> list[Cue]:
        """Cues the pipeline should dub, in playback order."""
        return sorted((c for c in self.cues if c.usable), key=lambda c: (c.start_ms, c.index))

    def warnings_for(self, cue: int) -> list[SubtitleWarning]:
        return [w for w in self.warnings if w.cue == cue]


@dataclass
class RawCue:
    """One cue as a format reader found it, before text cleaning and checks."""

    start_ms: int
    end_ms: int
    raw: str
    name: str | None = None
    plain: str | None = None  # text already free of markup (TTML), else None
    line: int | None = None  # 1-based line of its timing line (SRT, WebVTT)
