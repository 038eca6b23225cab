"""Work that must not block the window, run off the GUI thread and reported through Qt
signals: the queue of dub jobs, and reading a video's inputs and project for editing."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from core import project as proj
from core.engines import EngineCache
from core.job_queue import JobQueue, JobStatus
from core.line_matching import CueMerge, merge_cues
from core.pipeline import (
    DubOptions,
    InputError,
    Inputs,
    JobEvents,
    read_inputs,
)
from core.project_keeper import project_file_for
from core.subtitles import Cue
from core.timing import Timing, plan_lines
from core.voices import assign_speakers, speaker_names


class QueueWorker(QObject):
    """One long-lived worker on one thread: runs the queue's dub jobs one after another
    and reports through signals (all carry the job's id)."""

    stage = Signal(int, str, int, int)  # job id, stage, done, total
    line_rendered = Signal(int, int, object)  # job id, cue number, its Take
    warning = Signal(int, object)  # job id, a Notice
    job_ended = Signal(int)  # job id; the queue's job says how it ended
    _wake = Signal()

    def __init__(self, queue: JobQueue, engine_factory=None) -> None:
        super().__init__()
        self.queue = queue
        self.engines = EngineCache(engine_factory)  # the engine stays loaded between dubs
        self._wake.connect(self._drain)  # runs on the worker's thread once moved there

    def submit(self, video: Path, options: DubOptions, project: proj.Project | None) -> int:
        job = self.queue.add(video, options, project)
        self._wake.emit()
        return job.id

    def cancel(self, job_id: int) -> None:
        job = self.queue.get(job_id)
        waiting = job is not None and job.status is JobStatus.WAITING
        self.queue.cancel(job_id)
        if waiting:  # it will never run: say so now
            self.job_ended.emit(job_id)

    def _drain(self) -> None:
        while (job := self.queue.next_waiting()) is not None:
            self.queue.run(job, _Relay(self, job.id), self.engines)
            self.job_ended.emit(job.id)


class _Relay(JobEvents):
    """A job's events as the worker's signals (queued across to the window's thread)."""

    def __init__(self, worker: QueueWorker, job_id: int) -> None:
        self.worker, self.job_id = worker, job_id

    def stage(self, name: str, done: int, total: int) -> None:
        self.worker.stage.emit(self.job_id, name, done, total)

    def line_rendered(self, index: int, take) -> None:
        self.worker.line_rendered.emit(self.job_id, index, take)

    def warning(self, notice) -> None:
        self.worker.warning.emit(self.job_id, notice)


# --- opening for editing -----------------------------------------------------------------------


@dataclass
class Opened:
    """Everything the window shows of a video, computed off the GUI thread."""

    inputs: Inputs
    cues: list[Cue]  # usable cues, playback order
    speakers: dict[int, str]  # cue number -> speaker id
    names: dict[str, str]  # speaker id -> name
    timings: list[Timing]  # per cue, same order
    project: proj.Project
    merge: CueMerge
    project_error: str | None = None  # the project file was unreadable: started fresh


def sync_project(project: proj.Project, opened: Opened) -> CueMerge:
    """The project's lines as the subtitles have them (a line the subtitles lost is kept
    detached while it has editor settings), and where its video and subtitles are."""
    merge = merge_cues(project, opened.cues, opened.speakers, opened.names)
    if project.video_path is None:
        project.video_path = opened.inputs.video.resolve()
    project.subtitle_path = opened.inputs.subtitles.path.resolve()
    return merge


def read_for_editing(video: Path, subtitles: Path | None) -> Opened:
    """Read the video, its subtitles and its project file, and plan the lines' timing: the
    slow part of opening (seconds for 10,000 cues). Raises InputError."""
    inputs = read_inputs(video, subtitles)
    cues = inputs.subtitles.usable_cues()
    video_end_ms = round(inputs.media.duration_s * 1000)
    project, error = proj.Project(), None
    path = project_file_for(inputs.video)
    if path.exists():
        try:
            project = proj.load_project(path)
        except proj.ProjectError as exc:  # the unreadable file was kept as a backup copy
            error = str(exc)
    opened = Opened(
        inputs=inputs,
        cues=cues,
        speakers=assign_speakers(cues),
        names=speaker_names(cues),
        timings=plan_lines(cues, video_end_ms=video_end_ms),
        project=project,
        merge=CueMerge({}),
        project_error=error,
    )
    opened.merge = sync_project(project, opened)
    return opened


class OpenWorker(QObject):
    """Runs `read` (read_for_editing, or what wraps it) once: `finished(its result)` or
    `failed(message)`."""

    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, read: Callable[[], object]) -> None:
        super().__init__()
        self.read = read

    def run(self) -> None:
        # The cyclic garbage collector runs in whichever thread allocates, holding the GIL
        # for a whole pass (0.1-0.2 s with the app's heap): a read of 10,000 cues set off a
        # few, each a stall of the window. Paused for the read (seconds; what it builds is
        # kept anyway), the event loop keeps its turns.
        paused = gc.isenabled()
        gc.disable()
        try:
            opened = self.read()
        except InputError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # never leave the window waiting: say what went wrong
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.finished.emit(opened)
        finally:
            if paused:
                gc.enable()


def start_in_thread(worker: QObject, stops: Iterable | None = None) -> QThread:
    """Run worker.run() in a new thread, which ends when one of `stops` (signals; by default
    the worker's finished/failed/cancelled) fires."""
    thread = QThread()
    thread.setObjectName(type(worker).__name__)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    if stops is None:
        stops = [
            getattr(worker, n) for n in ("finished", "failed", "cancelled") if hasattr(worker, n)
        ]
    for sig in stops:
        sig.connect(thread.quit)
    thread.start()
    return thread
