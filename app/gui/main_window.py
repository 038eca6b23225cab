"""The editor's desk: the video and its timeline, the lines table, the line inspector, the
speakers and the batch queue in one window. The window shows the project and edits it
through its undo stack; every rule lives in core/ (core/desk.py, core/line_preview.py,
core/queue_store.py), and all heavy work runs on the long-lived job worker."""

from __future__ import annotations

import bisect
import copy
import dataclasses
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from PySide6.QtCore import QSettings, Qt, QThread, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui.edits import StateEdit
from app.gui.export_dialog import BACKGROUNDS, ExportChoice, ExportDialog
from app.gui.inspector import LineInspector
from app.gui.line_panel import push_emotion_edit
from app.gui.lines_model import (
    COL_CHECK,
    COL_EMOTION,
    COL_SPEAKER,
    COL_TEXT,
    COLUMNS,
    LinesFilter,
    LinesModel,
    LinesView,
)
from app.gui.palette import apply_theme
from app.gui.progress import overall_fraction, step_text, time_left_s
from app.gui.queue_panel import QueuePanel
from app.gui.settings_dialog import SettingsDialog
from app.gui.shortcuts import SHORTCUTS, ShortcutsDialog
from app.gui.speakers_panel import SpeakersPanel
from app.gui.timeline import PEAKS_PER_S, Block, Timeline
from app.gui.video_preview import VideoPreview
from app.gui.worker import (
    Opened,
    OpenWorker,
    QueueWorker,
    read_for_editing,
    start_in_thread,
    sync_project,
)
from core import desk
from core import project as proj
from core.audio import read_any_audio
from core.desk import LineStatus
from core.job_queue import JobQueue, JobStatus
from core.notices import group_notices
from core.options import DubOptions, default_work_dir
from core.pipeline import TEXT_EMOTION_MISSING, text_emotion_available
from core.project_keeper import project_file_for
from core.queue_store import QueueStore, default_queue_file
from core.subtitles import SUBTITLE_EXTENSIONS
from core.timing import plan_lines
from models.registry import default_model_dir

INFO_KINDS = frozenset({"device", "speakers", "listening-off"})  # what a dub decided
AUTOSAVE_S = 1.0  # an edit reaches the project file at most this long after it is made
SHOWN_WARNINGS = 4  # grouped warning lines in the label; the tooltip has them all
CELL_PADDING = 16  # px around a cell's text (Qt's margins plus a little air)
EMOTION_SAMPLE = "angry 0.80, calm 0.60, …"
CHECK_SAMPLE = "err 100% · sim 0.00"  # the listening check, before any line has one
MODELS_CHECK_MS = 300  # typing in the Models field re-checks the folder once it settles
RECENT_MAX = 8
WIDTH_CAPS = {COL_SPEAKER: 160}  # px: a long speaker name must not eat the Text column
NEEDS_RENDER = (LineStatus.NOT_RENDERED, LineStatus.STALE, LineStatus.FAILED)
SUBTITLE_FILTER = (
    "Subtitles (" + " ".join(f"*{e}" for e in SUBTITLE_EXTENSIONS) + ");;All files (*)"
)


def _stopper(thread: QThread):
    def stop(*_) -> None:
        thread.quit()
        thread.wait()

    return stop


def read_and_lay_out(video: Path, subtitles: Path | None) -> tuple[Opened, np.ndarray, dict]:
    """The whole slow part of an open, for the reading thread: the files, the original's
    waveform, and the waveform of every cached take (the dub lane of the timeline)."""
    opened = read_for_editing(video, subtitles)
    original = np.zeros(0, np.float32)
    if opened.inputs.media.has_audio:
        try:
            audio, rate = read_any_audio(opened.inputs.video, rate=8000)
            original = desk.peaks(audio, rate, PEAKS_PER_S)
            original = original / max(1e-6, float(original.max(initial=0.0)))
        except Exception:  # noqa: BLE001 - a waveform is a nicety: the open goes on without
            pass
    dub: dict[int, np.ndarray] = {}
    for index, line in opened.merge.lines.items():
        take = desk.usable_take(line)
        if take is not None:
            try:
                audio, rate = sf.read(take.cache_path, dtype="float32")
                dub[index] = desk.peaks(audio, rate, PEAKS_PER_S)
            except Exception:  # noqa: BLE001 - a damaged take is re-rendered later
                pass
    return opened, original, dub


