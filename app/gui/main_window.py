"""The editor's desk: the video and its timeline, the lines table, the line inspector, the
speakers and the batch queue in one window. The window shows the project and edits it
through its undo stack; every rule lives in core/ (core/desk/status.py, core/desk/line_preview.py,
core/desk/queue_store.py), and all heavy work runs on the long-lived job worker."""

from __future__ import annotations

import bisect
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
)

from app.gui.access import name_controls
from app.gui.export_dialog import BACKGROUNDS, ExportChoice
from app.gui.inspector import LineInspector
from app.gui.line_edits import LineEditsMixin
from app.gui.lines_model import (
    LinesFilter,
    LinesModel,
    LinesView,
)
from app.gui.palette import apply_theme
from app.gui.queue_panel import QueuePanel
from app.gui.render_control import RenderMixin
from app.gui.settings_dialog import SettingsDialog, remembered_render_on, render_with
from app.gui.shortcuts import ShortcutsDialog
from app.gui.speakers_panel import SpeakersPanel
from app.gui.timeline import Timeline
from app.gui.video_preview import VideoPreview
from app.gui.window_layout import build_layout
from app.gui.window_menus import MenusMixin
from app.gui.window_open import AUTOSAVE_S, OpenMixin
from app.gui.worker import OpenWorker, QueueWorker
from core import project as proj
from core.desk import status as desk
from core.desk.opening import Opened, read_and_lay_out, read_for_editing, sync_project
from core.desk.queue_store import QueueStore, default_queue_file
from core.desk.status import LineStatus
from core.job.cluster import release_engines
from core.job.options import DubOptions
from core.job.pipeline import TEXT_EMOTION_MISSING, text_emotion_available
from core.job.queue import JobQueue
from core.subtitles.read import SUBTITLE_EXTENSIONS
from models.registry import default_model_dir

__all__ = ["MainWindow", "Opened", "read_and_lay_out", "read_for_editing", "sync_project"]

MODELS_CHECK_MS = 300  # typing in the Models field re-checks the folder once it settles


def _stopper(thread: QThread):
    def stop(*_) -> None:
        thread.quit()
        thread.wait()

    return stop


