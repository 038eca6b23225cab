"""The batch queue: videos added (their subtitles paired by name), run one after another on
the window's job worker with per-job and overall progress; a failed job shows its error and
the queue goes on; the list is kept on disk (core/desk/queue_store.py) and survives a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
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

from app.gui.export_dialog import ExportChoice, ExportDialog
from app.gui.progress import overall_fraction
from app.gui.settings_dialog import MODE_LABELS, MODES
from app.gui.worker import QueueWorker
from core.desk.export import unused_output
from core.desk.queue_store import QueueEntry, QueueStore, entry_for, job_settings
from core.errors import OptionError
from core.job.options import DubOptions
from core.job.queue import JobQueue, JobStatus
from core.settings import DefaultEmotion, DubSettings

VIDEO_FILES = "Video (*.mp4 *.mkv *.mov *.m4v *.webm *.avi);;All files (*)"
STATUS_COLOURS = {"done": "#2e8540", "failed": "#c0392b", "cancelled": "#7f8c8d",
                  "running": "#2f6fb0", "waiting": None}  # fmt: skip
EDIT_TIP = "Change this job's output and dub settings (or double-click it)"
QUEUED_TIP = "This job is queued in the running batch: it runs with the settings it had then."


class JobSettingsDialog(ExportDialog):
    """A queued job's settings: the Export dialog itself (output, container, background,
    tracks, stems, report), plus the two settings a job also takes from the window when it
    is added (its default emotion) or that differ between videos (its duration mode)."""

    def __init__(self, parent, entry: QueueEntry, settings: DubSettings) -> None:
        # A queued video is not probed here (that is the job's work): its audio is assumed,
        # and a video without any is told so by the dub itself.
        super().__init__(parent, str(entry.output), settings, has_audio=True)
        self.entry = entry
        self.setWindowTitle(f"Job settings: {entry.name}")
        self.stems.setText(str(entry.stems_dir) if entry.stems_dir else "")
        self.report.setText(str(entry.report_path) if entry.report_path else "")
        self.emotion = QComboBox()
        self.emotion.addItems([e.value for e in DefaultEmotion])
        self.emotion.setCurrentText(settings.emotion.value)
        self.mode = QComboBox()
        self.mode.addItems(MODE_LABELS)
        self.mode.setCurrentIndex(
            MODES.index(settings.duration_mode) if settings.duration_mode in MODES else 0
        )
        form = self.layout()
        form.insertRow(4, "Emotion", self.emotion)  # after Background and Duck level
        form.insertRow(5, "Duration", self.mode)
        buttons = self.findChild(QDialogButtonBox)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Save")

    def choice(self) -> ExportChoice:
        choice = super().choice()
        choice.changes["emotion"] = self.emotion.currentText()
        choice.changes["duration_mode"] = MODES[self.mode.currentIndex()].value
        return choice


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
        self.edit_btn = QPushButton("Edit…")
        self.edit_btn.setToolTip(EDIT_TIP)
        self.edit_btn.clicked.connect(self.edit_current)
        self.job_dialog: JobSettingsDialog | None = None  # the open one, if any
        self._shown: list[QueueEntry] = []  # the tree's rows, in order
        self.tree.currentItemChanged.connect(self._update_edit)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self.edit_current())
        self.overall = QProgressBar()
        self.overall.setRange(0, 100)
        self.overall.setFormat("%p % of the queue")
        self.label = QLabel("")
        self.label.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.add_btn, self.edit_btn, self.start_btn, self.cancel_btn, self.clear_btn):
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
            entry = entry_for(Path(video), changes=self.settings_for_new())
            entry.output = unused_output(entry.output)  # never the dub just exported
            self.store.add(entry)
        self.refresh()

    def _choose(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add videos to the queue", "", VIDEO_FILES)
        if paths:
            self.add_videos([Path(p) for p in paths])

    def clear_finished(self) -> None:
        if not self.running():
            self.store.remove_finished()
            self.refresh()

    # --- a job's settings ----------------------------------------------------------------

    def current_entry(self) -> QueueEntry | None:
        """The selected row's job (the rows as last shown: the store may have changed)."""
        item = self.tree.currentItem()
        row = self.tree.indexOfTopLevelItem(item) if item is not None else -1
        return self._shown[row] if 0 <= row < len(self._shown) else None

    def _submitted(self, entry: QueueEntry) -> bool:
        # By identity: two jobs of one video with the same settings are equal dataclasses.
        return any(e is entry for e in self.job_of.values())

    def why_not_editable(self, entry: QueueEntry | None) -> str | None:
        if entry is None:
            return "Select a waiting job to change its settings."
        if self._submitted(entry) and entry.status == "waiting":
            return QUEUED_TIP  # the worker holds its options already
        return entry.why_not_editable()

    def _update_edit(self, *_) -> None:
        why = self.why_not_editable(self.current_entry())
        self.edit_btn.setEnabled(why is None)
        self.edit_btn.setToolTip(why or EDIT_TIP)

    def edit_current(self) -> JobSettingsDialog | None:
        """The selected waiting job's settings, in the Export dialog; saved on Save."""
        entry = self.current_entry()
        if self.why_not_editable(entry) is not None:
            return None
        try:
            settings = job_settings(entry)
        except OptionError as exc:  # a queue file edited by hand: start from the defaults
            self.label.setText(f"{entry.name}: {exc}")
            settings = DubSettings()
        dialog = JobSettingsDialog(self, entry, settings)
        dialog.accepted.connect(lambda: self._apply(dialog))
        self.job_dialog = dialog
        dialog.open()
        return dialog

    def _apply(self, dialog: JobSettingsDialog) -> None:
        entry, choice = dialog.entry, dialog.choice()
        # The queue may have started while the dialog was open.
        why = self.why_not_editable(entry)
        try:
            if why is not None:
                raise OptionError(why)
            self.store.edit(
                entry, choice.output, choice.changes, choice.stems_dir, choice.report_path
            )
        except OptionError as exc:
            self.label.setText(f"{entry.name}: settings not changed: {exc}")
            return
        self.label.setText(f"{entry.name}: settings saved")
        self.refresh()

    def refresh(self) -> None:
        current = self.current_entry()
        self.tree.clear()
        self._shown = list(self.store.entries)
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
            if entry is current:
                self.tree.setCurrentItem(item)
        self._update_edit()
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
            if entry.status != "waiting" or self._submitted(entry):
                continue
            options = DubOptions(
                output=entry.output,
                subtitles=entry.subtitles,
                changes=dict(entry.changes),
                model_dir=template.model_dir,
                device=template.device,
                stems_dir=entry.stems_dir,
                report_path=entry.report_path,
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
