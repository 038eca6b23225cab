"""Runs a core.pipeline dub off the GUI thread, reporting progress through Qt signals."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from core.pipeline import DubOptions, dub
from core.render import Cancelled, CancelToken


class DubWorker(QObject):
    progress = Signal(str, int, int)  # step, done, total
    finished = Signal(object)  # DubReport
    failed = Signal(str)  # a message for the editor
    cancelled = Signal()

    def __init__(self, video: Path, options: DubOptions, engine_factory=None) -> None:
        super().__init__()
        self.video = video
        self.options = options
        self.engine_factory = engine_factory
        self.token = CancelToken()

    def cancel(self) -> None:
        self.token.cancel()

    def run(self) -> None:
        kwargs = {"progress": self.progress.emit, "cancel": self.token}
        if self.engine_factory is not None:
            kwargs["engine_factory"] = self.engine_factory
        try:
            report = dub(self.video, self.options, **kwargs)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # every failure reaches the editor as a message
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.finished.emit(report)


def start_in_thread(worker: DubWorker) -> QThread:
    thread = QThread()
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    for sig in (worker.finished, worker.failed, worker.cancelled):
        sig.connect(thread.quit)
    thread.start()
    return thread
