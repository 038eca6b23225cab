"""The dubbing project: lines, speakers, emotions, takes and export settings.

A project is saved as versioned JSON next to its video (`movie.mp4` ->
`movie.dubsmith.json`), written atomically so a crash never leaves half a file. A bad
value (inf, a word for a number) is dropped when read, named with its line and field, and
the rest kept. A file that is no project (corrupt JSON) is left untouched with a
timestamped backup copy, and `ProjectError` says what happened; a newer Dubsmith's file
is neither read nor written over (`NewerProjectError`).

Paths inside the project folder are stored relative to it (the folder can be moved or
shared); other paths are stored absolute. In memory every path is as given or, after
loading, absolute.

Keys this version does not know are kept in each object's `extra` and written back, so a
file touched by a newer minor release of the same schema loses nothing.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.atomic_files import atomic_write_bytes, backup_copy
from core.autosave import Autosaver
from core.errors import InputError
from core.notices import Notice
from core.project_values import READ_ERRORS, Reading, cue_of, dub_settings, lenient, unit
from core.project_values import float_ as _float
from core.project_values import int_ as _int
from core.project_values import listed as _listed
from core.project_values import opt_dict as _opt_dict
from core.project_values import opt_float as _opt_float
from core.project_values import opt_int as _opt_int
from core.project_values import opt_str as _opt_str
from core.project_values import path_in as _path_in
from core.project_values import path_out as _path_out
from core.project_values import split as _split
from core.project_values import str_ as _str
from core.project_values import vector as _vector
from core.settings import BackgroundMode, DubSettings
from models.contract import EMOTION_NAMES, DurationMode

# Re-exported: one enum per concept; the file helpers other modules save with.
__all__ = ["Autosaver", "BackgroundMode", "DubSettings", "atomic_write_bytes", "backup_copy"]

# 2: a line's duration mode may be null (it follows the dub's); files of schema 1 stored the
# dub's mode on every line, so there a line's mode equal to the dub's is read as null.
SCHEMA_VERSION = 2
LINE_MODES_SCHEMA = 2  # the first schema whose lines hold only their own duration mode
FORMAT_NAME = "dubsmith-project"
PROJECT_SUFFIX = ".dubsmith.json"

# Distinct, readable on dark and light timelines; speakers beyond these cycle.
SPEAKER_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)


class ProjectError(Exception):
    """A project file cannot be read or written; the message is meant for the user."""


class NewerProjectError(ProjectError, InputError):
    """The file was made by a newer Dubsmith: it is neither read nor written over (no
    backup, no fresh project in its place); the dub stops as for any unusable input."""


def project_path_for(video: str | os.PathLike[str]) -> Path:
    """`movie.mp4` -> `movie.dubsmith.json` in the same folder."""
    video = Path(video)
    return video.with_name(video.stem + PROJECT_SUFFIX)


def project_file_for(video: str | os.PathLike[str]) -> Path:
    """Where a video's project lives (the one rule, for the dub, the window and `save()`):
    movie.dubsmith.json, unless that file belongs to another video beside it (movie.mkv
    next to movie.mp4): then movie.mp4.dubsmith.json, so neither project clobbers the other."""
    video = Path(video)
    path = project_path_for(video)
    owner = _owner_video(path)
    if owner is not None and owner.resolve() != video.resolve():
        return video.with_name(video.name + PROJECT_SUFFIX)
    return path


def _owner_video(path: Path) -> Path | None:
    """The video a project file names, read without loading it (no backup of a bad file)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
        return _path_in(data.get("video_path"), path.parent)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


class EmotionMode(StrEnum):
    DEFAULT = "default"  # the dub's own setting (--emotion original|voice) applies
    VOICE = "voice"  # the speaker prompt's own delivery
    ORIGINAL = "original"  # the original actor's audio of this very line
    REFERENCE = "reference"  # a reference audio file
    VECTOR = "vector"  # the eight sliders
    TEXT = "text"  # a description, turned into a vector by the text-to-emotion model


