"""The dubbing project and its file: lines, speakers, settings, read and written as JSON.

The lines (with their emotions and takes) live in core.project.lines, the speakers in
core.project.speakers; this module re-exports them, so `proj.Line` reaches the whole model.

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
from pathlib import Path
from typing import Any

from core.atomic_files import atomic_write_bytes, backup_copy
from core.errors import InputError
from core.notices import Notice
from core.project.autosave import Autosaver
from core.project.lines import Emotion, EmotionMode, Line, Take, effective_mode, inherit_dub_mode
from core.project.speakers import SPEAKER_COLOURS, PromptPart, Speaker
from core.project.values import READ_ERRORS, Reading, cue_of, dub_settings, lenient
from core.project.values import listed as _listed
from core.project.values import opt_dict as _opt_dict
from core.project.values import opt_str as _opt_str
from core.project.values import path_in as _path_in
from core.project.values import path_out as _path_out
from core.project.values import split as _split
from core.project.values import str_ as _str
from core.settings import BackgroundMode, DubSettings

# Re-exported: callers reach the whole project model through this module (`proj.Line`), one
# enum per concept, and the file helpers other modules save with.
__all__ = [
    "SPEAKER_COLOURS",
    "Autosaver",
    "BackgroundMode",
    "DubSettings",
    "Emotion",
    "EmotionMode",
    "Line",
    "PromptPart",
    "Speaker",
    "Take",
    "atomic_write_bytes",
    "backup_copy",
    "effective_mode",
]

# 2: a line's duration mode may be null (it follows the dub's); files of schema 1 stored the
# dub's mode on every line, so there a line's mode equal to the dub's is read as null.
SCHEMA_VERSION = 2
LINE_MODES_SCHEMA = 2  # the first schema whose lines hold only their own duration mode
FORMAT_NAME = "dubsmith-project"
PROJECT_SUFFIX = ".dubsmith.json"


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
            inherit_dub_mode([*project.lines, *project.detached_lines], own_settings.duration_mode)
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