class MainWindow(QMainWindow):
    # An open finished: True when the video is shown, False when it could not be read.
    opened = Signal(bool)
    # A preview or a "render stale" ended: True when it rendered something.
    preview_finished = Signal(bool)

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
        self._build_layout()
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

    def _action(self, text: str, slot, keys: str | QKeySequence | None = None) -> QAction:
        act = QAction(text, self)
        if keys is not None:
            act.setShortcut(QKeySequence(keys))
        act.triggered.connect(slot)
        return act

    def _build_menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        file.addAction(
            self._action("&Open video…", self.choose_video, QKeySequence.StandardKey.Open)
        )
        file.addAction(self._action("Open &subtitles…", self.choose_subtitles))
        self.recent_menu = file.addMenu("Open &recent")
        self._fill_recent()
        file.addSeparator()
        file.addAction(self._action("&Export…", self.export))
        file.addAction(self._action("Add videos to the &queue…", self.queue_panel._choose))
        file.addSeparator()
        file.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))
        # Our own actions, not createUndoAction(): those re-enable themselves while a dub runs.
        self.undo_act = self._action("&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_act = self._action("&Redo", self.redo, QKeySequence.StandardKey.Redo)
        for signal in (
            self.undo_stack.canUndoChanged,
            self.undo_stack.canRedoChanged,
            self.undo_stack.undoTextChanged,
            self.undo_stack.redoTextChanged,
        ):
            signal.connect(self._update_undo_actions)
        edit = self.menuBar().addMenu("&Edit")
        edit.addAction(self.undo_act)
        edit.addAction(self.redo_act)
        edit.addSeparator()
        edit.addAction(
            self._action(
                "Apply this line's emotion to the selected lines", self.copy_emotion_to_selected
            )
        )
        edit.addAction(self._action("&Settings…", self.open_settings))
        view = self.menuBar().addMenu("&View")
        view.addAction(self._action("&Light palette", lambda: self.set_theme("light")))
        view.addAction(self._action("&Dark palette", lambda: self.set_theme("dark")))
        render = self.menuBar().addMenu("&Render")
        for name, text in (
            ("start_dub", "Render &all"),
            ("render_stale", "Render &stale"),
            ("preview_line", "&Preview line"),
            ("regenerate_line", "Re&generate line"),
            ("cancel_dub", "&Cancel"),
        ):
            render.addAction(self._action(text, getattr(self, name)))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&Keyboard shortcuts", self.show_help))
        self._update_undo_actions()
        # Every shortcut of the table (app/gui/shortcuts.py), bound here, listed by F1.
        self.shortcut_actions: list[QAction] = []
        for name, keys, what in SHORTCUTS:
            if name in ("undo", "redo", "choose_video"):
                continue  # the menus' own actions carry these
            act = self._action(what, getattr(self, name), keys)
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(act)
            self.shortcut_actions.append(act)

    def _build_layout(self) -> None:
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.speaker_filter)
        filters.addWidget(self.status_filter)
        filters.addStretch(1)
        table_box = QWidget()
        tlay = QVBoxLayout(table_box)
        tlay.setContentsMargins(0, 0, 0, 0)
        tlay.addLayout(filters)
        tlay.addWidget(self.table, 1)

        # The inspector scrolls: the video and the table keep their room on a laptop screen.
        inspector_scroll = QScrollArea()
        inspector_scroll.setWidget(self.inspector)
        inspector_scroll.setWidgetResizable(True)
        inspector_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.tabs = QTabWidget()
        self.tabs.addTab(inspector_scroll, "Line")
        self.tabs.addTab(self.speakers, "Speakers")
        self.tabs.addTab(self.queue_panel, "Queue")
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.video)
        top.addWidget(self.tabs)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setSizes([700, 420])
        middle = QSplitter(Qt.Orientation.Vertical)
        middle.addWidget(top)
        middle.addWidget(table_box)
        middle.addWidget(self.timeline)
        middle.setSizes([330, 320, 140])
        # A smaller window than the default takes from the picture too, not from the lines
        # alone (at 1024x720 the table was left one row high).
        middle.setStretchFactor(0, 1)
        middle.setStretchFactor(1, 2)

        form = QHBoxLayout()
        form.addWidget(QLabel("Output"))
        form.addWidget(self.output_edit, 3)
        form.addWidget(self.out_btn)
        form.addWidget(QLabel("Models"))
        form.addWidget(self.model_edit, 2)
        form.addWidget(self.model_btn)
        form.addWidget(self.models_label)
        form.addWidget(QLabel("Background"))
        form.addWidget(self.background)
        form.addWidget(QLabel("Emotion"))
        form.addWidget(self.emotion)
        run = QHBoxLayout()
        for w in (self.dub_btn, self.stale_btn, self.export_btn, self.cancel_btn):
            run.addWidget(w)
        run.addWidget(self.progress, 1)
        run.addWidget(self.step_label)

        box = QVBoxLayout()
        box.addWidget(self.source_label)
        box.addWidget(middle, 1)
        box.addWidget(self.warnings_label)
        box.addLayout(form)
        box.addLayout(run)
        central = QWidget()
        central.setLayout(box)
        self.setCentralWidget(central)

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

    # --- opening -----------------------------------------------------------------------------

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open video", "", "Video (*.mp4 *.mkv *.mov *.m4v *.webm);;All files (*)"
        )
        if path:
            self.open_video(Path(path))

    def choose_subtitles(self) -> None:
        # Any file: the reader finds the format by content (a .txt SRT, a .sub, ...).
        start = str(self.inputs.video.parent) if self.inputs else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open subtitles", start, SUBTITLE_FILTER)
        if path:
            self.open_subtitles(Path(path))

    def open_subtitles(self, path: Path) -> bool:
        """These subtitles for the video shown (or the next one opened)."""
        if self.inputs:
            return self.open_video(self.inputs.video, Path(path))
        self.pending_subtitles = Path(path)
        self.statusBar().showMessage(f"{Path(path).name} will be used for the next video opened")
        return True

    def choose_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Dubbed video", self.output_edit.text(), "MP4 (*.mp4);;Matroska (*.mkv)"
        )
        if path:
            self.output_edit.setText(path)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = [p for p in (self.settings.value("recent", []) or []) if p]
        if isinstance(recent, str):
            recent = [recent]
        for path in recent:
            self.recent_menu.addAction(path, lambda p=path: self.open_video(Path(p)))
        self.recent_menu.setEnabled(bool(recent))

    def _remember_recent(self, video: Path) -> None:
        recent = self.settings.value("recent", []) or []
        if isinstance(recent, str):
            recent = [recent]
        recent = [str(video)] + [p for p in recent if p != str(video)]
        self.settings.setValue("recent", recent[:RECENT_MAX])
        self._fill_recent()

    def open_video(self, video: Path, subtitles: Path | None = None) -> bool:
        """Start opening a video with the given subtitles, or with those next to it; `opened`
        tells when it is shown. Subtitles of a previously opened video never carry over to
        another one. The files are read off the GUI thread (10,000 cues take seconds), with
        editing locked meanwhile. False when it cannot start now."""
        if self.running_job is not None or self.preview_job is not None:
            self.statusBar().showMessage(
                "A render is running: cancel it before opening another video"
            )
            return False
        if self.opening is not None:
            self.statusBar().showMessage("Still opening the previous video; try again in a moment")
            return False
        video = Path(video)
        same_video = self.inputs is not None and self.inputs.video == video
        if subtitles is None:
            subtitles = self.pending_subtitles or (self.subtitles if same_video else None)
        self.pending_subtitles = None
        # The read loads the project file: this video's edits must be in it first.
        self._keep_place()
        self._flush()
        self.opening = OpenWorker(lambda: read_and_lay_out(video, subtitles))
        self.opening.finished.connect(self._open_done)
        self.opening.failed.connect(self._open_failed)
        self._set_busy(f"Opening {video.name}…")
        self.open_thread = start_in_thread(self.opening)
        return True

    def _set_busy(self, message: str | None) -> None:
        """Busy indicator on (a message) or off (None); editing is locked while on."""
        busy = message is not None
        self.progress.setRange(0, 0 if busy else 100)  # 0..0: Qt's indeterminate bar
        if busy:
            self.statusBar().showMessage(message)
            self.step_label.setText("reading")
            self.setCursor(Qt.CursorShape.BusyCursor)
        else:
            self.progress.setValue(0)
            self.step_label.setText("")
            self.unsetCursor()
        self._enable()

    def _enable(self) -> None:
        """Buttons and editing as the window's state allows."""
        busy = self._busy()
        shown = self.current is not None
        for w in (self.dub_btn, self.stale_btn, self.export_btn):
            w.setEnabled(not busy and shown)
        self.cancel_btn.setEnabled(self.running_job is not None or self.preview_job is not None)
        self.inspector.set_busy(busy or self.project is None)
        self.panel.setEnabled(not busy and self.project is not None)
        self._update_undo_actions()

    def _end_open(self) -> None:
        """Wait for the reading thread, then let go of it and its worker (in this order:
        a worker freed while its run() is under way crashes the process)."""
        if self.open_thread is not None:
            self.open_thread.quit()
            self.open_thread.wait()  # immediate once run() has returned
        self.opening = None  # its late result, if any is still queued, is now ignored
        self.open_thread = None

    def _open_failed(self, message: str) -> None:
        if self.opening is None:  # the window closed meanwhile
            return
        self._end_open()
        self._set_busy(None)
        self.statusBar().showMessage("Could not open the video")
        QMessageBox.warning(self, "Cannot open", message)
        self.opened.emit(False)

    def _open_done(self, result: tuple[Opened, np.ndarray, dict]) -> None:
        if self.opening is None:  # the window closed meanwhile
            return
        opened, original, dub = result
        self._end_open()
        video, doc = opened.inputs.video, opened.inputs.subtitles
        same_video = self.current is not None and self.current.inputs.video == video
        keep = self._selected_line_id() if same_video else None
        if keep is None:  # where the editor left this project last time
            keep = (opened.project.extra.get("desk") or {}).get("line")
        self.current = opened
        self.subtitles = doc.path
        self.project = opened.project
        self.lines = opened.merge.lines
        # The project's own choices, shown and dubbed with (the boxes go on top of them).
        self.background.setCurrentText(opened.project.settings.background.value)
        self.emotion.setCurrentText(opened.project.settings.emotion.value)
        path = project_file_for(video)
        self.autosaver = proj.Autosaver(opened.project, path, interval_s=AUTOSAVE_S)
        self.undo_stack.clear()  # its commands name lines of the previous project
        edited = " (your edits)" if desk.edited_subtitles(opened.project) == doc.path else ""
        self.source_label.setText(
            f"{video.name} — {opened.inputs.media.duration_s:.1f} s   |   {doc.path.name}{edited} "
            f"({doc.format}, {doc.encoding}, {len(doc.cues)} cues)"
        )
        # Replace the output only if it is ours (empty or our last suggestion), never one the
        # editor typed; a suggestion for another video must not survive to overwrite its dub.
        if self.output_edit.text() in ("", self.suggested_output):
            saved = opened.project.output_path
            self.suggested_output = str(
                saved or video.with_name(video.stem + ".dubbed" + video.suffix)
            )
            self.output_edit.setText(self.suggested_output)
        self._fill_table()
        self._fill_timeline(original, dub)
        self._fill_filters()
        self._show_speakers()
        self.video.load(video, opened.inputs.media.fps, self._mix_file())
        self._show_warnings([*doc.warnings, *opened.merge.notices])
        self._set_busy(None)
        self._select_line(keep)
        self._remember_recent(video)
        if opened.project_error:
            self.statusBar().showMessage(
                f"Could not read the project: {opened.project_error}; starting fresh"
            )
        else:
            self.statusBar().showMessage(f"Opened {video.name} ({len(opened.cues)} lines)")
        if not opened.inputs.media.has_audio:
            self.tabs.setCurrentWidget(self.speakers)
        self.opened.emit(True)

    def _mix_file(self) -> Path | None:
        if self.inputs is None:
            return None
        mix = default_work_dir(self.inputs.video) / "mix.wav"
        return mix if mix.exists() else None

    def _show_warnings(self, notices) -> None:
        shown = group_notices(list(notices))
        if not shown:
            self.warnings_label.setText("")
            self.warnings_label.setToolTip("")
            return
        text = f"{len(notices)} warning(s): " + "; ".join(shown[:SHOWN_WARNINGS])
        self.warnings_label.setText(text + (" …" if len(shown) > SHOWN_WARNINGS else ""))
        self.warnings_label.setToolTip("\n".join(shown))

    # --- the table, the timeline, the filters ----------------------------------------------

    def _fill_table(self) -> None:
        """One model reset and one column sizing per open: linear in the number of cues."""
        assert self.current is not None and self.project is not None
        cues = self.current.cues
        self.row_cues = [c.index for c in cues]
        self.rows = {index: row for row, index in enumerate(self.row_cues)}
        self.table_model.reset(
            self.project,
            [self.lines[c.index] for c in cues],
            list(self.current.timings),
            [self.current.speakers[c.index] for c in cues],
        )
        self._starts = [c.start_ms for c in cues]
        self._selected = None  # a reset clears the selection without a signal
        self._size_columns(c for c in range(len(COLUMNS)) if c != COL_TEXT)

    def _size_columns(self, columns) -> None:
        """Fit columns to their longest text, measured once per column: the view's own
        resizeColumnsToContents asks the model ~9 roles of 1,000 rows per column (0.6 s)."""
        fm = self.table.fontMetrics()
        header_fm = self.table.horizontalHeader().fontMetrics()
        model = self.table_model
        for col in columns:
            longest = max(
                (model.text(r, col) for r in range(model.rowCount())), key=len, default=""
            )
            width = max(fm.horizontalAdvance(longest), header_fm.horizontalAdvance(COLUMNS[col]))
            if col == COL_EMOTION:  # room for a typical setting before it is made
                width = max(width, fm.horizontalAdvance(EMOTION_SAMPLE))
            if col == COL_CHECK:  # and for a check a preview brings (it was cut to "err 1…")
                width = max(width, fm.horizontalAdvance(CHECK_SAMPLE))
            width = min(width, WIDTH_CAPS.get(col, 10_000))
            self.table.setColumnWidth(col, width + CELL_PADDING)
        self.table.fit_text_column()

    def _fill_timeline(self, original: np.ndarray, dub: dict[int, np.ndarray]) -> None:
        assert self.current is not None
        duration_ms = round(self.current.inputs.media.duration_s * 1000)
        self.timeline.set_content(duration_ms, self._blocks(), original)
        for index, peaks in dub.items():
            row = self.rows.get(index)
            if row is not None:
                self.timeline.set_dub(row, self.lines[index].start_ms, peaks)

    def _blocks(self) -> list[Block]:
        model = self.table_model
        return [
            Block(row, ln.start_ms, ln.end_ms, model.speaker_colour(model.speaker_id(row)), ln.text)
            for row, ln in enumerate(model.lines)
        ]

    def _fill_filters(self) -> None:
        self.speaker_filter.blockSignals(True)
        self.speaker_filter.clear()
        self.speaker_filter.addItem("All speakers", None)
        model = self.table_model
        seen = dict.fromkeys(model.speaker_id(r) for r in range(model.rowCount()))
        for sid in seen:
            speaker = self.project.speaker(sid) if self.project else None
            self.speaker_filter.addItem(speaker.name if speaker else sid, sid)
        self.speaker_filter.blockSignals(False)
        self.table_filter.set_filter(None, None)
        self.status_filter.blockSignals(True)
        self.status_filter.setCurrentIndex(0)
        self.status_filter.blockSignals(False)

    def _filter_changed(self, *_) -> None:
        status = self.status_filter.currentData()
        self.table_filter.set_filter(
            self.speaker_filter.currentData(), None if status is None else LineStatus(status)
        )

    def set_filter(self, speaker: str | None = None, status: LineStatus | None = None) -> None:
        """Show only one speaker's lines and/or one status (None: all)."""
        for combo, value in ((self.speaker_filter, speaker), (self.status_filter, status)):
            i = next((k for k in range(combo.count()) if combo.itemData(k) == value), 0)
            combo.blockSignals(True)
            combo.setCurrentIndex(i)
            combo.blockSignals(False)
        self.table_filter.set_filter(speaker, status)

    def _show_speakers(self) -> None:
        needs_files = self.inputs is not None and not self.inputs.media.has_audio
        self.speakers.show_project(self.project, needs_files)

    def _refresh_row(self, row: int) -> None:
        self.table_model.refresh_row(row)
        if self._selected is not None and self.rows.get(self._selected) == row:
            self._show_inspector()

    def _refresh_everything(self) -> None:
        self.table_model.refresh_all()
        self.timeline.canvas.blocks = self._blocks()
        self.timeline.canvas.update()
        self._show_speakers()
        self._show_inspector()

    # --- selection ---------------------------------------------------------------------------

    def _selected_line_id(self) -> str | None:
        index = self.selected_index()
        line = None if index is None else self.line(index)
        return line.id if line else None

    def _select_line(self, line_id: str | None) -> None:
        """Select the line with this id (a reopen keeps the editor's place), else the first."""
        row = next(
            (self.rows[i] for i, ln in self.lines.items() if line_id and ln.id == line_id), 0
        )
        self._select_row(row)

    def _select_row(self, row: int) -> None:
        if 0 <= row < self.table_model.rowCount():
            view_row = self._view_row(row)
            if view_row >= 0:
                self._select_view_row(view_row)
        self._selection_changed()

    def _select_view_row(self, view_row: int) -> None:
        """Only this row, whatever modifier keys are held (selectRow toggles under Ctrl)."""
        index = self.table_filter.index(view_row, 0)
        flags = self.table.selectionModel().SelectionFlag
        self.table.selectionModel().setCurrentIndex(index, flags.ClearAndSelect | flags.Rows)
        self.table.scrollTo(index)

    def _selection_changed(self, *_) -> None:
        current = self.table.selectionModel().currentIndex()
        rows = self.table.selectionModel().selectedRows()
        if current.isValid() and self.table.selectionModel().isRowSelected(
            current.row(), current.parent()
        ):
            view_row = current.row()
        else:
            view_row = rows[0].row() if rows else -1
        row = (
            self.table_filter.mapToSource(self.table_filter.index(view_row, 0)).row()
            if view_row >= 0
            else -1
        )
        self._selected = self.row_cues[row] if 0 <= row < len(self.row_cues) else None
        self.timeline.canvas.selected = {
            self.rows[i] for i in self.selected_indices() if i in self.rows
        }
        self._show_inspector()
        if self._selected is not None:
            line = self.line(self._selected)
            if line is not None:
                self.timeline.show_line(line.start_ms, line.end_ms)
        self.timeline.canvas.update()

    def _show_inspector(self) -> None:
        index = self._selected
        line = None if index is None else self.line(index)
        row = self.rows.get(index) if index is not None else None
        status = ""
        if row is not None and row < self.table_model.rowCount():
            state, reason = self.table_model.status(row)
            status = state.value + (f": {reason}" if reason else "")
        mode = self.project.settings.duration_mode.value if self.project else "exact"
        self.inspector.show_line(line, status, mode)
        self.inspector.set_busy(self._busy())
        self.panel.setEnabled(not self._busy() and self.project is not None)

    def _row_double_clicked(self, index) -> None:
        if index.column() not in (COL_SPEAKER, COL_TEXT):
            self.play_line()

    # --- edits (each through the undo stack) --------------------------------------------

    def _panel_edited(self, emotion: proj.Emotion, merge_key) -> None:
        index = self.selected_index()
        line = None if index is None else self.line(index)
        if line is None or self._busy():
            self.panel.show_line(line)
            return
        others = [i for i in self.selected_indices() if i != index]
        if others and merge_key is None:  # a bulk edit: every selected line, one undo step
            self._edit_lines(
                "emotion", {i: emotion for i in [index, *others]}, "emotion of the selected lines"
            )
            return
        push_emotion_edit(
            self.undo_stack, self.set_emotion, index, line.emotion, emotion, merge_key
        )

    def set_emotion(self, index: int, emotion: proj.Emotion) -> None:
        """Apply an emotion to a line (the undo stack's only way in)."""
        line = self.line(index)
        if line is None:
            return
        line.emotion = emotion
        row = self.rows.get(index)
        if row is not None:
            self.table_model.refresh_cell(row, COL_EMOTION)
        if self.selected_index() == index:
            self.panel.show_line(line)
        if self.autosaver is not None:
            self.autosaver.mark_dirty()

    def set_duration_mode(self, mode) -> None:
        """The inspector's duration mode (None: as the dub) for the selected lines, as one
        undo step; a rendered line goes stale."""
        index = self.selected_index()
        if index is None or self._busy():
            return
        indices = [index, *(i for i in self.selected_indices() if i != index)]
        what = f"line {index}" if len(indices) == 1 else "the selected lines"
        self._edit_lines("duration_mode", {i: mode for i in indices}, f"duration mode of {what}")

    def copy_emotion_to_selected(self) -> None:
        index = self.selected_index()
        line = None if index is None else self.line(index)
        if line is None or self._busy():
            return
        self._edit_lines(
            "emotion",
            {i: line.emotion for i in self.selected_indices()},
            "emotion of the selected lines",
        )

    def _line_value(self, line: proj.Line, field: str):
        if field == "emotion":
            return line.emotion
        if field == "text":
            return line.text
        if field == "span":
            return (line.start_ms, line.end_ms)
        if field == "speaker":
            return (line.speaker_id, line.speaker_source)
        if field == "seed":
            return line.extra.get(desk.SEED_KEY)
        if field == "duration_mode":
            return line.duration_mode
        raise ValueError(field)

    def _edit_lines(self, field: str, values: dict[int, object], text: str) -> None:
        """One undo step that sets `field` of these lines (cue number -> value)."""
        if self._busy() or not values:
            return
        before = {i: self._line_value(self.lines[i], field) for i in values if i in self.lines}
        after = {i: v for i, v in values.items() if i in before}
        if before == after:
            return
        self.undo_stack.push(
            StateEdit(text, lambda state: self._set_lines(field, state), before, after)
        )

    def _set_lines(self, field: str, values: dict[int, object]) -> None:
        retimed = False
        for index, value in values.items():
            line = self.lines.get(index)
            if line is None:
                continue
            if field == "emotion":
                line.emotion = value
            elif field == "text":
                line.text = value
                retimed = True
            elif field == "span":
                line.start_ms, line.end_ms = value
                retimed = True
            elif field == "speaker":
                line.speaker_id, line.speaker_source = value
            elif field == "duration_mode":
                line.duration_mode = value
            elif field == "seed":
                if value is None:
                    line.extra.pop(desk.SEED_KEY, None)
                else:
                    line.extra[desk.SEED_KEY] = value
        if retimed:
            self._retime()
        if field == "speaker":
            self._refresh_everything()
            self._fill_filters()
        else:
            for index in values:
                if (row := self.rows.get(index)) is not None:
                    self._refresh_row(row)
                    if retimed:
                        ln = self.lines[index]
                        self.timeline.canvas.blocks[row].start_ms = ln.start_ms
                        self.timeline.canvas.blocks[row].end_ms = ln.end_ms
                        self.timeline.canvas.blocks[row].label = ln.text
            self.timeline.canvas.update()
            self._show_inspector()
        if self.autosaver is not None:
            self.autosaver.mark_dirty()

    def _retime(self) -> None:
        """Text or spans changed: the shown cues and their timing follow, and the dub reads
        the editor's lines (core/desk.py writes them as subtitles in the work folder)."""
        assert self.current is not None and self.project is not None
        self.current.cues = [
            dataclasses.replace(c, start_ms=self.lines[c.index].start_ms,
                                end_ms=self.lines[c.index].end_ms, text=self.lines[c.index].text)
            for c in self.current.cues
        ]  # fmt: skip
        end_ms = round(self.current.inputs.media.duration_s * 1000)
        self.current.timings = plan_lines(self.current.cues, video_end_ms=end_ms)
        self.table_model.timings = list(self.current.timings)
        self._starts = [c.start_ms for c in self.current.cues]
        self.subtitles = desk.write_edited_subtitles(
            self.project, default_work_dir(self.current.inputs.video)
        )

    def _cell_edited(self, row: int, col: int, value: str) -> None:
        index = self.row_cues[row]
        if col == COL_TEXT:
            self._edit_lines("text", {index: value}, f"text of line {index}")
        elif col == COL_SPEAKER:
            self.assign_speaker([index], value)

    def assign_speaker(self, indices: list[int], name: str) -> None:
        """These lines are spoken by the speaker of this name or id (a new one if none)."""
        if self.project is None or self._busy():
            return
        speaker = next(
            (s for s in self.project.speakers if name in (s.name, s.id)), None
        ) or self.project.add_speaker(name)
        self._edit_lines(
            "speaker", {i: (speaker.id, "user") for i in indices}, f"speaker {speaker.name}"
        )

    def set_span(self, row: int, start_ms: int, end_ms: int) -> None:
        """A block's edge dragged: the span, kept off the neighbours, as one undo step."""
        if not 0 <= row < len(self.row_cues):
            return
        start, end = self._clamp_span(row, start_ms, end_ms)
        index = self.row_cues[row]
        self._edit_lines("span", {index: (start, end)}, f"span of line {index}")

    def _clamp_span(self, row: int, start_ms: int, end_ms: int) -> tuple[int, int]:
        assert self.current is not None
        line = self.table_model.lines[row]
        end = round(self.current.inputs.media.duration_s * 1000)
        return desk.clamp_span(self.table_model.lines, line, start_ms, end_ms, end)

    # --- speakers (undoable: the speakers and the lines' assignments as one state) -------

    def _speakers_state(self):
        assert self.project is not None
        return (
            copy.deepcopy(self.project.speakers),
            {i: (ln.speaker_id, ln.speaker_source) for i, ln in self.lines.items()},
        )

    def _set_speakers_state(self, state) -> None:
        assert self.project is not None
        speakers, assigned = state
        self.project.speakers = copy.deepcopy(speakers)
        for index, (sid, source) in assigned.items():
            if index in self.lines:
                self.lines[index].speaker_id, self.lines[index].speaker_source = sid, source
        self._refresh_everything()
        self._fill_filters()
        if self.autosaver is not None:
            self.autosaver.mark_dirty()

    def _speaker_edit(self, text: str, change) -> None:
        """Run `change(project)` (core/desk.py) as one undo step; a refusal is shown."""
        if self.project is None or self._busy():
            return
        before = self._speakers_state()
        try:
            change(self.project)
        except ValueError as exc:
            self._set_speakers_state(before)
            QMessageBox.warning(self, "Speakers", str(exc))
            return
        after = self._speakers_state()
        self.undo_stack.push(StateEdit(text, self._set_speakers_state, before, after))

    def rename_speaker(self, speaker_id: str, name: str) -> None:
        self._speaker_edit(
            f"rename {speaker_id}", lambda p: desk.rename_speaker(p, speaker_id, name)
        )

    def merge_speakers(self, keep_id: str, gone_id: str) -> None:
        self._speaker_edit(
            f"merge {gone_id} into {keep_id}", lambda p: desk.merge_speakers(p, keep_id, gone_id)
        )

    def set_voice_file(self, speaker_id: str, path: Path) -> None:
        self._speaker_edit(
            f"voice file of {speaker_id}", lambda p: desk.prompt_from_file(p, speaker_id, path)
        )

    def prompt_from_selected(self, speaker_id: str) -> None:
        lines = [self.lines[i] for i in self.selected_indices() if i in self.lines]
        self._speaker_edit(
            f"prompt of {speaker_id} from lines",
            lambda p: desk.prompt_from_lines(p, speaker_id, lines),
        )

    def play_prompt(self, speaker_id: str) -> None:
        speaker = self.project.speaker(speaker_id) if self.project else None
        if speaker is None:
            return
        if speaker.prompt_path is not None:
            self.video.play_file(speaker.prompt_path)
        elif speaker.prompt_parts:
            self.video.listen.setCurrentIndex(0)  # the original: that is where it was cut
            self.video.play_span(speaker.prompt_parts[0].start_ms)
        else:
            self.statusBar().showMessage(
                f"{speaker.name}'s prompt is cut from the video at the next render"
            )

    # --- takes -------------------------------------------------------------------------------

    def use_take(self, position: int) -> None:
        index = self.selected_index()
        line = None if index is None else self.line(index)
        if line is None or not 0 <= position < len(line.takes) or self._busy():
            return
        self._edit_lines("seed", {index: line.takes[position].seed}, f"take of line {index}")
        desk.mark_rendered(line)
        if (row := self.rows.get(index)) is not None:
            self._refresh_row(row)

    def accept_take(self) -> None:
        self.inspector.accept_selected()

    # --- undo -------------------------------------------------------------------------------

    def undo(self) -> None:
        if not self._busy():
            self.undo_stack.undo()

    def redo(self) -> None:
        if not self._busy():
            self.undo_stack.redo()

    def _update_undo_actions(self, *_) -> None:
        idle = not self._busy()
        self.undo_act.setEnabled(idle and self.undo_stack.canUndo())
        self.redo_act.setEnabled(idle and self.undo_stack.canRedo())
        self.undo_act.setText(f"&Undo {self.undo_stack.undoText()}".rstrip())
        self.redo_act.setText(f"&Redo {self.undo_stack.redoText()}".rstrip())

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

    # --- rendering ------------------------------------------------------------------------

    def _options(self, output: Path, extra: ExportChoice | None = None) -> DubOptions:
        assert self.project is not None
        changes = {
            "background": self.background.currentText(),
            "emotion": self.emotion.currentText(),
        }
        if extra is not None:
            changes.update(extra.changes)
        voices = {s.id: s.prompt_path for s in self.project.speakers if s.prompt_path is not None}
        return DubOptions(
            output=Path(output),
            subtitles=self.subtitles,
            # The project's own settings and device, with the window's fields on top.
            settings=self.project.settings,
            changes=changes,
            model_dir=self._model_dir(),
            device=self.project.model.device,
            precision=self.project.model.precision,
            voices=voices,
            stems_dir=extra.stems_dir if extra else None,
            report_path=extra.report_path if extra else None,
        )

    def _voices_missing(self) -> bool:
        """A video without audio: every speaker needs a voice file, asked for by name."""
        if self.inputs is None or self.inputs.media.has_audio or self.project is None:
            return False
        model = self.table_model
        needed = dict.fromkeys(model.speaker_id(r) for r in range(model.rowCount()))
        missing = [
            (self.project.speaker(s).name if self.project.speaker(s) else s)
            for s in needed
            if not (self.project.speaker(s) and self.project.speaker(s).prompt_path)
        ]
        if not missing:
            return False
        self.tabs.setCurrentWidget(self.speakers)
        QMessageBox.warning(
            self,
            "Voice files needed",
            "This video has no audio to take the voices from. In the Speakers tab, choose "
            f"a voice file (Voice file…) for: {', '.join(missing)}.",
        )
        return True

    def start_dub(self, extra: ExportChoice | None = None) -> None:
        """Render every line (unchanged ones come from the cache) and write the output."""
        if self.inputs is None or self._busy():
            return
        extra = extra if isinstance(extra, ExportChoice) else None
        out = self.output_edit.text().strip()
        if not out:
            QMessageBox.warning(self, "No output", "Choose where to write the dubbed video.")
            return
        if self._voices_missing():
            return
        if Path(out).exists():
            answer = QMessageBox.question(
                self, "Replace the output?", f"{out} exists already. Replace it with this dub?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._remember_model_dir()
        assert self.project is not None
        options = self._options(Path(out), extra)
        self._keep_place()
        self._flush()  # the file is current, for a crash during the dub
        self.dub_warnings = []
        # The dub works on this very project: takes land in it as they arrive.
        self.running_job = self.queue_worker.submit(self.inputs.video, options, self.project)
        self._started("Dubbing…")

    def _started(self, message: str) -> None:
        self._enable()
        self.table_model.fresh.clear()
        self._step, self._step_done, self._render_start = None, (0, 0), None
        self.progress.setValue(0)
        self.step_label.setText("starting")
        self.statusBar().showMessage(message)

    def export(self) -> None:
        """The Export dialog, then the dub with its choices (kept as the project's)."""
        if self.inputs is None or self._busy() or self.project is None:
            return
        dialog = ExportDialog(
            self, self.output_edit.text(), self.project.settings, self.inputs.media.has_audio
        )
        self.export_dialog = dialog
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return
        self.run_export(dialog.choice())

    def run_export(self, choice: ExportChoice) -> None:
        assert self.project is not None
        self.output_edit.setText(str(choice.output))
        self.background.setCurrentText(choice.changes["background"])
        self.start_dub(choice)

    def _render_lines(self, indices: list[int], seed: int | None, play: bool) -> None:
        if self.inputs is None or self._busy() or not indices or self._voices_missing():
            return
        self._remember_model_dir()
        self._flush()
        self.dub_warnings = []
        self.play_after_preview, self.preview_seed = play, seed
        options = self._options(Path(self.output_edit.text().strip() or "preview.mp4"))
        self.preview_job = self.queue_worker.submit_preview(
            self.inputs.video, options, self.project, indices, seed
        )
        self.table_model.rendering = set(indices)
        for i in indices:
            if (row := self.rows.get(i)) is not None:
                self.table_model.refresh_row(row)
        self._started(f"Rendering {len(indices)} line(s)…")

    def _line_start(self, index: int | None) -> int | None:
        line = self.lines.get(index) if index is not None else None
        return line.start_ms if line is not None else None

    def _play_take(self, path: str) -> None:
        """A take of the selected line, alone; the picture waits at that line's start."""
        self.video.play_file(Path(path), self._line_start(self.selected_index()))

    def preview_line(self) -> None:
        """Render just the selected line (from the cache when unchanged) and play it."""
        if self.selected_index() is not None:
            self._render_lines([self.selected_index()], None, play=True)

    def regenerate_line(self) -> None:
        """A new take of the selected line (a new seed); it becomes the line's chosen take."""
        index = self.selected_index()
        line = None if index is None else self.line(index)
        if line is None or self.project is None:
            return
        own = line.takes[-1].seed if line.takes else self.project.settings.seed + index
        self._render_lines([index], desk.next_take_seed(line, own), play=True)

    def render_stale(self) -> None:
        model = self.table_model
        stale = [
            model.lines[r].index
            for r in range(model.rowCount())
            if model.status(r)[0] in NEEDS_RENDER
        ]
        if not stale:
            self.statusBar().showMessage("Every line is rendered and current")
            return
        self._render_lines(stale, None, play=False)

    def cancel_dub(self) -> None:
        if self.running_job is not None:
            self.queue_worker.cancel(self.running_job)
        elif self.preview_job is not None:
            self.queue_worker.cancel_preview(self.preview_job)
        else:
            return
        self.cancel_btn.setEnabled(False)
        self.statusBar().showMessage("Cancelling after the current line…")

    def on_progress(self, step: str, done: int, total: int) -> None:
        self._step, self._step_done = step, (done, total)
        frac = overall_fraction(step, done, total)
        if frac is not None:
            self.progress.setValue(int(frac * 100))
        left = None
        if step == "render":
            if self._render_start is None:  # lines already done now came from the cache
                self._render_start = (time.monotonic(), done)
                self._mark_rendering()
            t0, first = self._render_start
            left = time_left_s(first, done, total, time.monotonic() - t0)
        self.step_label.setText(step_text(step, done, total, left))

    def _mark_rendering(self) -> None:
        """The render starts: every line that needs it shows "rendering" until its take."""
        model = self.table_model
        if self.running_job is None:
            return
        model.rendering = {
            model.lines[r].index
            for r in range(model.rowCount())
            if model.status(r)[0] in NEEDS_RENDER
        }
        for index in model.rendering:
            model.refresh_row(self.rows[index])

    def _where(self) -> str:
        """Where the dub stopped, for the messages: "during render (line 3 of 20)"."""
        if self._step is None:
            return "before it started"
        done, total = self._step_done
        if self._step == "render" and total:
            return f"during render (line {min(done + 1, total)} of {total})"
        return f"during {self._step}"

    # --- the worker's signals ------------------------------------------------------------------

    def _mine(self, job_id: int) -> bool:
        return job_id in (self.running_job, self.preview_job) and job_id is not None

    def _job_stage(self, job_id: int, step: str, done: int, total: int) -> None:
        if self._mine(job_id):
            self.on_progress(step, done, total)

    def _line_rendered(self, job_id: int, index: int, take) -> None:
        """Each take as it arrives: the row's status, fit and the dub's waveform."""
        row = self.rows.get(index)
        if not self._mine(job_id) or row is None:
            return
        model = self.table_model
        model.rendering.discard(index)
        model.fresh.add(index)
        self._refresh_row(row)
        self.timeline.set_dub(
            row, self.lines[index].start_ms, desk.peaks(take.audio, desk.RATE_22K, PEAKS_PER_S)
        )

    def _job_warning(self, job_id: int, notice) -> None:
        if self._mine(job_id):
            self.dub_warnings.append(notice)

    def _job_ended(self, job_id: int) -> None:
        job = self.queue.get(job_id)
        if job is None or job_id != self.running_job:
            return
        if job.status is JobStatus.DONE:
            self.on_finished(job.report)
        elif job.status is JobStatus.CANCELLED:
            self.on_cancelled()
        else:
            self.on_failed(job.error or "the dub failed")

    def _preview_ended(self, preview_id: int, results, error) -> None:
        if preview_id != self.preview_job:
            return
        seed_asked, self.preview_seed = self.preview_seed, None
        self.preview_job = None
        self._done()
        self._reset_progress()
        if error and not results:
            where = "cancelled" if error == "cancelled" else f"failed: {error}"
            self.statusBar().showMessage(f"Rendering {where}; lines rendered so far stay cached")
            if error != "cancelled" and not self.close_pending:
                QMessageBox.warning(self, "Could not render", error)
            self.preview_finished.emit(False)
            self._maybe_close()
            return
        for r in results:
            line = self.lines.get(r.index)
            if line is None:
                continue
            take = next((t for t in reversed(line.takes) if t.key == r.take.key), None)
            if take is not None and seed_asked is not None:
                desk.choose_take(line, take)  # a regenerated take is the line's chosen one
            desk.mark_rendered(line)
            if (row := self.rows.get(r.index)) is not None:
                self._refresh_row(row)
                self.timeline.set_dub(
                    row, line.start_ms, desk.peaks(r.take.audio, desk.RATE_22K, PEAKS_PER_S)
                )
        if self.autosaver is not None:
            self.autosaver.mark_dirty()
        first = results[0]
        check = "" if first.check is None else f", {first.check.error_rate:.0%} off its text"
        self.statusBar().showMessage(
            f"Rendered {len(results)} line(s); line {first.index}: "
            f"{len(first.take.audio) / desk.RATE_22K:.2f} s{check}"
        )
        if self.play_after_preview:
            self.video.play_file(first.wav, self._line_start(first.index))
        self.preview_finished.emit(True)
        self._maybe_close()

    def _done(self) -> None:
        self.running_job = None
        model = self.table_model
        for index in model.fresh:
            if (line := self.lines.get(index)) is not None:
                desk.mark_rendered(line)
        model.rendering.clear()
        model.fresh.clear()
        self._resync_after_dub()
        self._enable()

    def _reset_progress(self) -> None:
        """A dub that did not finish leaves no half-full bar or stale step behind."""
        self.progress.setValue(0)
        self.step_label.setText("")
        self._render_start = None

    def _resync_after_dub(self) -> None:
        """The dub worked on this very project (takes, speakers): no reload from disk, only
        the window's view of it is brought up to date."""
        if self.current is None or self.project is None:
            return
        merge = sync_project(self.project, self.current)
        self.lines = merge.lines
        self.table_model.lines = [self.lines[i] for i in self.row_cues]
        self._refresh_everything()
        self._size_columns((COL_SPEAKER,))  # names may have grown ("Speaker 1")

    def on_finished(self, report) -> None:
        for line in report.lines:
            if line.error:
                self.table_model.errors[line.index] = line.error
        self._done()
        self.video.set_dub(self._mix_file())
        if self.close_pending:
            self.close()
            return
        self.last_report = report
        # The dub's own warnings, grouped like the CLI's; what it decided (the device, who
        # speaks) is said in the status bar, not counted as a warning.
        decided = [n for n in self.dub_warnings if n.kind in INFO_KINDS]
        self._show_warnings([n for n in self.dub_warnings if n.kind not in INFO_KINDS])
        self.progress.setValue(100)
        self.step_label.setText("done")
        failed = len(report.failed)
        msg = f"Wrote {report.output} ({len(report.lines)} lines, {failed} failed) in {report.wall_s:.1f} s"
        if decided:
            msg += "; " + "; ".join(str(n) for n in decided)
        self.statusBar().showMessage(msg)
        if failed:
            QMessageBox.warning(
                self,
                "Some lines failed",
                msg + "\n\n" + "\n".join(f"cue {r.index}: {r.error}" for r in report.failed[:10]),
            )
        else:
            self._show_result(Path(report.output), msg)

    def _show_result(self, output: Path, message: str) -> None:
        """A message that offers to open the output's folder; not modal to the app."""
        box = QMessageBox(QMessageBox.Icon.Information, "Dub written", message, parent=self)
        folder_btn = box.addButton("Open folder", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Close)
        folder_btn.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(output.parent)))
        )
        self.result_box = box
        box.open()

    def on_failed(self, message: str) -> None:
        where = self._where()
        self._done()
        self._reset_progress()
        self.statusBar().showMessage(f"Dub failed {where}: {message}; nothing was written")
        if self.close_pending:
            self.close()
            return
        QMessageBox.critical(self, "Dub failed", message)

    def on_cancelled(self) -> None:
        where = self._where()
        self._done()
        self._reset_progress()
        self.statusBar().showMessage(
            f"Cancelled {where}; nothing was written (lines rendered so far stay cached)"
        )
        if self.close_pending:
            self.close()

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
            self.video.play_span(line.start_ms)

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
