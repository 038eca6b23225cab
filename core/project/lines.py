"""A project's lines: the cue, its emotion, its duration mode and the takes rendered for it.

Each object reads and writes its part of the project file (core.project holds the file);
with a `Reading`, a bad value is dropped, named with its line and field, and the rest kept.
Keys this version does not know are kept in `extra` and written back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.project.values import Reading, lenient, unit
from core.project.values import int_ as _int
from core.project.values import listed as _listed
from core.project.values import opt_int as _opt_int
from core.project.values import opt_str as _opt_str
from core.project.values import path_in as _path_in
from core.project.values import path_out as _path_out
from core.project.values import split as _split
from core.project.values import str_ as _str
from core.project.values import vector as _vector
from models.contract import EMOTION_NAMES, DurationMode


class EmotionMode(StrEnum):
    DEFAULT = "default"  # the dub's own setting (--emotion original|voice) applies
    VOICE = "voice"  # the speaker prompt's own delivery
    ORIGINAL = "original"  # the original actor's audio of this very line
    REFERENCE = "reference"  # a reference audio file
    VECTOR = "vector"  # the eight sliders
    TEXT = "text"  # a description, turned into a vector by the text-to-emotion model


# --- (de)serialisation helpers (the rest in core.project.values) ---------------------------


def _opt_mode(v: Any) -> DurationMode | None:
    return None if v is None else DurationMode(v)


# --- the model ------------------------------------------------------------------------------


@dataclass
class Emotion:
    mode: EmotionMode = EmotionMode.DEFAULT
    vector: tuple[float, ...] = (0.0,) * len(EMOTION_NAMES)  # EMOTION_NAMES order
    text: str = ""
    reference_path: Path | None = None
    alpha: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ValueError with a message an editor understands."""
        if len(self.vector) != len(EMOTION_NAMES):
            raise ValueError(
                f"an emotion vector has {len(EMOTION_NAMES)} values "
                f"({', '.join(EMOTION_NAMES)}), got {len(self.vector)}"
            )
        for name, v in zip(EMOTION_NAMES, self.vector, strict=True):
            if not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
                raise ValueError(f"emotion '{name}' must be between 0 and 1, got {v}")
        if not isinstance(self.alpha, int | float) or not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"emotion strength (alpha) must be between 0 and 1, got {self.alpha}")
        if self.mode is EmotionMode.TEXT and not self.text.strip():
            raise ValueError("a text emotion needs a description, e.g. 'quietly furious'")
        if self.mode is EmotionMode.REFERENCE and self.reference_path is None:
            raise ValueError("a reference emotion needs a reference audio file")

    def to_dict(self, base: Path | None) -> dict[str, Any]:
        return {
            **copy.deepcopy(self.extra),
            "mode": self.mode.value,
            "vector": dict(zip(EMOTION_NAMES, self.vector, strict=True)),
            "text": self.text,
            "reference_path": _path_out(self.reference_path, base),
            "alpha": self.alpha,
        }

    @classmethod
    def from_dict(
        cls, data: Any, base: Path | None, reading: Reading | None = None, cue: int | None = None
    ) -> Emotion:
        """With a `reading`, a bad value is dropped (its default kept) and named."""
        known = {"mode", "vector", "text", "reference_path", "alpha"}
        d, extra = _split(data, known, "emotion", reading, cue)

        def read(name: str, fn: Callable[[], Any], default: Any) -> Any:
            return lenient(reading, cue, f"emotion {name}", fn, default)

        raw, zero = d.get("vector", {}), Emotion().vector
        if isinstance(raw, dict):  # keyed by name: robust to a reordering of the names
            vector = tuple(
                read(f"'{n}'", lambda n=n: unit(raw.get(n, 0.0)), 0.0) for n in EMOTION_NAMES
            )
        else:
            vector = read("vector", lambda: _vector(raw), zero)
        return cls(
            mode=read("mode", lambda: EmotionMode(d.get("mode", "default")), EmotionMode.DEFAULT),
            vector=vector,
            text=read("text", lambda: _str(d.get("text", "")), ""),
            reference_path=read("reference", lambda: _path_in(d.get("reference_path"), base), None),
            alpha=read("strength (alpha)", lambda: unit(d.get("alpha", 1.0)), 1.0),
            extra=extra,
        )


