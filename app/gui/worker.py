"""Work that must not block the window, run off the GUI thread and reported through Qt
signals: the queue of dub jobs, and reading a video's inputs and project for editing."""

from __future__ import annotations

import gc
import itertools
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from core import project as proj
from core.desk.opening import Opened, read_for_editing, sync_project
from core.desk.speakers import find_speakers, preview_keeping_speakers
from core.job.pipeline import (
    DubOptions,
    InputError,
    JobEvents,
)
from core.job.queue import JobQueue, JobStatus
from core.lines.render import Cancelled, CancelToken
from core.models.engines import EngineCache

# The opening moved to core/desk/opening.py; these names stay reachable from here.
__all__ = [
    "OpenWorker",
    "Opened",
    "QueueWorker",
    "read_for_editing",
    "start_in_thread",
    "sync_project",
]


class QueueWorker(QObject):
    """One long-lived worker on one thread: runs the queue's dub jobs one after another
    and reports through signals (all carry the job's id)."""

    stage = Signal(int, str, int, int)  # job id, stage, done, total
    line_rendered = Signal(int, int, object)  # job id, cue number, its Take
    warning = Signal(int, object)  # job id, a Notice
    job_ended = Signal(int)  # job id; the queue's job says how it ended
    # preview id (negative: apart from job ids), its LinePreviews (Find speakers: what the
    # analysis found), an error or None
    preview_ended = Signal(int, object, object)
    _wake = Signal()

    def __init__(self, queue: JobQueue, engine_factory=None) -> None:
        super().__init__()
        self.queue = queue
        self.engines = EngineCache(engine_factory)  # the engine stays loaded between dubs
        self._wake.connect(self._drain)  # runs on the worker's thread once moved there
        self._previews: deque[PreviewRequest] = deque()  # appended here, taken there
        self._preview_ids = itertools.count(1)
        self.previewing: PreviewRequest | None = None

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

    def submit_preview(
        self,
        video: Path,
        options: DubOptions,
        project: proj.Project | None,
        indices: list[int],
        seed: int | None = None,
    ) -> int:
        """Render only these lines (no mix, no export); `seed` for a new take of one."""
        request = PreviewRequest(-next(self._preview_ids), video, options, project, indices, seed)
        self._previews.append(request)
        self._wake.emit()
        return request.id

    def submit_find_speakers(
        self, video: Path, options: DubOptions, project: proj.Project | None
    ) -> int:
        """Run the speaker analysis on the project (Find speakers); ends as a preview does,
        with what the analysis found as its result."""
        request = PreviewRequest(-next(self._preview_ids), video, options, project, [], None)
        request.kind = "speakers"
        self._previews.append(request)
        self._wake.emit()
        return request.id

    def cancel_preview(self, preview_id: int) -> None:
        for request in [*self._previews, self.previewing]:
            if request is not None and request.id == preview_id:
                request.token.cancel()

    def _drain(self) -> None:
        # Previews first: the editor is waiting to hear one line.
        while True:
            if self._previews:
                self._run_preview(self._previews.popleft())
            elif (job := self.queue.next_waiting()) is not None:
                self.queue.run(job, _Relay(self, job.id), self.engines)
                self.job_ended.emit(job.id)
            else:
                return

    def _run_preview(self, request: PreviewRequest) -> None:
        self.previewing = request
        results, error = [], None
        try:
            if request.kind == "speakers":
                results = find_speakers(
                    request.video,
                    request.options,
                    engine_factory=self.engines,
                    events=_Relay(self, request.id),
                    cancel=request.token,
                    project=request.project,
                )
            else:  # the editor's speakers stay: only Find speakers re-decides who speaks
                results = preview_keeping_speakers(
                    request.video,
                    request.options,
                    request.indices,
                    seed=request.seed,
                    engine_factory=self.engines,
                    events=_Relay(self, request.id),
                    cancel=request.token,
                    project=request.project,
                )
        except Cancelled:
            error = "cancelled"
        except Exception as exc:  # every failure reaches the editor as a message
            error = str(exc) or type(exc).__name__
        finally:
            self.previewing = None
        self.preview_ended.emit(request.id, results, error)


@dataclass
class PreviewRequest:
    id: int
    video: Path
    options: DubOptions
    project: proj.Project | None
    indices: list[int]
    seed: int | None = None
    token: CancelToken = field(default_factory=CancelToken)
    kind: str = "lines"  # "speakers": Find speakers


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