# --- (de)serialisation helpers (the rest in core.project_values) ---------------------------


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
class PromptPart:
    """A stretch of the original chosen for a speaker's timbre prompt, and why."""

    start_ms: int
    end_ms: int
    score: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "score": self.score,
                "reason": self.reason}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Any) -> PromptPart:
        if not isinstance(d, dict):
            raise TypeError("a prompt part must be an object")
        return cls(_int(d["start_ms"]), _int(d["end_ms"]), _float(d.get("score", 0.0)),
                   _str(d.get("reason", "")))  # fmt: skip


@dataclass
class Speaker:
    id: str
    name: str
    prompt_path: Path | None = None  # the editor's voice sample file; None: cut from the video
    colour: str = SPEAKER_COLOURS[0]
    extra: dict[str, Any] = field(default_factory=dict)
    prompt_parts: list[PromptPart] = field(default_factory=list)  # the cut prompt, with reasons
    prompt_score: float | None = None
    prompt_lines: list[str] = field(default_factory=list)  # line ids the editor chose instead
    prompt_text: str | None = None  # what the prompt says (whisper), for engines that use it
    prompt_text_key: str | None = None  # the prompt audio it was heard in (VoicePrompt.key)

    def to_dict(self, base: Path | None) -> dict[str, Any]:
        return {
            **copy.deepcopy(self.extra),
            "id": self.id,
            "name": self.name,
            "prompt_path": _path_out(self.prompt_path, base),
            "colour": self.colour,
            "prompt_parts": [p.to_dict() for p in self.prompt_parts],
            "prompt_score": self.prompt_score,
            "prompt_lines": list(self.prompt_lines),
            "prompt_text": self.prompt_text,
            "prompt_text_key": self.prompt_text_key,
        }

    @classmethod
    def from_dict(cls, data: Any, base: Path | None, reading: Reading | None = None) -> Speaker:
        """With a `reading`, a bad value (but the id) is dropped and named."""
        known = {"id", "name", "prompt_path", "colour", "prompt_parts", "prompt_score",
                 "prompt_lines", "prompt_text", "prompt_text_key"}  # fmt: skip
        d, extra = _split(data, known, "speaker", reading)
        sid = _str(d["id"])

        def read(name: str, fn: Callable[[], Any], default: Any) -> Any:
            return lenient(reading, None, f"speaker '{sid}' {name}", fn, default)

        parts = read("prompt parts", lambda: _listed(d.get("prompt_parts", [])), [])
        parts = [read("prompt part", lambda p=p: PromptPart.from_dict(p), None) for p in parts]
        return cls(
            id=sid,
            name=read("name", lambda: _str(d.get("name", sid)), sid),
            prompt_path=read("voice file", lambda: _path_in(d.get("prompt_path"), base), None),
            colour=read("colour", lambda: _str(d.get("colour", SPEAKER_COLOURS[0])),
                        SPEAKER_COLOURS[0]),  # fmt: skip
            extra=extra,
            prompt_parts=[p for p in parts if p is not None],
            prompt_score=read("prompt score", lambda: _opt_float(d.get("prompt_score")), None),
            prompt_lines=read("prompt lines",
                              lambda: [_str(x) for x in _listed(d.get("prompt_lines", []))], []),
            prompt_text=read("prompt text", lambda: _opt_str(d.get("prompt_text")), None),
            prompt_text_key=read("prompt text key",
                                 lambda: _opt_str(d.get("prompt_text_key")), None),
        )  # fmt: skip


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


def _inherit_dub_mode(lines: list[Line], dub_mode: DurationMode) -> None:
    """Schema 1 wrote the dub's mode onto every line: one equal to it was no choice of the
    editor's and now follows the dub; a line saved without a mode never had one."""
    for line in lines:
        if line.duration_mode == dub_mode:
            line.duration_mode = None