class MainWindow(MenusMixin, OpenMixin, LineEditsMixin, RenderMixin, QMainWindow):
    # An open finished: True when the video is shown, False when it could not be read.
    opened = Signal(bool)
    # A preview or a "render stale" ended: True when it rendered something.
    preview_finished = Signal(bool)
    # Find speakers ended: True when it found them (an undo step), False when cancelled.
    speakers_found = Signal(bool)

    def __init__(self, engine_factory=None, queue_file: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Dubsmith")
        self.resize(1280, 820)
        self.setAcceptDrops(True)
        self.engine_factory = engine_factory
        self.current: Opened | None = None  # what the window shows
        self.subtitles: Path | None = None
        self.running_job: int | None = None  # the id of the window's dub, if one runs
        self.preview_job: int | None = None  # the id of a preview / render stale, if one
        self.play_after_preview = False
        self.preview_seed: int | None = None  # the new take's seed of a regenerate
        # One long-lived worker on one thread runs the dubs (the engine stays loaded).
        self.queue = JobQueue()
        self.queue_worker = QueueWorker(self.queue, engine_factory)
        self.queue_thread = QThread(self)
        self.queue_thread.setObjectName("dub-queue")
        self.queue_worker.moveToThread(self.queue_thread)
        self.queue_worker.stage.connect(self._job_stage)
        self.queue_worker.line_rendered.connect(self._line_rendered)
        self.queue_worker.warning.connect(self._job_warning)
        self.queue_worker.job_ended.connect(self._job_ended)
        self.queue_worker.preview_ended.connect(self._preview_ended)
        self.queue_thread.start()
        # However the window goes (closed, or deleted by its owner without a close), its
        # queue's thread must have stopped before Qt destroys it.
        self.destroyed.connect(_stopper(self.queue_thread))
        self.dub_warnings: list = []
        self.opening: OpenWorker | None = None  # a read in flight
        self.open_thread: QThread | None = None
        self.last_report = None
        self.result_box: QMessageBox | None = None
        self.rows: dict[int, int] = {}  # cue index -> table row
        self.row_cues: list[int] = []  # table row -> cue index
        self._selected: int | None = None  # the current row's cue index
        self.lines: dict[int, proj.Line] = {}  # cue index -> project line (the merge's)
        self.pending_subtitles: Path | None = None  # chosen before any video was open
        self.suggested_output = ""
        self.close_pending = False
        self.export_extra: ExportChoice | None = None  # stems / report of the next dub
        self.settings = QSettings("Dubsmith", "Dubsmith")
        # Render on (Settings) as remembered: a cluster is joined at the first dub, not here.
        render_with(self.queue_worker, remembered_render_on(self.settings), engine_factory)
        self.project: proj.Project | None = None
        self.autosaver: proj.Autosaver | None = None
        self._step: str | None = None  # the dub's last step and how far it got, for messages
        self._step_done = (0, 0)
        self._render_start: tuple[float, int] | None = None  # (monotonic s, lines done then)
        self._starts: list[int] = []  # each row's start ms, for the playhead's line
        self.undo_stack = QUndoStack(self)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(round(AUTOSAVE_S * 500))
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

        self._build_widgets(queue_file)
        self._build_menus()
        build_layout(self)
        name_controls(
            self,
            {
                self.table: "Lines",
                self.output_edit: "Output video",
                self.out_btn: "Choose the output video",
                self.model_edit: "Models folder",
                self.model_btn: "Choose the models folder",
                self.background: "Background",
                self.emotion: "Default emotion",
                self.speaker_filter: "Show the lines of a speaker",
                self.status_filter: "Show the lines with a status",
            },
        )
        self.statusBar().showMessage("Ready")
        self.check_models()

    # --- building --------------------------------------------------------------------------

    def _build_widgets(self, queue_file: Path | None) -> None:
        self.table_model = LinesModel(self)
        self.table_model.edit_requested.connect(self._cell_edited)
        self.table_filter = LinesFilter(self)
        self.table_filter.setSourceModel(self.table_model)
        self.table = LinesView()
        self.table.setModel(self.table_filter)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(self._row_double_clicked)

        self.speaker_filter = QComboBox()
        self.speaker_filter.setToolTip("Show only the lines of one speaker")
        self.status_filter = QComboBox()
        self.status_filter.addItem("All statuses", None)
        for status in LineStatus:
            self.status_filter.addItem(status.value, status)
        self.status_filter.setToolTip("Show only the lines with this status")
        for combo in (self.speaker_filter, self.status_filter):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.speaker_filter.currentIndexChanged.connect(self._filter_changed)
        self.status_filter.currentIndexChanged.connect(self._filter_changed)

        self.inspector = LineInspector()
        self.panel = self.inspector.panel
        self.panel.edited.connect(self._panel_edited)
        self.panel.setEnabled(False)
        self.inspector.preset_chosen.connect(lambda e: self._panel_edited(e, None))
        self.inspector.preview_clicked.connect(self.preview_line)
        self.inspector.regenerate_clicked.connect(self.regenerate_line)
        self.inspector.use_take.connect(self.use_take)
        self.inspector.duration_mode_chosen.connect(self.set_duration_mode)
        self.inspector.play_take.connect(self._play_take)

        self.speakers = SpeakersPanel()
        self.speakers.rename.connect(self.rename_speaker)
        self.speakers.merge.connect(self.merge_speakers)
        self.speakers.voice_file.connect(self.set_voice_file)
        self.speakers.from_lines.connect(self.prompt_from_selected)
        self.speakers.play_prompt.connect(self.play_prompt)

        self.video = VideoPreview()
        self.inspector.attach_preview(self.video)
        self.video.position_changed.connect(self._playhead_moved)
        self.timeline = Timeline()
        canvas = self.timeline.canvas
        canvas.clamp = self._clamp_span
        canvas.span_dragged.connect(self.set_span)
        canvas.seek_requested.connect(self.video.seek)
        canvas.block_clicked.connect(self._select_row)

        self.queue_panel = QueuePanel(
            self.queue_worker,
            self.queue,
            QueueStore(queue_file or default_queue_file()),
            self._queue_template,
        )
        self.queue_panel.finished.connect(self._maybe_close)
        self.queue_panel.settings_for_new = lambda: {
            "background": self.background.currentText(),
            "emotion": self.emotion.currentText(),
        }

        self.source_label = QLabel("Drop a video and its subtitles here, or use File ▸ Open video.")
        self.warnings_label = QLabel("")
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet("color: #b35c00")

        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("output video (.mp4 or .mkv)")
        self.out_btn = QPushButton("Browse…")
        self.out_btn.clicked.connect(self.choose_output)
        self.model_edit = QLineEdit(self.settings.value("model_dir", str(default_model_dir())))
        self.model_btn = QPushButton("Browse…")
        self.model_btn.clicked.connect(self.choose_model_dir)
        self.models_label = QLabel("")
        self.models_timer = QTimer(self)
        self.models_timer.setSingleShot(True)
        self.models_timer.setInterval(MODELS_CHECK_MS)
        self.models_timer.timeout.connect(self.check_models)
        self.model_edit.textChanged.connect(self.models_timer.start)
        self.background = QComboBox()
        # Every mode, by its setting's name: a mode missing here would be replaced by the
        # first item when a project that uses it is opened (and the dub would follow).
        self.background.addItems([m.value for m, _ in BACKGROUNDS])
        for i, (_, label) in enumerate(BACKGROUNDS):
            self.background.setItemData(i, label, Qt.ItemDataRole.ToolTipRole)
        self.emotion = QComboBox()
        self.emotion.addItems(["original", "voice"])

        self.dub_btn = QPushButton("Render all")
        self.dub_btn.setToolTip(
            "Render every line (unchanged ones come from the cache) and write the output (Ctrl+R)"
        )
        self.dub_btn.setEnabled(False)
        self.dub_btn.clicked.connect(self.start_dub)
        self.stale_btn = QPushButton("Render stale")
        self.stale_btn.setToolTip(
            "Render only the lines that are stale, failed or not rendered (Ctrl+Shift+R)"
        )
        self.stale_btn.setEnabled(False)
        self.stale_btn.clicked.connect(self.render_stale)
        self.export_btn = QPushButton("Export…")
        self.export_btn.setEnabled(False)
        self.export_btn.clicked.connect(self.export)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel_dub)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.step_label = QLabel("")

    # --- small accessors -----------------------------------------------------------------------

    @property
    def inputs(self):
        return self.current.inputs if self.current else None

    def cell(self, row: int, col: int) -> str:
        """The text a table cell shows."""
        return self.table_model.text(row, col)

    def _busy(self) -> bool:
        """A dub, a preview or an open is under way: the project must not change meanwhile."""
        return (
            self.running_job is not None or self.opening is not None or self.preview_job is not None
        )

    def line(self, index: int) -> proj.Line | None:
        return self.lines.get(index)

    def selected_index(self) -> int | None:
        """The current line's cue number (kept by _selection_changed: asking the selection
        model on every slider move cost a third of an edit)."""
        return self._selected

    def selected_indices(self) -> list[int]:
        """Every selected line's cue number, in table order."""
        rows = sorted(
            self.table_filter.mapToSource(i).row()
            for i in self.table.selectionModel().selectedRows()
        )
        return [self.row_cues[r] for r in rows if r < len(self.row_cues)]

    def _view_row(self, row: int) -> int:
        return self.table_filter.mapFromSource(self.table_model.index(row, 0)).row()

    # --- the models folder -------------------------------------------------------------------

    def _model_dir(self) -> Path | None:
        text = self.model_edit.text().strip()
        return Path(text).expanduser() if text else None

    def check_models(self) -> None:
        """Say whether the engine can load from the Models folder, and offer emotion from
        text only when its optional model is there."""
        model_dir = self._model_dir()
        if text_emotion_available(model_dir):
            self.panel.set_text_emotion(None)
        else:
            where = model_dir or default_model_dir()
            self.panel.set_text_emotion(TEXT_EMOTION_MISSING.format(model_dir=where))
        check = desk.check_model_folder(model_dir or default_model_dir())
        self.models_label.setText("✓" if check.ok else "✗ incomplete")
        self.models_label.setStyleSheet("" if check.ok else "color: #c0392b")
        self.models_label.setToolTip("\n".join(check.rows))
        self.models_ok = check.ok

    def choose_model_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Model folder", self.model_edit.text())
        if path:
            self.model_edit.setText(path)
            self.check_models()

    def _remember_model_dir(self) -> None:
        """Kept for the next session only once checked: a wrong path is never saved."""
        model_dir = self._model_dir()
        if model_dir is not None and desk.check_model_folder(model_dir).ok:
            self.settings.setValue("model_dir", str(model_dir))

    # --- saving -------------------------------------------------------------------------------

    def autosave(self) -> None:
        """Timer tick: save once the edits are AUTOSAVE_S old. Never while a job runs (the
        job owns the file then) or an open reads it."""
        if self.autosaver is None or self._busy():
            return
        try:
            self.autosaver.maybe_save()
        except (OSError, proj.ProjectError) as exc:
            self.statusBar().showMessage(f"Could not save the project: {exc}")

    def _flush(self) -> bool:
        """Save unsaved edits now; False (and a message) when that failed."""
        if self.autosaver is None:
            return True
        try:
            self.autosaver.flush()
        except (OSError, proj.ProjectError) as exc:
            self.statusBar().showMessage(f"Could not save the project: {exc}")
            return False
        return True

    def _keep_place(self) -> None:
        """The selected line goes into the project, so a reopen starts there."""
        line_id = self._selected_line_id()
        if self.project is None or line_id is None or self.autosaver is None:
            return
        place = {"line": line_id}
        if self.project.extra.get("desk") != place:
            self.project.extra["desk"] = place
            self.autosaver.mark_dirty()

    # --- drag and drop -------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls()]
        subs = next((p for p in paths if p.suffix.lower() in SUBTITLE_EXTENSIONS), None)
        videos = [p for p in paths if p.suffix.lower() not in SUBTITLE_EXTENSIONS]
        if len(videos) > 1:  # many videos: a batch
            self.queue_panel.add_videos(videos)
            self.tabs.setCurrentWidget(self.queue_panel)
        elif videos:
            self.open_video(videos[0], subs)
        elif subs:
            self.open_subtitles(subs)

    # --- the video and the keyboard ---------------------------------------------------------

    def _playhead_moved(self, ms: int) -> None:
        """The playing line is highlighted in the table and the playhead moves."""
        self.timeline.canvas.follow(ms)
        if not self._starts:
            return
        row = bisect.bisect_right(self._starts, ms) - 1
        inside = row >= 0 and ms <= self.table_model.lines[row].end_ms
        self.table_model.set_playing(row if inside else None)
        self.timeline.canvas.playing = row if inside else None

    def play_line(self) -> None:
        index = self.selected_index()
        if index is not None and (line := self.line(index)) is not None:
            self.video.play_span(line.start_ms, line.end_ms)

    def _move(self, step: int) -> None:
        view_rows = self.table_filter.rowCount()
        if not view_rows:
            return
        current = self.table.selectionModel().currentIndex()
        row = min(view_rows - 1, max(0, (current.row() if current.isValid() else -1) + step))
        self._select_view_row(row)

    def next_line(self) -> None:
        self._move(1)

    def previous_line(self) -> None:
        self._move(-1)

    def toggle_play(self) -> None:
        self.video.toggle()

    def key_j(self) -> None:
        self.video.key_j()

    def key_k(self) -> None:
        self.video.pause()

    def key_l(self) -> None:
        self.video.key_l()

    def frame_back(self) -> None:
        self.video.step_frames(-1)

    def frame_forward(self) -> None:
        self.video.step_frames(1)

    def zoom_in(self) -> None:
        self.timeline.canvas.zoom(1.25)

    def zoom_out(self) -> None:
        self.timeline.canvas.zoom(0.8)

    def show_help(self) -> None:
        self.help_dialog = ShortcutsDialog(self)
        self.help_dialog.open()

    def set_theme(self, theme: str) -> None:
        self.settings.setValue("theme", theme)
        app = QApplication.instance()
        if app is not None:
            apply_theme(app, theme)

    # --- settings ----------------------------------------------------------------------------

    def open_settings(self) -> None:
        project = self.project or proj.Project()
        dialog = SettingsDialog(
            self,
            self.model_edit.text(),
            project.model.device,
            project.model.precision,
            project.settings,
        )
        self.settings_dialog = dialog
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            self.apply_settings(dialog)

    def apply_settings(self, dialog: SettingsDialog) -> None:
        """What the dialog chose: the model folder for this machine, the rest into the
        project (the next dub, from here or the CLI, reads them back)."""
        choice = dialog.choice()
        self.model_edit.setText(str(choice.model_dir))
        self.check_models()
        self.settings.setValue("model_dir", str(choice.model_dir))  # checked by the dialog
        busy = self._jobs_running()
        render_with(self.queue_worker, dialog.render_on_choice(), self.engine_factory, busy=busy)
        if self.project is None or self._busy():
            return
        self.project.model.device, self.project.model.precision = choice.device, choice.precision
        self.project.settings = dialog.settings(self.project.settings)
        self.background.setCurrentText(self.project.settings.background.value)
        self.emotion.setCurrentText(self.project.settings.emotion.value)
        self._show_inspector()
        if self.autosaver is not None:
            self.autosaver.mark_dirty()

    def _queue_template(self) -> DubOptions:
        model = self.project.model if self.project else None
        return DubOptions(
            output=Path("."),
            model_dir=self._model_dir(),
            device=model.device if model else "auto",
            precision=model.precision if model else "auto",
        )

    # --- closing -----------------------------------------------------------------------------

    def _jobs_running(self) -> bool:
        return (
            self.running_job is not None
            or self.preview_job is not None
            or self.queue_panel.running()
        )

    def _maybe_close(self) -> None:
        if self.close_pending and not self._jobs_running():
            self.close()

    def _stop_queue(self) -> None:
        """The queue's thread ends with the window (no job is running by now)."""
        self.video.stop_all()
        self.queue_thread.quit()
        self.queue_thread.wait()
        release_engines(self.queue_worker.engines)

    def closeEvent(self, event) -> None:
        if self.opening is not None:  # a read is bounded: let it end, and drop its result
            self._end_open()  # waits first: the worker must outlive its run()
        if not self._jobs_running():
            self._keep_place()
            self._flush()
            self._stop_queue()
            event.accept()
            return
        # Never block the window or kill a running thread: cancel, and close once the
        # worker has stopped (it saves the project and leaves no partial output).
        answer = QMessageBox.question(
            self,
            "Render running",
            "A render is running. Cancel it and quit? Lines rendered so far stay cached.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            event.ignore()
            return
        if not self._jobs_running():  # it ended while the question was open: quit now
            self._flush()
            self._stop_queue()
            event.accept()
            return
        self.close_pending = True
        self.cancel_dub()
        self.queue_panel.cancel()
        event.ignore()
