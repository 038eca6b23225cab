"""The batch queue: videos added (their subtitles paired by name), run one after another on
the window's job worker with per-job and overall progress; a failed job shows its error and
the queue goes on; the list is kept on disk (core/queue_store.py) and survives a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.progress import overall_fraction
from app.gui.worker import QueueWorker
from core.job_queue import JobQueue, JobStatus
from core.options import DubOptions
from core.queue_store import QueueEntry, QueueStore, entry_for

VIDEO_FILES = "Video (*.mp4 *.mkv *.mov *.m4v *.webm *.avi);;All files (*)"
STATUS_COLOURS = {"done": "#2e8540", "failed": "#c0392b", "cancelled": "#7f8c8d",
                  "running": "#2f6fb0", "waiting": None}  # fmt: skip


class QueuePanel(QWidget):
    finished = Signal()  # every job of the run has ended

    def __init__(
        self,
        worker: QueueWorker,
        queue: JobQueue,
        store: QueueStore,
        template: Callable[[], DubOptions],
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.worker, self.queue, self.store, self.template = worker, queue, store, template
        # Each job keeps the dub settings it was added with (the window's at that moment).
        self.settings_for_new: Callable[[], dict] = dict
        self.job_of: dict[int, QueueEntry] = {}  # job id -> entry, for this run
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Video", "Subtitles", "Output", "Status", "Progress"])
        self.tree.setRootIsDecorated(False)
        for col, width in enumerate((110, 80, 90, 70)):
            self.tree.setColumnWidth(col, width)
        self.add_btn = QPushButton("Add videos…")
        self.add_btn.clicked.connect(self._choose)
        self.start_btn = QPushButton("Start queue")
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel)
        self.clear_btn = QPushButton("Remove finished")
        self.clear_btn.clicked.connect(self.clear_finished)
        self.overall = QProgressBar()
        self.overall.setRange(0, 100)
        self.overall.setFormat("%p % of the queue")
        self.label = QLabel("")
        self.label.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.add_btn, self.start_btn, self.cancel_btn, self.clear_btn):
            buttons.addWidget(b)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(buttons)
        box.addWidget(self.tree, 1)
        box.addWidget(self.overall)
        box.addWidget(self.label)
        worker.stage.connect(self._stage)
        worker.job_ended.connect(self._ended)
        self.store.load()
        if self.store.problem:
            self.label.setText(self.store.problem)
        self.refresh()

    # --- the list -----------------------------------------------------------------------

    def add_videos(self, videos: list[Path]) -> None:
        for video in videos:
            self.store.add(entry_for(Path(video), changes=self.settings_for_new()))
        self.refresh()

    def _choose(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add videos to the queue", "", VIDEO_FILES)
        if paths:
            self.add_videos([Path(p) for p in paths])

    def clear_finished(self) -> None:
        if not self.running():
            self.store.remove_finished()
            self.refresh()

    def refresh(self) -> None:
        self.tree.clear()
        for entry in self.store.entries:
            item = QTreeWidgetItem(
                [
                    entry.name,
                    entry.subtitles.name if entry.subtitles else "none found",
                    str(entry.output),
                    entry.status,
                    self._progress_text(entry),
                ]
            )
            item.setToolTip(4, entry.error or "")
            item.setToolTip(3, entry.error or "")
            item.setToolTip(2, str(entry.output))
            settings = ", ".join(f"{k}={v}" for k, v in sorted(entry.changes.items()))
            item.setToolTip(0, f"{entry.video}\nsettings: {settings or 'the project’s own'}")
            colour = STATUS_COLOURS.get(entry.status)
            if colour:
                item.setForeground(3, Qt.GlobalColor.black)
                item.setData(3, Qt.ItemDataRole.ForegroundRole, _brush(colour))
            self.tree.addTopLevelItem(item)
        done, total = self.store.overall()
        running = next((e for e in self.store.entries if e.status == "running"), None)
        part = 0.0
        if running is not None and running.total:
            part = overall_fraction(running.stage, running.done, running.total) or 0.0
        self.overall.setValue(round(100 * (done + part) / total) if total else 0)
        self.start_btn.setEnabled(any(e.status == "waiting" for e in self.store.entries))
        self.cancel_btn.setEnabled(self.running())
        self.clear_btn.setEnabled(not self.running() and done > 0)

    @staticmethod
    def _progress_text(entry: QueueEntry) -> str:
        if entry.status == "failed":  # its first line here; all of it in the tooltip
            return (entry.error or "failed").strip().splitlines()[0][:200]
        if entry.status == "running" and entry.total:
            frac = overall_fraction(entry.stage, entry.done, entry.total)
            return f"{entry.stage} {entry.done}/{entry.total}" + (
                f" ({frac:.0%})" if frac is not None else "")  # fmt: skip
        return ""

    # --- running ------------------------------------------------------------------------

    def running(self) -> bool:
        return bool(self.job_of)

    def start(self) -> None:
        template = self.template()
        for entry in self.store.entries:
            if entry.status != "waiting" or entry in self.job_of.values():
                continue
            options = DubOptions(
                output=entry.output,
                subtitles=entry.subtitles,
                changes=dict(entry.changes),
                model_dir=template.model_dir,
                device=template.device,
            )
            job_id = self.worker.submit(entry.video, options, None)
            self.job_of[job_id] = entry
        self.label.setText(f"Running {len(self.job_of)} job(s)…" if self.job_of else "")
        self.refresh()

    def cancel(self) -> None:
        for job_id in list(self.job_of):
            self.worker.cancel(job_id)

    def _stage(self, job_id: int, step: str, done: int, total: int) -> None:
        entry = self.job_of.get(job_id)
        if entry is None:
            return
        entry.status, entry.stage, entry.done, entry.total = "running", step, done, total
        self.refresh()

    def _ended(self, job_id: int) -> None:
        entry = self.job_of.pop(job_id, None)
        job = self.queue.get(job_id)
        if entry is None or job is None:
            return
        entry.status = {
            JobStatus.DONE: "done",
            JobStatus.FAILED: "failed",
            JobStatus.CANCELLED: "cancelled",
        }.get(job.status, "failed")
        entry.error = job.error if job.status is JobStatus.FAILED else None
        self.store.save()
        self.refresh()
        if not self.job_of:
            done = sum(e.status == "done" for e in self.store.entries)
            failed = sum(e.status == "failed" for e in self.store.entries)
            self.label.setText(f"Queue finished: {done} done, {failed} failed.")
            self.finished.emit()


def _brush(colour: str):
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(colour))