@dataclass
class ModelSettings:
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    model_dir: Path | None = None  # None: the default model directory
    precision: str = "auto"  # "auto" (bf16 on a GPU that has it), "fp32", "bf16", "fp16"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, base: Path | None) -> dict[str, Any]:
        # The model directory is a machine setting, never relative to a project.
        return {
            **copy.deepcopy(self.extra),
            "device": self.device,
            "model_dir": None if self.model_dir is None else str(self.model_dir),
            "precision": self.precision,
        }

    @classmethod
    def from_dict(
        cls, data: Any, base: Path | None, reading: Reading | None = None
    ) -> ModelSettings:
        d, extra = _split(data, {"device", "model_dir", "precision"}, "model settings", reading)

        def read(name: str, fn: Callable[[], Any], default: Any) -> Any:
            return lenient(reading, None, f"model {name}", fn, default)

        return cls(
            device=read("device", lambda: _str(d.get("device", "auto")), "auto"),
            model_dir=read("folder", lambda: _path_in(d.get("model_dir"), None), None),
            precision=read("precision", lambda: _str(d.get("precision", "auto")), "auto"),
            extra=extra,
        )


_PROJECT_KEYS = {
    "format",
    "schema",
    "video_path",
    "subtitle_path",
    "language",
    "output_path",
    "model",
    "settings",
    "speakers",
    "lines",
    "detached_lines",
    "analysis",
}


