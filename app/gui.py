"""`dubsmith-gui`: open a video and its subtitles, review the lines, set each line's emotion
(undoable, autosaved to the project file next to the video), dub with progress."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QSettings,
    Qt,
    QThread,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.line_panel import LinePanel, push_emotion_edit, summary
from app.worker import (
    Opened,
    OpenWorker,
    QueueWorker,
    read_for_editing,
    start_in_thread,
    sync_project,
)
from core import project as proj
from core.job_queue import JobQueue, JobStatus
from core.notices import group_notices
from core.pipeline import (
    STAGE_WEIGHTS,
    STEPS,
    TEXT_EMOTION_MISSING,
    DubOptions,
    text_emotion_available,
)
from core.project import SPEAKER_COLOURS
from core.project_keeper import project_file_for
from core.subtitles import SUBTITLE_EXTENSIONS
from models.quiet import quiet_transformers
from models.registry import default_model_dir

COLUMNS = ("#", "Start", "End", "Speaker", "Text", "Pace", "Requested", "Rendered", "Emotion")
COL_SPEAKER, COL_TEXT = 3, 4
INFO_KINDS = frozenset(
    {"device", "speakers", "listening-off"}
)  # notices that say what a dub decided
COL_PACE, COL_REQUESTED, COL_RENDERED, COL_EMOTION = 5, 6, 7, 8
AUTOSAVE_S = 1.0  # an edit reaches the project file at most this long after it is made
SHOWN_WARNINGS = 4  # grouped warning lines in the label; the tooltip has them all
CELL_PADDING = 16  # px around a cell's text (Qt's margins plus a little air)
EMOTION_SAMPLE = "angry 0.80, calm 0.60, …"
MODELS_CHECK_MS = 300  # typing in the Models field re-checks the folder once it settles
MIN_LINES_FOR_ESTIMATE = 2  # the first lines include warm-up: no estimate before this many


def _ms(ms: int) -> str:
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:d}:{m:02d}:{s:02d}.{ms:03d}"


# --- progress, as pure functions (unit-tested) ---------------------------------------------------


def overall_fraction(
    step: str, done: int, total: int, steps: Sequence[str] = STEPS
) -> float | None:
    """How far the whole dub is, in [0, 1], when `step` has done `done` of `total`; None for a
    step that is not one of the dub's. Each step counts by its share of the work (the core's
    STAGE_WEIGHTS: rendering is nearly all of it; equal shares showed 57 % before the first
    line was rendered); a step without a weight counts 1."""
    if step not in steps:
        return None
    weights = [STAGE_WEIGHTS.get(s, 1) for s in steps]
    i = steps.index(step)
    part = min(1.0, max(0.0, done / total)) if total > 0 else 1.0
    return (sum(weights[:i]) + weights[i] * part) / sum(weights)


def time_left_s(first_done: int, done: int, total: int, elapsed_s: float) -> float | None:
    """Seconds left at the pace since the step started (when `first_done` were already done,
    e.g. taken from the cache); None until MIN_LINES_FOR_ESTIMATE more are done."""
    new = done - first_done
    if new < MIN_LINES_FOR_ESTIMATE or elapsed_s <= 0 or done >= total:
        return None
    return (total - done) * elapsed_s / new


def describe_left(seconds: float) -> str:
    """A rough, calm estimate: "about 40 s left", "about 3 min left", "about 1 h 5 min left"."""
    s = round(seconds)
    if s < 60:
        return f"about {max(5, round(s / 5) * 5)} s left"
    m = round(s / 60)
    if m < 60:
        return f"about {m} min left"
    return f"about {m // 60} h {m % 60} min left"


def step_text(step: str, done: int, total: int, left_s: float | None = None) -> str:
    """The label beside the bar: the line being rendered, and the time left once known."""
    if step == "render" and total and done < total:
        text = f"render: line {done + 1} of {total}"
    else:
        text = f"{step} {done}/{total}"
    if left_s is not None:
        text += f", {describe_left(left_s)}"
    return text


# --- the lines table -------------------------------------------------------------------------------


class LineTable(QAbstractTableModel):
    """The lines as the table shows them: plain strings, built once per open. A model (not
    one QTableWidgetItem per cell) so that opening 10,000 cues is one reset, and changing a
    cell touches that cell only."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.cells: list[list[str]] = []
        self.colours: dict[tuple[int, int], QColor] = {}
        self.tips: dict[tuple[int, int], str] = {}

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's own signature
        return 0 if parent.isValid() else len(self.cells)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        key = (index.row(), index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cells[key[0]][key[1]]
        if role == Qt.ItemDataRole.ForegroundRole:
            return self.colours.get(key)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tips.get(key)
        return None

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def reset(self, cells: list[list[str]], colours: dict, tips: dict) -> None:
        self.beginResetModel()
        self.cells, self.colours, self.tips = cells, colours, tips
        self.endResetModel()

    def text(self, row: int, col: int) -> str:
        return self.cells[row][col]

    def set_cell(self, row: int, col: int, text: str, colour: str | None = None, tip=None) -> None:
        """One cell's text, and its colour and tooltip (None: none)."""
        self.cells[row][col] = text
        key = (row, col)
        if colour is None:
            self.colours.pop(key, None)
        else:
            self.colours[key] = QColor(colour)
        if tip is None:
            self.tips.pop(key, None)
        else:
            self.tips[key] = tip
        index = self.index(row, col)
        self.dataChanged.emit(index, index)


Cells = tuple[list[list[str]], dict[tuple[int, int], QColor], dict[tuple[int, int], str]]


def table_cells(opened: Opened, lines: dict[int, proj.Line]) -> Cells:
    """(cells, colours, tips) of the table for an opened video: one row per cue. The
    speaker is the project's (an analysis or the editor decided it), else the hint's."""
    project = opened.project

    def speaker_of(c) -> str:
        line = lines.get(c.index)
        return (line.speaker_id if line and line.speaker_id else None) or opened.speakers[c.index]

    colour_of = {
        sid: QColor(SPEAKER_COLOURS[i % len(SPEAKER_COLOURS)])
        for i, sid in enumerate(dict.fromkeys(speaker_of(c) for c in opened.cues))
    }
    for speaker in project.speakers:
        if speaker.id in colour_of:
            colour_of[speaker.id] = QColor(speaker.colour)
    red = QColor("#c0392b")
    cells: list[list[str]] = []
    colours: dict[tuple[int, int], QColor] = {}
    tips: dict[tuple[int, int], str] = {}
    for row, (c, timing) in enumerate(zip(opened.cues, opened.timings, strict=True)):
        line = lines.get(c.index)
        cells.append(
            [
                str(c.index),
                _ms(c.start_ms),
                _ms(c.end_ms),
                _speaker_name(project, speaker_of(c), c.speaker_hint),
                c.text,
                f"{timing.pace:.2f}x",
                f"{timing.duration_s:.3f} s",
                "",
                summary(line.emotion) if line else "",
            ]
        )
        colours[(row, COL_SPEAKER)] = colour_of[speaker_of(c)]
        if line is not None and line.speaker_flag:
            tips[(row, COL_SPEAKER)] = line.speaker_flag
        if timing.flag:
            colours[(row, COL_PACE)] = red
            tips[(row, COL_PACE)] = timing.flag
    return cells, colours, tips


def _stopper(thread: QThread):
    def stop(*_) -> None:
        thread.quit()
        thread.wait()

    return stop


def _speaker_name(project: proj.Project, speaker_id: str, hint: str | None) -> str:
    speaker = project.speaker(speaker_id)
    return speaker.name if speaker else (hint or "Speaker")


def read_and_lay_out(video: Path, subtitles: Path | None) -> tuple[Opened, Cells]:
    """The whole slow part of an open, for the reading thread: the files, and the table's
    text (0.1 s more for 10,000 cues), so the window only has to show them."""
    opened = read_for_editing(video, subtitles)
    return opened, table_cells(opened, opened.merge.lines)


class MainWindow(QMainWindow):
    # An open finished: True when the video is shown, False when it could not be read.
    opened = Signal(bool)

    def __init__(self, engine_factory=None) -> None:
        super().__init__()
        self.setWindowTitle("Dubsmith")
        self.resize(1240, 660)
        self.setAcceptDrops(True)
        self.engine_factory = engine_factory
        self.current: Opened | None = None  # what the window shows
        self.subtitles: Path | None = None
        self.running_job: int | None = None  # the id of the dub running, if one is
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
        self.queue_thread.start()
        # However the window goes (closed, or deleted by its owner without a close), its
        # queue's thread must have stopped before Qt destroys it.
        self.destroyed.connect(_stopper(self.queue_thread))
        self.dub_warnings: list = []
        self.opening: OpenWorker | None = None  # a read in flight
        self.open_thread: QThread | None = None
        self.last_report = None
        self.rows: dict[int, int] = {}  # cue index -> table row
        self.row_cues: list[int] = []  # table row -> cue index
        self._selected: int | None = None  # the selected row's cue index
        self.lines: dict[int, proj.Line] = {}  # cue index -> project line (the merge's)
        self.pending_subtitles: Path | None = None  # chosen before any video was open
        self.suggested_output = ""
        self.close_pending = False
        self.settings = QSettings("Dubsmith", "Dubsmith")
        self.project: proj.Project | None = None
        self.autosaver: proj.Autosaver | None = None
        self._step: str | None = None  # the dub's last step and how far it got, for messages
        self._step_done = (0, 0)
        self._render_start: tuple[float, int] | None = None  # (monotonic s, lines done then)
        self.undo_stack = QUndoStack(self)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(round(AUTOSAVE_S * 500))
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

        open_act = QAction(
            "&Open video…", self, shortcut=QKeySequence.Open, triggered=self.choose_video
        )
        subs_act = QAction("Open &subtitles…", self, triggered=self.choose_subtitles)
        menu = self.menuBar().addMenu("&File")
        menu.addAction(open_act)
        menu.addAction(subs_act)
        menu.addSeparator()
        menu.addAction(QAction("&Quit", self, shortcut=QKeySequence.Quit, triggered=self.close))
        # Our own actions, not createUndoAction(): those re-enable themselves while a dub runs.
        self.undo_act = QAction("&Undo", self, shortcut=QKeySequence.Undo, triggered=self.undo)
        self.redo_act = QAction("&Redo", self, shortcut=QKeySequence.Redo, triggered=self.redo)
        self.undo_stack.canUndoChanged.connect(self._update_undo_actions)
        self.undo_stack.canRedoChanged.connect(self._update_undo_actions)
        self.undo_stack.undoTextChanged.connect(self._update_undo_actions)
        self.undo_stack.redoTextChanged.connect(self._update_undo_actions)
        edit = self.menuBar().addMenu("&Edit")
        edit.addAction(self.undo_act)
        edit.addAction(self.redo_act)
        self._update_undo_actions()

        self.table_model = LineTable(self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        header = self.table.horizontalHeader()
        # Interactive, sized once per open: ResizeToContents re-measures every row on every
        # cell change, which made reopening 500 cues take minutes.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_TEXT, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.panel = LinePanel()
        self.panel.edited.connect(self._panel_edited)
        self.panel.setEnabled(False)

        self.source_label = QLabel("Drop a video and its subtitles here, or use File ▸ Open video.")
        self.warnings_label = QLabel("")
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet("color: #b35c00")

        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("output video (.mp4 or .mkv)")
        out_btn = QPushButton("Browse…")
        out_btn.clicked.connect(self.choose_output)
        self.model_edit = QLineEdit(self.settings.value("model_dir", str(default_model_dir())))
        self.models_timer = QTimer(self)
        self.models_timer.setSingleShot(True)
        self.models_timer.setInterval(MODELS_CHECK_MS)
        self.models_timer.timeout.connect(self.check_models)
        self.model_edit.textChanged.connect(self.models_timer.start)
        self.background = QComboBox()
        self.background.addItems(["duck", "replace"])
        self.emotion = QComboBox()
        self.emotion.addItems(["original", "voice"])

        self.dub_btn = QPushButton("Dub")
        self.dub_btn.setEnabled(False)
        self.dub_btn.clicked.connect(self.start_dub)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel_dub)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.step_label = QLabel("")

        form = QHBoxLayout()
        form.addWidget(QLabel("Output"))
        form.addWidget(self.output_edit, 3)
        form.addWidget(out_btn)
        form.addWidget(QLabel("Models"))
        form.addWidget(self.model_edit, 2)
        form.addWidget(QLabel("Background"))
        form.addWidget(self.background)
        form.addWidget(QLabel("Default emotion"))
        form.addWidget(self.emotion)
        run = QHBoxLayout()
        run.addWidget(self.dub_btn)
        run.addWidget(self.cancel_btn)
        run.addWidget(self.progress, 1)
        run.addWidget(self.step_label)

        box = QVBoxLayout()
        box.addWidget(self.source_label)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.panel)
        split.setStretchFactor(0, 1)
        split.setSizes([900, 320])
        box.addWidget(split, 1)
        box.addWidget(self.warnings_label)
        box.addLayout(form)
        box.addLayout(run)
        central = QWidget()
        central.setLayout(box)
        self.setCentralWidget(central)
        self.statusBar().showMessage("Ready")
        self.check_models()

    @property
    def inputs(self):
        return self.current.inputs if self.current else None

    def cell(self, row: int, col: int) -> str:
        """The text a table cell shows."""
        return self.table_model.text(row, col)

    def _busy(self) -> bool:
        """A dub or an open is under way: the shown project must not change meanwhile."""
        return self.running_job is not None or self.opening is not None

    # --- the models folder -------------------------------------------------------------------

    def _model_dir(self) -> Path | None:
        text = self.model_edit.text().strip()
        return Path(text).expanduser() if text else None

    def check_models(self) -> None:
        """Offer emotion from text only when its optional model is in the Models folder."""
        model_dir = self._model_dir()
        if text_emotion_available(model_dir):
            self.panel.set_text_emotion(None)
        else:
            where = model_dir or default_model_dir()
            self.panel.set_text_emotion(TEXT_EMOTION_MISSING.format(model_dir=where))

    # --- opening -----------------------------------------------------------------------------

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open video", "", "Video (*.mp4 *.mkv *.mov *.m4v);;All files (*)"
        )
        if path:
            self.open_video(Path(path))

    def choose_subtitles(self) -> None:
        pattern = " ".join(f"*{e}" for e in SUBTITLE_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(self, "Open subtitles", "", f"Subtitles ({pattern})")
        if path:
            if self.inputs:
                self.open_video(self.inputs.video, Path(path))
            else:  # used by the next video opened
                self.pending_subtitles = Path(path)

    def choose_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Dubbed video", self.output_edit.text(), "MP4 (*.mp4);;Matroska (*.mkv)"
        )
        if path:
            self.output_edit.setText(path)

    def open_video(self, video: Path, subtitles: Path | None = None) -> bool:
        """Start opening a video with the given subtitles, or with those next to it; `opened`
        tells when it is shown. Subtitles of a previously opened video never carry over to
        another one. The files are read off the GUI thread (10,000 cues take seconds), with
        editing locked meanwhile. False when it cannot start now."""
        if self.running_job is not None:
            self.statusBar().showMessage("A dub is running: cancel it before opening another video")
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
        self.dub_btn.setEnabled(not busy and self.current is not None)
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

    def _open_done(self, result: tuple[Opened, Cells]) -> None:
        if self.opening is None:  # the window closed meanwhile
            return
        opened, cells = result
        self._end_open()
        video, doc = opened.inputs.video, opened.inputs.subtitles
        same_video = self.current is not None and self.current.inputs.video == video
        keep = self._selected_line_id() if same_video else None
        self.current = opened
        self.subtitles = opened.inputs.subtitles.path
        self.project = opened.project
        self.lines = opened.merge.lines
        path = project_file_for(video)
        self.autosaver = proj.Autosaver(opened.project, path, interval_s=AUTOSAVE_S)
        self.undo_stack.clear()  # its commands name lines of the previous project
        self.source_label.setText(
            f"{video.name} — {opened.inputs.media.duration_s:.1f} s   |   {doc.path.name} ({doc.format}, {doc.encoding}, {len(doc.cues)} cues)"
        )
        # Replace the output only if it is ours (empty or our last suggestion), never one the
        # editor typed; a suggestion for another video must not survive to overwrite its dub.
        if self.output_edit.text() in ("", self.suggested_output):
            self.suggested_output = str(video.with_name(video.stem + ".dubbed" + video.suffix))
            self.output_edit.setText(self.suggested_output)
        self._fill_table(cells)
        self._show_warnings([*doc.warnings, *opened.merge.notices])
        self._set_busy(None)
        self._select_line(keep)
        if opened.project_error:
            self.statusBar().showMessage(
                f"Could not read the project: {opened.project_error}; starting fresh"
            )
        else:
            self.statusBar().showMessage(f"Opened {video.name} ({len(opened.cues)} lines)")
        self.opened.emit(True)

    def _show_warnings(self, notices) -> None:
        shown = group_notices(list(notices))
        if not shown:
            self.warnings_label.setText("")
            self.warnings_label.setToolTip("")
            return
        text = f"{len(notices)} warning(s): " + "; ".join(shown[:SHOWN_WARNINGS])
        self.warnings_label.setText(text + (" …" if len(shown) > SHOWN_WARNINGS else ""))
        self.warnings_label.setToolTip("\n".join(shown))

    # --- the project file ----------------------------------------------------------------------

    def line(self, index: int) -> proj.Line | None:
        return self.lines.get(index)

    def selected_index(self) -> int | None:
        """The selected line's cue number (kept by _selection_changed: asking the selection
        model on every slider move cost a third of an edit)."""
        return self._selected

    def _selected_line_id(self) -> str | None:
        index = self.selected_index()
        line = None if index is None else self.line(index)
        return line.id if line else None

    def _select_line(self, line_id: str | None) -> None:
        """Select the line with this id (a reopen keeps the editor's place), else the first."""
        row = next(
            (self.rows[i] for i, ln in self.lines.items() if line_id and ln.id == line_id), 0
        )
        if row < self.table_model.rowCount():
            self.table.selectRow(row)
            self.table.scrollTo(self.table_model.index(row, 0))
        self._selection_changed()

    def _selection_changed(self, *_) -> None:
        rows = self.table.selectionModel().selectedRows()
        row = rows[0].row() if rows else len(self.row_cues)
        self._selected = self.row_cues[row] if row < len(self.row_cues) else None
        index = self._selected
        self.panel.show_line(None if index is None else self.line(index))

    def _panel_edited(self, emotion: proj.Emotion, merge_key) -> None:
        index = self.selected_index()
        line = None if index is None else self.line(index)
        if line is None or self._busy():
            self.panel.show_line(line)
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
            text = summary(emotion)
            self.table_model.set_cell(row, COL_EMOTION, text, tip=text or None)
        if self.selected_index() == index:
            self.panel.show_line(line)
        if self.autosaver is not None:
            self.autosaver.mark_dirty()

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

    def autosave(self) -> None:
        """Timer tick: save once the edits are AUTOSAVE_S old. Never while a dub runs (the
        dub owns the file then) or an open reads it."""
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

    def _fill_table(self, table: Cells) -> None:
        """One model reset and one column sizing per open: linear in the number of cues."""
        assert self.current is not None
        cells, colours, tips = table
        self.row_cues = [c.index for c in self.current.cues]
        self.rows = {index: row for row, index in enumerate(self.row_cues)}
        self.table_model.reset(cells, colours, tips)
        self._selected = None  # a reset clears the selection without a signal
        self._size_columns(c for c in range(len(COLUMNS)) if c != COL_TEXT)

    def _size_columns(self, columns) -> None:
        """Fit columns to their longest text, measured once per column: the view's own
        resizeColumnsToContents asks the model ~9 roles of 1,000 rows per column (0.6 s)."""
        fm = self.table.fontMetrics()
        header_fm = self.table.horizontalHeader().fontMetrics()
        cells = self.table_model.cells
        for col in columns:
            longest = max((row[col] for row in cells), key=len, default="")
            width = max(fm.horizontalAdvance(longest), header_fm.horizontalAdvance(COLUMNS[col]))
            if col == COL_EMOTION:  # room for a typical setting before it is made
                width = max(width, fm.horizontalAdvance(EMOTION_SAMPLE))
            self.table.setColumnWidth(col, width + CELL_PADDING)

    def _show_takes(self, report) -> None:
        """Requested and achieved durations of every rendered line, as DESIGN.md asks."""
        for line in report.lines:
            row = self.rows.get(line.index)
            if row is None:
                continue
            if line.target_samples_22k is not None:
                self.table_model.set_cell(
                    row, COL_REQUESTED, f"{line.target_samples_22k / 22050:.3f} s"
                )
            if line.error:
                self.table_model.set_cell(row, COL_RENDERED, "failed", "#c0392b", line.error)
            else:
                rendered = f"{(line.rendered_samples_22k or 0) / 22050:.3f} s"
                colour = "#b35c00" if line.flag else None
                self.table_model.set_cell(row, COL_RENDERED, rendered, colour, line.flag)
        self._size_columns((COL_REQUESTED, COL_RENDERED))

    # --- drag and drop -------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls()]
        subs = next((p for p in paths if p.suffix.lower() in SUBTITLE_EXTENSIONS), None)
        video = next((p for p in paths if p.suffix.lower() not in SUBTITLE_EXTENSIONS), None)
        if video:
            self.open_video(video, subs)
        elif subs and self.inputs:
            self.open_video(self.inputs.video, subs)
        elif subs:
            self.pending_subtitles = subs

    # --- dubbing -------------------------------------------------------------------------------

    def start_dub(self) -> None:
        if self.inputs is None or self._busy():
            return
        out = self.output_edit.text().strip()
        if not out:
            QMessageBox.warning(self, "No output", "Choose where to write the dubbed video.")
            return
        model_dir = self._model_dir()
        if model_dir:
            self.settings.setValue("model_dir", str(model_dir))
        assert self.project is not None
        options = DubOptions(
            output=Path(out),
            subtitles=self.subtitles,
            # The project's own settings and device, with the window's fields on top.
            settings=self.project.settings,
            changes={
                "background": self.background.currentText(),
                "emotion": self.emotion.currentText(),
            },
            model_dir=model_dir,
            device=self.project.model.device,
        )
        self._flush()  # the file is current, for a crash during the dub
        self.dub_warnings = []
        # The dub works on this very project: takes land in it as they arrive.
        self.running_job = self.queue_worker.submit(self.inputs.video, options, self.project)
        self.dub_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.panel.setEnabled(False)  # no edits while the dub owns the project file
        self._update_undo_actions()
        self._step, self._step_done, self._render_start = None, (0, 0), None
        self.progress.setValue(0)
        self.step_label.setText("starting")
        self.statusBar().showMessage("Dubbing…")

    def cancel_dub(self) -> None:
        if self.running_job is not None:
            self.queue_worker.cancel(self.running_job)
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
            t0, first = self._render_start
            left = time_left_s(first, done, total, time.monotonic() - t0)
        self.step_label.setText(step_text(step, done, total, left))

    def _where(self) -> str:
        """Where the dub stopped, for the messages: "during render (line 3 of 20)"."""
        if self._step is None:
            return "before it started"
        done, total = self._step_done
        if self._step == "render" and total:
            return f"during render (line {min(done + 1, total)} of {total})"
        return f"during {self._step}"

    # --- the queue worker's signals ----------------------------------------------------------

    def _job_stage(self, job_id: int, step: str, done: int, total: int) -> None:
        if job_id == self.running_job:
            self.on_progress(step, done, total)

    def _line_rendered(self, job_id: int, index: int, take) -> None:
        """Each take as it arrives: its requested and rendered length in the table."""
        row = self.rows.get(index)
        if job_id != self.running_job or row is None:
            return
        if take.target_samples is not None:
            self.table_model.set_cell(row, COL_REQUESTED, f"{take.target_samples / 22050:.3f} s")
        colour = "#b35c00" if take.flagged else None
        rendered = f"{len(take.audio) / 22050:.3f} s"
        self.table_model.set_cell(row, COL_RENDERED, rendered, colour, take.flagged)

    def _job_warning(self, job_id: int, notice) -> None:
        if job_id == self.running_job:
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

    def _done(self) -> None:
        self.running_job = None
        self.dub_btn.setEnabled(self.inputs is not None)
        self.cancel_btn.setEnabled(False)
        self._resync_after_dub()
        self.panel.setEnabled(self.project is not None)
        self._update_undo_actions()

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
        for index, line in self.lines.items():
            row = self.rows.get(index)
            if row is not None and self.cell(row, COL_EMOTION) != (text := summary(line.emotion)):
                self.table_model.set_cell(row, COL_EMOTION, text, tip=text or None)
            if row is not None and line.speaker_id:
                speaker = self.project.speaker(line.speaker_id)
                name = speaker.name if speaker else line.speaker_id
                colour = speaker.colour if speaker else None
                self.table_model.set_cell(row, COL_SPEAKER, name, colour, line.speaker_flag)
        self._size_columns((COL_SPEAKER,))  # names may have grown ("Speaker 1")
        self._selection_changed()

    def on_finished(self, report) -> None:
        self._done()
        if self.close_pending:
            self.close()
            return
        self.last_report = report
        self._show_takes(report)
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

    def _stop_queue(self) -> None:
        """The queue's thread ends with the window (no job is running by now)."""
        self.queue_thread.quit()
        self.queue_thread.wait()

    def closeEvent(self, event) -> None:
        if self.opening is not None:  # a read is bounded: let it end, and drop its result
            self._end_open()  # waits first: the worker must outlive its run()
        if self.running_job is None:
            self._flush()
            self._stop_queue()
            event.accept()
            return
        # Never block the window or kill a running thread: cancel, and close once the
        # worker has stopped (it saves the project and leaves no partial output).
        answer = QMessageBox.question(
            self,
            "Dub running",
            "A dub is running. Cancel it and quit? Lines rendered so far stay cached.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            event.ignore()
            return
        if self.running_job is None:  # the dub ended while the question was open: quit now
            self._flush()
            self._stop_queue()
            event.accept()
            return
        self.close_pending = True
        self.cancel_dub()
        event.ignore()


def _version() -> str:
    try:
        return metadata.version("dubsmith")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="dubsmith-gui",
        description="Open the Dubsmith desk, optionally with a video and its subtitles.",
    )
    ap.add_argument("video", type=Path, nargs="?", help="video to open")
    ap.add_argument(
        "subtitles", type=Path, nargs="?", help="its subtitles (default: found next to it)"
    )
    ap.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return ap


def main(argv: list[str] | None = None) -> int:
    """`dubsmith-gui [video [subtitles]]`. argv without the program name (default:
    sys.argv[1:]). --help, --version and usage errors print and return before any window
    (usage errors: 2, as the CLI)."""
    try:
        args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse printed the help, the version or the usage error
        return exc.code if isinstance(exc.code, int) else 2
    quiet_transformers()  # no library progress bars on the terminal that started the GUI
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "dubsmith-gui"])
    app.setApplicationName("Dubsmith")
    win = MainWindow()
    win.show()
    if args.video is not None:
        win.open_video(args.video, args.subtitles)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