@dataclass
class Take:
    """One rendering of a line, kept so the editor can compare and go back."""

    when: datetime
    key: str  # content hash of everything that shaped the audio
    cache_path: Path  # the rendered WAV
    requested_samples: int | None  # None: free pace
    rendered_samples: int
    duration_mode: DurationMode
    flag: str | None = None
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, base: Path | None) -> dict[str, Any]:
        return {
            **copy.deepcopy(self.extra),
            "when": self.when.isoformat(),
            "key": self.key,
            "cache_path": _path_out(self.cache_path, base),
            "requested_samples": self.requested_samples,
            "rendered_samples": self.rendered_samples,
            "duration_mode": self.duration_mode.value,
            "flag": self.flag,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(
        cls, data: Any, base: Path | None, reading: Reading | None = None, cue: int | None = None
    ) -> Take:
        known = {
            "when",
            "key",
            "cache_path",
            "requested_samples",
            "rendered_samples",
            "duration_mode",
            "flag",
            "seed",
        }
        d, extra = _split(data, known, "take", reading, cue)
        cache_path = _path_in(d["cache_path"], base)
        if cache_path is None:
            raise TypeError("a take needs its cache path")
        return cls(
            when=datetime.fromisoformat(_str(d["when"])),
            key=_str(d["key"]),
            cache_path=cache_path,
            requested_samples=_opt_int(d.get("requested_samples")),
            rendered_samples=_int(d["rendered_samples"]),
            duration_mode=DurationMode(d.get("duration_mode", DurationMode.EXACT.value)),
            flag=_opt_str(d.get("flag")),
            seed=_int(d.get("seed", 0)),
            extra=extra,
        )


@dataclass
class Line:
    # The line's number wherever it is shown or named (table, warnings, report, stems,
    # timeline): its cue number in the subtitle file, which the desk's edited SRT keeps.
    index: int
    start_ms: int
    end_ms: int
    text: str
    speaker_id: str | None = None
    emotion: Emotion = field(default_factory=Emotion)
    # The editor's choice for this line; None: the dub's own (`DubSettings.duration_mode`).
    # Read it through `effective_mode`, never on its own.
    duration_mode: DurationMode | None = None
    takes: list[Take] = field(default_factory=list)  # oldest first
    extra: dict[str, Any] = field(default_factory=dict)
    # The line's key across subtitle files renumbered elsewhere (a cue inserted before it):
    # L and its first cue number (L5), given by the project when empty; seeds use it.
    id: str = ""
    # Who decided the speaker: "user" (kept through every re-analysis), "hint" (the
    # subtitles name it), "diarization", "clustering", "single" (one voice for all).
    speaker_source: str = ""
    speaker_flag: str | None = None  # two voices in the span, no speech found...

    @property
    def has_editor_settings(self) -> bool:
        """True when the editor set something on this line that a re-read must not lose."""
        return (
            self.emotion != Emotion()
            or self.speaker_source == "user"
            or self.duration_mode is not None
        )

    @property
    def seed_number(self) -> int:
        """The number in its id (L5: 5), which stays when cues are inserted before it: a
        dub's seed for the line is the dub's seed plus this, so nothing else re-renders."""
        return int(self.id[1:]) if self.id[:1] == "L" and self.id[1:].isdigit() else self.index

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def latest_take(self) -> Take | None:
        return self.takes[-1] if self.takes else None

    def to_dict(self, base: Path | None) -> dict[str, Any]:
        return {
            **copy.deepcopy(self.extra),
            "id": self.id,
            "speaker_source": self.speaker_source,
            "speaker_flag": self.speaker_flag,
            "index": self.index,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "text": self.text,
            "speaker_id": self.speaker_id,
            "emotion": self.emotion.to_dict(base),
            "duration_mode": None if self.duration_mode is None else self.duration_mode.value,
            "takes": [t.to_dict(base) for t in self.takes],
        }

    @classmethod
    def from_dict(cls, data: Any, base: Path | None, reading: Reading | None = None) -> Line:
        """With a `reading`, a bad value (but the cue number, span and text, without which
        there is no line) is dropped and named, with the line's cue number."""
        known = {"id", "speaker_source", "speaker_flag", "index", "start_ms", "end_ms",
                 "text", "speaker_id", "emotion", "duration_mode", "takes"}  # fmt: skip
        if not isinstance(data, dict):
            raise TypeError(f"a line must be an object, got {type(data).__name__}")
        cue = _int(data["index"])
        d, extra = _split(data, known, "line", reading, cue)

        def read(name: str, fn: Callable[[], Any], default: Any) -> Any:
            return lenient(reading, cue, name, fn, default)

        takes = read("takes", lambda: _listed(d.get("takes", [])), [])
        takes = [
            read(f"take {n}", lambda t=t: Take.from_dict(t, base, reading, cue), None)
            for n, t in enumerate(takes, start=1)
        ]
        emotion = d.get("emotion", {})
        return cls(
            index=cue,
            start_ms=_int(d["start_ms"]),
            end_ms=_int(d["end_ms"]),
            text=_str(d["text"]),
            speaker_id=read("speaker", lambda: _opt_str(d.get("speaker_id")), None),
            emotion=read(
                "emotion", lambda: Emotion.from_dict(emotion, base, reading, cue), Emotion()
            ),  # fmt: skip
            duration_mode=read("duration mode", lambda: _opt_mode(d.get("duration_mode")), None),
            takes=[t for t in takes if t is not None],
            extra=extra,
            id=read("id", lambda: _str(d.get("id", "")), ""),
            speaker_source=read("speaker source", lambda: _str(d.get("speaker_source", "")), ""),
            speaker_flag=read("speaker flag", lambda: _opt_str(d.get("speaker_flag")), None),
        )


def effective_mode(line: Line | None, dub_mode: DurationMode) -> DurationMode:
    """The duration mode a line renders in: its own, else the dub's (also for a dub that
    keeps no project, where a cue has no Line)."""
    own = None if line is None else line.duration_mode
    return dub_mode if own is None else own


def inherit_dub_mode(lines: list[Line], dub_mode: DurationMode) -> None:
    """Schema 1 wrote the dub's mode onto every line: one equal to it was no choice of the
    editor's and now follows the dub; a line saved without a mode never had one."""
    for line in lines:
        if line.duration_mode == dub_mode:
            line.duration_mode = None