@dataclass
class Project:
    video_path: Path | None = None
    subtitle_path: Path | None = None
    language: str | None = None  # the dub's language (that of the subtitles)
    output_path: Path | None = None
    model: ModelSettings = field(default_factory=ModelSettings)
    settings: DubSettings = field(default_factory=DubSettings)
    speakers: list[Speaker] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    # Lines whose cue the subtitles no longer have, kept because the editor set something on
    # them; a cue that comes back (same text or time) gets its line, and settings, back.
    detached_lines: list[Line] = field(default_factory=list)
    # What found the speakers, in the editor's words, e.g. {"method": "diarization",
    # "detail": "pyannote (offline) found 3 speakers"}; None: not analysed yet.
    analysis: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Where the project was loaded from / last saved to; not part of its content.
    path: Path | None = field(default=None, compare=False, repr=False)
    # What the read of its file dropped (bad values), each naming the line and field.
    load_notices: list[Notice] = field(default_factory=list, compare=False, repr=False)

    # -- small conveniences --

    def speaker(self, speaker_id: str | None) -> Speaker | None:
        return next((s for s in self.speakers if s.id == speaker_id), None)

    def named_speaker(self, speaker_id: str, name: str) -> Speaker:
        """The speaker with this id, added (coloured by its place in the list) if new."""
        speaker = self.speaker(speaker_id)
        if speaker is None:
            colour = SPEAKER_COLOURS[len(self.speakers) % len(SPEAKER_COLOURS)]
            speaker = Speaker(id=speaker_id, name=name, colour=colour)
            self.speakers.append(speaker)
        return speaker

    def add_speaker(self, name: str | None = None, prompt_path: Path | None = None) -> Speaker:
        """A new speaker with a fresh id (S1, S2, ...) and the next free colour."""
        taken = {s.id for s in self.speakers}
        n = 1
        while f"S{n}" in taken:
            n += 1
        used = {s.colour for s in self.speakers}
        free = [c for c in SPEAKER_COLOURS if c not in used]
        colour = free[0] if free else SPEAKER_COLOURS[len(self.speakers) % len(SPEAKER_COLOURS)]
        speaker = Speaker(f"S{n}", name or f"Speaker {n}", prompt_path, colour)
        self.speakers.append(speaker)
        return speaker

    def give_line_ids(self) -> None:
        """Every line, attached or detached, gets a unique id if it has none or shares one
        (a hand-edited file): L and its cue number (L5 for cue 5) unless a line already has
        that id, which it keeps; else the next free number."""
        every = [*self.lines, *self.detached_lines]
        owner: dict[str, Line] = {}
        for ln in every:
            owner.setdefault(ln.id, ln)
        numbers = [int(i[1:]) for i in owner if i[:1] == "L" and i[1:].isdigit()]
        next_n = max([*numbers, *(ln.index for ln in every)], default=0) + 1
        for ln in every:
            if ln.id and owner[ln.id] is ln:
                continue
            if f"L{ln.index}" not in owner:
                ln.id = f"L{ln.index}"
            else:
                ln.id, next_n = f"L{next_n}", next_n + 1
            owner[ln.id] = ln

    def default_path(self) -> Path:
        if self.path is not None:
            return self.path
        if self.video_path is None:
            raise ProjectError("the project has no video yet, so it has nowhere to be saved")
        return project_file_for(self.video_path)

    def validate(self) -> None:
        """Raise ValueError on settings the pipeline cannot use."""
        self.settings.validate()
        for line in self.lines:
            if line.start_ms < 0 or line.end_ms < line.start_ms:
                raise ValueError(f"line {line.index}: bad span {line.start_ms}..{line.end_ms} ms")
            if line.speaker_id is not None and self.speaker(line.speaker_id) is None:
                raise ValueError(f"line {line.index}: unknown speaker '{line.speaker_id}'")
            try:
                line.emotion.validate()
            except ValueError as e:
                raise ValueError(f"line {line.index}: {e}") from None

    # -- JSON --

    def to_dict(self, base: Path | None = None) -> dict[str, Any]:
        """JSON-ready content; paths inside `base` (the project folder) become relative."""
        return {
            **copy.deepcopy(self.extra),
            "format": FORMAT_NAME,
            "schema": SCHEMA_VERSION,
            "video_path": _path_out(self.video_path, base),
            "subtitle_path": _path_out(self.subtitle_path, base),
            "language": self.language,
            "output_path": _path_out(self.output_path, base),
            "model": self.model.to_dict(base),
            "settings": self.settings.to_dict(),
            "speakers": [s.to_dict(base) for s in self.speakers],
            "lines": [line.to_dict(base) for line in self.lines],
            "detached_lines": [line.to_dict(base) for line in self.detached_lines],
            "analysis": copy.deepcopy(self.analysis),
        }

    @classmethod
    def from_dict(
        cls, data: Any, base: Path | None = None, reading: Reading | None = None
    ) -> Project:
        """Build from `to_dict` output of this schema. Raises KeyError/TypeError/ValueError;
        with a `reading` (a file), only for a file that is no project: a bad value, speaker
        or line is dropped, the rest kept, and each drop noted in `load_notices`."""
        d, extra = _split(data, _PROJECT_KEYS, "a project", reading)

        def read(name: str, fn: Callable[[], Any], default: Any) -> Any:
            return lenient(reading, None, name, fn, default)

        def each(name: str, fn: Callable[[Any], Any]) -> list[Any]:
            items = read(name, lambda: _listed(d.get(name, [])), [])
            got = [read(f"{name.replace('_', ' ')[:-1]} #{n} ({cue_of(x)})", lambda x=x: fn(x), None)
                   for n, x in enumerate(items, start=1)]  # fmt: skip
            return [x for x in got if x is not None]

        settings = d.get("settings")
        if settings is None:  # files before typed settings kept three of them at the top
            settings = {
                new: extra.pop(old)
                for old, new in (
                    ("background_mode", "background"),
                    ("duck_db", "duck_db"),
                    ("keep_original_track", "keep_original_track"),
                )
                if old in extra
            }
        own_settings = dub_settings(settings, reading)
        project = cls(
            video_path=read("video", lambda: _path_in(d.get("video_path"), base), None),
            subtitle_path=read("subtitles", lambda: _path_in(d.get("subtitle_path"), base), None),
            language=read("language", lambda: _opt_str(d.get("language")), None),
            output_path=read("output", lambda: _path_in(d.get("output_path"), base), None),
            model=read(
                "model settings",
                lambda: ModelSettings.from_dict(d.get("model", {}), base, reading),
                ModelSettings(),
            ),  # fmt: skip
            settings=own_settings,
            speakers=each("speakers", lambda x: Speaker.from_dict(x, base, reading)),
            lines=each("lines", lambda x: Line.from_dict(x, base, reading)),
            detached_lines=each("detached_lines", lambda x: Line.from_dict(x, base, reading)),
            analysis=read("analysis", lambda: _opt_dict(d.get("analysis"), reading), None),
            extra=extra,
        )
        project.load_notices = [] if reading is None else reading.notices
        schema = d.get("schema", SCHEMA_VERSION)  # none: content built in memory, current
        if isinstance(schema, int) and schema < LINE_MODES_SCHEMA:
            _inherit_dub_mode([*project.lines, *project.detached_lines], own_settings.duration_mode)
        project.give_line_ids()
        return project

    # -- undo support --

    def snapshot(self) -> dict[str, Any]:
        """A deep, independent copy of the content (paths absolute), for undo stacks."""
        return self.to_dict(None)

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Put the content back to a `snapshot()`; `path` is kept."""
        other = Project.from_dict(copy.deepcopy(snapshot), None)
        for name in self.__dataclass_fields__:
            if name not in ("path", "load_notices"):
                setattr(self, name, getattr(other, name))

    # -- files --

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write atomically to `path` (default: where it came from, else next to the video)."""
        target = Path(path) if path is not None else self.default_path()
        save_project(self, target)
        self.path = target
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Project:
        return load_project(path)


