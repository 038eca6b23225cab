"""What `batch --resume` compares: a finished job's fingerprint, and the record of the jobs
finished (and of every file the batch wrote) kept in the output folder.

A fingerprint covers everything that shapes a job's output: the batch's options (the
command line's settings, model folder, device, precision, voices, sampling), the job's own
settings on top, which engine renders and the model files it loads, the Dubsmith version,
and the content of the inputs (video, subtitles, voice files). Whatever changes among
these, the job is dubbed again (its unchanged lines still come from the take cache).

The project file beside a video is left out: every job of that video saves its settings
and takes into it, so two jobs of one video (two seeds, two outputs) would redo each other
on every resume. After editing a project in the desk, run the batch without --resume.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

from core.job.options import DubOptions
from core.models.engines import resolve_device
from core.project import atomic_write_bytes
from core.subtitles.read import find_subtitles_for
from models.registry import default_model_dir

STATE_NAME = ".dubsmith-batch.json"  # in the output folder: which jobs are finished

# Options that say where a dub writes, not what it sounds like; every other DubOptions
# field (including ones added later) is part of the fingerprint.
_WHERE_FIELDS = frozenset(
    {"output", "subtitles", "stems_dir", "dub_wav", "report_path", "work_dir", "save_project"}
)
# Inputs up to this size are hashed whole. A bigger one (a feature film is gigabytes, and
# a resume must not read them all again) is known by its size, modification time and
# first and last MiB: an edit that keeps size and time and touches only the middle of a
# video is the one change a resume misses.
FULL_HASH_LIMIT = 64 * 1024 * 1024
_EDGE = 1024 * 1024


class Job(Protocol):
    """What this module reads of a batch job (core.batch.run.JobSpec)."""

    video: Path
    output: Path
    subtitles: Path | None
    changes: dict[str, Any]
    voices: dict[str, Path]


def content_digest(path: Path | None) -> str:
    """The content of an input file (see FULL_HASH_LIMIT), or why it has none."""
    if path is None:
        return "none"
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size <= FULL_HASH_LIMIT:
                for chunk in iter(lambda: f.read(_EDGE), b""):
                    h.update(chunk)
            else:
                h.update(f"{size}:{os.fstat(f.fileno()).st_mtime_ns}:".encode())
                h.update(f.read(_EDGE))
                f.seek(size - _EDGE)
                h.update(f.read(_EDGE))
    except OSError as exc:
        return f"unreadable:{type(exc).__name__}"
    return h.hexdigest()


def model_files_digest(model_dir: Path | None, limit: int = 100_000) -> str:
    """Where the model folder's files are, their sizes and modification times (cheap: no
    gigabytes hashed, and a replaced checkpoint changes it). Covers which engines are
    installed too, so an engine added to the folder (language routing) counts."""
    root = Path(model_dir) if model_dir else default_model_dir()
    if not root.is_dir():
        return f"{root}:missing"
    entries = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            p = Path(folder) / name
            try:
                st = p.stat()
                entries.append(f"{p.relative_to(root)}={p.resolve()}:{st.st_size}:{st.st_mtime_ns}")
            except OSError:
                entries.append(f"{p.relative_to(root)}=?")
            if len(entries) >= limit:  # a folder linked into itself must not hang a resume
                break
        if len(entries) >= limit:
            break
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def _engine_identity(factory: Any) -> str:
    """Which engine code renders: a registered engine by name (the model files say which
    weights), a caller's own factory by its type."""
    inner = getattr(factory, "factory", factory)  # EngineCache around the real factory
    entry = getattr(inner, "entry", None)
    if entry is not None:
        return f"registry:{entry.name}"
    kind = type(inner)
    return f"{kind.__module__}.{kind.__qualname__}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return repr(value)


def _version() -> str:
    try:
        return version("dubsmith")
    except PackageNotFoundError:
        return "source"


def run_fingerprint(template: DubOptions, engine_factory: Any) -> dict[str, Any]:
    """What every job of a batch shares (computed once: it walks the model folder)."""
    options = {
        f.name: getattr(template, f.name)
        for f in dataclasses.fields(template)
        if f.name not in _WHERE_FIELDS | {"changes", "voices"}
    }
    return {
        "options": options,
        "device_used": resolve_device(template.device),
        "engine": _engine_identity(engine_factory),
        "model_files": model_files_digest(template.model_dir),
        "dubsmith": _version(),
    }


def job_fingerprint(spec: Job, template: DubOptions, shared: dict[str, Any]) -> str:
    """What a job is made from: the batch's shared part, the settings it ends up with (the
    command line's under the job's own), and its inputs' content."""
    changes = {**template.changes, **spec.changes}
    voices = {**template.voices, **spec.voices}
    # The dub finds subtitles beside the video when none are named: those are an input too.
    subtitles = spec.subtitles or find_subtitles_for(spec.video)
    parts = {
        **shared,
        "settings": {k: v for k, v in changes.items() if v is not None},
        "video": content_digest(spec.video),
        "subtitles": [str(subtitles), content_digest(subtitles)],
        "voices": {k: [str(p), content_digest(Path(p))] for k, p in sorted(voices.items())},
    }
    blob = json.dumps(parts, sort_keys=True, default=_jsonable)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class BatchState:
    """Finished jobs (output -> fingerprint), kept in the output folder so `resume` knows
    what not to redo, and every output a batch wrote there (so a later batch over that
    folder does not take them for videos to dub)."""

    def __init__(self, outdir: Path) -> None:
        self.path = Path(outdir) / STATE_NAME
        self.done: dict[str, str] = {}
        self.written: list[str] = []
        try:
            data = json.loads(self.path.read_text())
            self.done = {str(k): str(v) for k, v in dict(data.get("done", {})).items()}
            self.written = [str(p) for p in data.get("written", [])]
        except (OSError, ValueError, AttributeError, TypeError):
            pass

    def is_finished(self, spec: Job, fingerprint: str) -> bool:
        return spec.output.exists() and self.done.get(str(spec.output)) == fingerprint

    def mark_finished(self, spec: Job, fingerprint: str) -> None:
        self.done[str(spec.output)] = fingerprint
        self.mark_written(spec)

    def mark_unfinished(self, spec: Job) -> None:
        """An output written but not finished (a job with silent lines): resume redoes it."""
        self.done.pop(str(spec.output), None)
        self.mark_written(spec)

    def mark_written(self, spec: Job) -> None:
        if str(spec.output) not in self.written:
            self.written.append(str(spec.output))
        self._save()

    def _save(self) -> None:
        data = {"done": self.done, "written": self.written}
        atomic_write_bytes(self.path, json.dumps(data, indent=1).encode())


def outputs_written_in(folder: Path) -> set[Path]:
    """The files a batch recorded writing into `folder` (resolved)."""
    state = BatchState(folder)
    return {Path(p).resolve() for p in [*state.done, *state.written]}
