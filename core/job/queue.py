"""Dub jobs waiting, running and done, for a long-lived worker (the window's): each job has
an id, a status and its progress, and can be cancelled by id whether it waits or runs.
Thread-safe: the window adds and cancels, the worker takes and runs."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from core import project as proj
from core.deliver.dub_report import DubReport
from core.job.options import DubOptions
from core.job.pipeline import JobEvents, dub
from core.job.run_lock import RunLocked, claim_run
from core.lines.render import Cancelled, CancelToken


class JobStatus(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class QueuedJob:
    id: int
    video: Path
    options: DubOptions
    project: proj.Project | None = None  # the window's own, updated as takes arrive
    status: JobStatus = JobStatus.WAITING
    stage: str = ""
    done: int = 0
    total: int = 0
    report: DubReport | None = None
    error: str | None = None
    token: CancelToken = field(default_factory=CancelToken)


class JobQueue:
    def __init__(self) -> None:
        self._jobs: dict[int, QueuedJob] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(
        self, video: Path, options: DubOptions, project: proj.Project | None = None
    ) -> QueuedJob:
        with self._lock:
            job = QueuedJob(next(self._ids), Path(video), options, project)
            self._jobs[job.id] = job
            return job

    def get(self, job_id: int) -> QueuedJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> list[QueuedJob]:
        with self._lock:
            return list(self._jobs.values())

    def cancel(self, job_id: int) -> None:
        """A waiting job never starts; a running one stops after its current lines."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in (JobStatus.WAITING, JobStatus.RUNNING):
                return
            job.token.cancel()
            if job.status is JobStatus.WAITING:
                job.status = JobStatus.CANCELLED

    def next_waiting(self) -> QueuedJob | None:
        with self._lock:
            return next((j for j in self._jobs.values() if j.status is JobStatus.WAITING), None)

    def run(self, job: QueuedJob, events: JobEvents, engine_factory: Callable | None = None):
        """Run one job to its end (on the caller's thread); its status says how it ended."""
        with self._lock:
            if job.status is not JobStatus.WAITING:
                return
            job.status = JobStatus.RUNNING
        kwargs = {} if engine_factory is None else {"engine_factory": engine_factory}

        class Tracking(JobEvents):
            def stage(self, name: str, done: int, total: int) -> None:
                job.stage, job.done, job.total = name, done, total
                events.stage(name, done, total)

            def line_rendered(self, index, take) -> None:
                events.line_rendered(index, take)

            def warning(self, notice) -> None:
                events.warning(notice)

        try:
            # The same lock as the CLI's dub and batch: a CLI run on this video or its
            # outputs makes this job fail at once, saying who holds it, instead of both
            # writing one project and one output.
            with claim_run(job.video, job.options, cancel=job.token):
                job.report = dub(
                    job.video,
                    job.options,
                    events=Tracking(),
                    cancel=job.token,
                    project=job.project,
                    **kwargs,
                )
        except Cancelled:
            job.status = JobStatus.CANCELLED
        except RunLocked as exc:
            job.status, job.error = JobStatus.FAILED, str(exc)
        except Exception as exc:  # every failure reaches the editor as a message
            if job.token.cancelled:  # ffmpeg stopped by the cancel: still a cancel
                job.status = JobStatus.CANCELLED
            else:
                job.status, job.error = JobStatus.FAILED, str(exc) or type(exc).__name__
        else:
            job.status = JobStatus.DONE