# --- files ----------------------------------------------------------------------------------

# (size, mtime) of each project file as this process last read or wrote it: a save checks
# what is on disk (a newer Dubsmith's file is never written over) only when it changed.
_KNOWN: dict[str, tuple[int, int]] = {}


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _newer(path: Path, schema: Any) -> NewerProjectError:
    return NewerProjectError(
        f"{path} was made by a newer Dubsmith (schema {schema}, this one reads up to "
        f"{SCHEMA_VERSION}); update Dubsmith to open it. The file was left as it is."
    )


def _refuse_newer(path: Path) -> None:
    stamp = _stamp(path)
    if stamp is None or _KNOWN.get(os.path.abspath(path)) == stamp:
        return
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):  # not ours to keep: the read kept a backup of it
        return
    schema = data.get("schema") if isinstance(data, dict) else None
    if data.get("format", FORMAT_NAME) == FORMAT_NAME and _is_newer(schema):
        raise _newer(path, schema)


def _is_newer(schema: Any) -> bool:
    return isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA_VERSION


def _unreadable(path: Path, why: str) -> ProjectError:
    try:
        kept = f"; a copy was kept as {backup_copy(path).name}"
    except OSError as e:
        kept = f"; no backup copy could be made ({e})"
    return ProjectError(f"{path} {why}{kept}")


def save_project(project: Project, path: str | os.PathLike[str]) -> None:
    """Raises NewerProjectError, and writes nothing, over a newer Dubsmith's project."""
    path = Path(path)
    project.give_line_ids()  # a saved line has its identity, so the file round-trips
    try:
        text = json.dumps(
            project.to_dict(path.parent), ensure_ascii=False, indent=1, allow_nan=False
        )
    except (TypeError, ValueError) as e:
        raise ProjectError(f"cannot save {path}: {e}") from e
    _refuse_newer(path)
    try:
        atomic_write_bytes(path, (text + "\n").encode("utf-8"))
    except OSError as e:
        raise ProjectError(f"cannot save {path}: {e}") from e
    if (stamp := _stamp(path)) is not None:
        _KNOWN[os.path.abspath(path)] = stamp


def load_project(path: str | os.PathLike[str]) -> Project:
    """Read a project file. A bad value is dropped and named (`Project.load_notices`); a
    file that is no project is left as it is, with a backup copy; a newer Dubsmith's file
    raises NewerProjectError and is not touched at all."""
    path = Path(path)
    stamp = _stamp(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ProjectError(f"cannot read {path}: {e}") from e
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data":  # a character cut in two: a truncated save
            raise _unreadable(path, "is corrupt (it stops in the middle of a character)") from None
        raise _unreadable(path, "is not a Dubsmith project (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise _unreadable(
            path, f"is corrupt (bad JSON at line {e.lineno}, column {e.colno})"
        ) from None
    if not isinstance(data, dict) or data.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise _unreadable(path, "is not a Dubsmith project")
    schema = data.get("schema")
    if _is_newer(schema):
        raise _newer(path, schema)
    if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
        raise _unreadable(path, f"is corrupt (bad schema version {schema!r})")
    try:
        project = Project.from_dict(data, path.parent, Reading())
    except READ_ERRORS as e:
        what = f"missing field {e}" if isinstance(e, KeyError) else str(e)
        raise _unreadable(path, f"is corrupt ({what})") from None
    project.path = path
    if stamp is not None:
        _KNOWN[os.path.abspath(path)] = stamp
    return project
