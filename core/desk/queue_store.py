"""The desk's batch queue, kept on disk: which videos wait, which ran and how they ended.

A queue outlives the window: on the next start the finished jobs are listed as they ended
and the rest wait again (a job that was running when the window closed starts over; its
finished lines come back from the take cache). Written atomically after every change.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import project as proj
from core.errors import OptionError
from core.job.project_keeper import project_file_for
from core.project import atomic_write_bytes
from core.settings import DubSettings
from core.subtitles.read import find_subtitles_for

QUEUE_FILE_ENV = "DUBSMITH_QUEUE_FILE"
FINISHED = ("done", "failed", "cancelled")


def default_queue_file() -> Path:
    env = os.environ.get(QUEUE_FILE_ENV)
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("Dubsmith", appauthor=False)) / "queue.json"


@dataclass
class QueueEntry:
    video: Path
    output: Path
    subtitles: Path | None = None
    changes: dict[str, Any] = field(default_factory=dict)  # this job's dub settings
    stems_dir: Path | None = None  # one WAV per line, when asked for
    report_path: Path | None = None  # the JSON report of every line, when asked for
    status: str = "waiting"  # waiting, running, done, failed, cancelled
    error: str | None = None
    stage: str = ""
    done: int = 0
    total: int = 0

    @property
    def name(self) -> str:
        return self.video.name

    def why_not_editable(self) -> str | None:
        """None when the job's settings may still change; else why not, for the editor."""
        if self.status == "running":
            return "This job is running: its settings are fixed until it ends."
        if self.status in FINISHED:
            return f"This job has ended ({self.status}): add the video again to dub it anew."
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": str(self.video),
            "output": str(self.output),
            "subtitles": None if self.subtitles is None else str(self.subtitles),
            "changes": dict(self.changes),
            "stems_dir": None if self.stems_dir is None else str(self.stems_dir),
            "report_path": None if self.report_path is None else str(self.report_path),
            "status": self.status,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QueueEntry:
        status = str(d.get("status", "waiting"))
        return cls(
            video=Path(d["video"]),
            output=Path(d["output"]),
            subtitles=Path(d["subtitles"]) if d.get("subtitles") else None,
            changes=dict(d.get("changes") or {}),
            stems_dir=Path(d["stems_dir"]) if d.get("stems_dir") else None,
            report_path=Path(d["report_path"]) if d.get("report_path") else None,
            # A job cut off by the window closing runs again.
            status=status if status in FINISHED else "waiting",
            error=d.get("error"),
        )


def dubbed_name(video: Path, outdir: Path) -> Path:
    """NAME.dubbed.mp4 (or .mkv for a Matroska source), as `dubsmith batch` names them."""
    suffix = ".mkv" if video.suffix.lower() == ".mkv" else ".mp4"
    return outdir / f"{video.stem}.dubbed{suffix}"


def entry_for(video: Path, outdir: Path | None = None, changes: dict | None = None) -> QueueEntry:
    """A job for a video: its subtitles found beside it by name, its output in `outdir`
    (default: beside it) as NAME.dubbed.mp4."""
    video = Path(video).resolve()
    return QueueEntry(
        video=video,
        output=dubbed_name(video, Path(outdir) if outdir else video.parent),
        subtitles=find_subtitles_for(video),
        changes=dict(changes or {}),
    )


def job_settings(entry: QueueEntry) -> DubSettings:
    """The settings this job will run with, as the dub resolves them: its video's project
    (what its last run used; the defaults when it has none) with the job's changes on top."""
    base = DubSettings()
    path = project_file_for(entry.video)
    if path.exists():
        try:
            base = proj.load_project(path).settings
        except proj.ProjectError:
            pass  # the dub will say so; the job's own changes still apply
    return base.with_changes(**entry.changes)


class QueueStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.entries: list[QueueEntry] = []
        self.problem: str | None = None  # why the saved queue could not be read

    def load(self) -> list[QueueEntry]:
        self.entries = []
        if not self.path.exists():
            return self.entries
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.entries = [QueueEntry.from_dict(d) for d in data.get("jobs", [])]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self.problem = f"the saved queue {self.path} could not be read ({exc}); it starts empty"
        return self.entries

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"jobs": [e.to_dict() for e in self.entries]}, indent=1)
        atomic_write_bytes(self.path, text.encode("utf-8"))

    def add(self, entry: QueueEntry) -> QueueEntry:
        self.entries.append(entry)
        self.save()
        return entry

    def edit(
        self,
        entry: QueueEntry,
        output: Path,
        changes: dict[str, Any],
        stems_dir: Path | None = None,
        report_path: Path | None = None,
    ) -> None:
        """New settings for a job that has not started, saved at once. OptionError when it
        has started or ended, or when a setting is one the dub would refuse."""
        why = entry.why_not_editable()
        if why is not None:
            raise OptionError(why)
        if Path(output).resolve() == entry.video.resolve():
            raise OptionError(f"the output {output} is the input video; choose another file")
        merged = {**entry.changes, **changes}
        job_settings(dataclasses.replace(entry, changes=merged)).validate()
        entry.output, entry.changes = Path(output), merged
        entry.stems_dir, entry.report_path = stems_dir, report_path
        self.save()

    def remove_finished(self) -> None:
        self.entries = [e for e in self.entries if e.status not in FINISHED]
        self.save()

    def overall(self) -> tuple[int, int]:
        """(finished jobs, all jobs)."""
        return sum(e.status in FINISHED for e in self.entries), len(self.entries)
