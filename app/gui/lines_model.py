"""The lines table: a model over the project's lines (not a widget filled by hand), a filter
by speaker and status, and a view that keeps the Text column readable at any width."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCompleter,
    QHeaderView,
    QLineEdit,
    QStyledItemDelegate,
    QTableView,
)

from app.gui.line_panel import summary
from core import project as proj
from core.desk import review as desk_review
from core.desk import status as desk
from core.desk.status import LineStatus
from core.desk.timecode import timecode
from core.lines.timing import Timing
from core.project import SPEAKER_COLOURS
from core.settings import DubSettings
from models.contract import DurationMode

COLUMNS = (
    "#", "Start", "End", "Speaker", "Text", "Pace", "Requested", "Rendered", "Check",
    "Status", "Emotion", "Mode",
)  # fmt: skip
COL_INDEX, COL_START, COL_END, COL_SPEAKER, COL_TEXT = 0, 1, 2, 3, 4
COL_PACE, COL_REQUESTED, COL_RENDERED, COL_CHECK, COL_STATUS, COL_EMOTION = 5, 6, 7, 8, 9, 10
COL_MODE = 11  # the duration mode the line renders in (its own, else the dub's)
EDITABLE = (COL_START, COL_END, COL_SPEAKER, COL_TEXT)
RED, ORANGE, GREEN, BLUE, GREY = "#c0392b", "#b35c00", "#2e8540", "#2f6fb0", "#7f8c8d"
STATUS_COLOURS = {
    LineStatus.NOT_RENDERED: GREY,
    LineStatus.RENDERING: BLUE,
    LineStatus.RENDERED: GREEN,
    LineStatus.STALE: ORANGE,
    LineStatus.FAILED: RED,
    LineStatus.FLAGGED: ORANGE,
}
FIT_COLOURS = {"ok": None, "warn": ORANGE, "bad": RED}
PLAYING_BACKGROUND = QColor(255, 221, 87, 90)  # the line under the playhead


def clock(ms: int) -> str:
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:d}:{m:02d}:{s:02d}.{ms:03d}"


class LinesModel(QAbstractTableModel):
    """One row per cue, in playback order, showing the project's Line of that cue. Each
    row's status and fit are worked out once per change (refresh_row), not per paint."""

    # (row, column, new value): an edit the window applies through its undo stack
    edit_requested = Signal(int, int, str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.project: proj.Project | None = None
        self.lines: list[proj.Line] = []
        self.keys: list[int] = []  # each row's cue number
        self.fps: float | None = None  # the video's, for the Start/End timecode editor
        self.timings: list[Timing] = []
        self.fallback_speakers: list[str] = []  # the subtitles' speaker per row
        self.rendering: set[int] = set()  # cue numbers being rendered now
        self.fresh: set[int] = set()  # cue numbers rendered by the running job
        self.errors: dict[int, str] = {}  # cue number -> why it failed
        self.playing: int | None = None  # the row under the playhead
        self.max_error_rate = 0.4
        self._status: list[tuple[LineStatus, str | None]] = []
        self._fit: list[desk.Fit] = []
        self._colours: dict[str, QColor] = {}

    # --- filling ------------------------------------------------------------------------

    def reset(
        self,
        project: proj.Project,
        lines: list[proj.Line],
        timings: list[Timing],
        fallback_speakers: list[str],
        keys: list[int] | None = None,
    ) -> None:
        """`keys`: each row's cue number, the one the window and the jobs name it by (a
        line's own `index` can lag behind once a cue before it was dropped)."""
        self.beginResetModel()
        self.project, self.lines, self.timings = project, lines, timings
        self.keys = list(keys) if keys is not None else [ln.index for ln in lines]
        self.fallback_speakers = fallback_speakers
        self.rendering, self.fresh, self.errors, self.playing = set(), set(), {}, None
        self.max_error_rate = project.settings.max_error_rate
        self._recolour()
        self._status = [self._work_out_status(r) for r in range(len(lines))]
        self._fit = [desk.line_fit(ln, t) for ln, t in zip(lines, timings, strict=True)]
        self.endResetModel()

    def _recolour(self) -> None:
        colours: dict[str, QColor] = {}
        for row in range(len(self.lines)):
            sid = self.speaker_id(row)
            if sid not in colours:
                colours[sid] = QColor(SPEAKER_COLOURS[len(colours) % len(SPEAKER_COLOURS)])
        for speaker in self.project.speakers if self.project else []:
            colours[speaker.id] = QColor(speaker.colour)
        self._colours = colours

    def refresh_row(self, row: int) -> None:
        """Work the row out again (its line changed) and repaint it."""
        if not 0 <= row < len(self.lines):
            return
        self._status[row] = self._work_out_status(row)
        self._fit[row] = desk.line_fit(self.lines[row], self.timings[row])
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def refresh_cell(self, row: int, col: int) -> None:
        """One cell changed (an emotion): its status may follow (stale)."""
        self._status[row] = self._work_out_status(row)
        for c in (col, COL_STATUS):
            self.dataChanged.emit(self.index(row, c), self.index(row, c))

    def refresh_all(self) -> None:
        self._recolour()
        for row in range(len(self.lines)):
            self._status[row] = self._work_out_status(row)
            self._fit[row] = desk.line_fit(self.lines[row], self.timings[row])
        if self.lines:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self.lines) - 1, len(COLUMNS) - 1)
            )

    def set_playing(self, row: int | None) -> None:
        if row == self.playing:
            return
        old, self.playing = self.playing, row
        for r in (old, row):
            if r is not None and 0 <= r < len(self.lines):
                self.dataChanged.emit(self.index(r, 0), self.index(r, len(COLUMNS) - 1))

    # --- what a row is ------------------------------------------------------------------

    def speaker_id(self, row: int) -> str:
        return self.lines[row].speaker_id or self.fallback_speakers[row]

    def speaker_colour(self, sid: str) -> QColor:
        return self._colours.get(sid, QColor(GREY))

    def status(self, row: int) -> tuple[LineStatus, str | None]:
        return self._status[row]

    def fit(self, row: int) -> desk.Fit:
        return self._fit[row]

    def dub_mode(self) -> DurationMode:
        """The dub's duration mode: read each time, so a Settings change shows at once."""
        return (self.project.settings if self.project else DubSettings()).duration_mode

    def _work_out_status(self, row: int) -> tuple[LineStatus, str | None]:
        line = self.lines[row]
        index = self.keys[row]
        if index in self.fresh and index not in self.rendering:
            take = line.latest_take
            return (LineStatus.FLAGGED, take.flag) if take and take.flag else (
                LineStatus.RENDERED, None)  # fmt: skip
        return desk.line_status(
            line,
            rendering=index in self.rendering,
            error=self.errors.get(index),
            max_error_rate=self.max_error_rate,
            dub_mode=self.dub_mode(),
        )

    def text(self, row: int, col: int) -> str:
        line, timing = self.lines[row], self.timings[row]
        if col == COL_INDEX:
            return str(line.index)
        if col == COL_START:
            return clock(line.start_ms)
        if col == COL_END:
            return clock(line.end_ms)
        if col == COL_SPEAKER:
            sid = self.speaker_id(row)
            speaker = self.project.speaker(sid) if self.project else None
            return speaker.name if speaker else sid
        if col == COL_TEXT:
            return line.text
        if col == COL_PACE:
            return desk.pace_text(timing.pace)
        take = desk.usable_take(line)
        if col == COL_REQUESTED:
            samples = take.requested_samples if take and take.requested_samples else None
            return f"{(samples or timing.samples_22k) / desk.RATE_22K:.3f} s"
        if col == COL_RENDERED:
            return "" if take is None else f"{take.rendered_samples / desk.RATE_22K:.3f} s"
        if col == COL_CHECK:
            return desk.check_text(line)
        if col == COL_STATUS:
            status, reason = self._status[row]
            text = f"failed: {reason}" if status is LineStatus.FAILED and reason else status.value
            return ("✓ approved · " + text) if desk_review.is_approved(self.lines[row]) else text
        if col == COL_EMOTION:
            return summary(line.emotion)
        if col == COL_MODE:
            return desk.mode_text(line, self.dub_mode())
        return ""

    def _colour(self, row: int, col: int) -> QColor | None:
        if col == COL_SPEAKER:
            return self.speaker_colour(self.speaker_id(row))
        if col == COL_PACE and self.timings[row].flag:
            return QColor(RED)
        if col == COL_RENDERED:
            colour = FIT_COLOURS[self._fit[row].level]
            return QColor(colour) if colour else None
        if col == COL_STATUS:
            return QColor(STATUS_COLOURS[self._status[row][0]])
        return None

    def _tip(self, row: int, col: int) -> str | None:
        line = self.lines[row]
        if col == COL_SPEAKER:
            return line.speaker_flag
        if col == COL_PACE:
            return self.timings[row].flag
        if col in (COL_REQUESTED, COL_RENDERED):
            return "rendered / target · pace needed: " + self._fit[row].text
        if col == COL_STATUS:
            return self._status[row][1]
        if col == COL_CHECK:
            take = desk.usable_take(line)
            heard = take.extra.get("heard") if take else None
            return f'heard: "{heard}"' if heard else None
        if col in (COL_TEXT, COL_EMOTION):
            return self.text(row, col) or None
        if col == COL_MODE:
            if line.duration_mode is None:
                return f"As the dub ({self.dub_mode().value}); the Line tab changes it"
            return f"This line's own choice (the dub: {self.dub_mode().value})"
        return None

    # --- Qt's model interface -----------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's own signature
        return 0 if parent.isValid() else len(self.lines)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        row, col = index.row(), index.column()
        if role == Qt.ItemDataRole.EditRole and col in (COL_START, COL_END):
            line = self.lines[row]  # typed as the video's timecode
            return timecode(line.start_ms if col == COL_START else line.end_ms, self.fps)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self.text(row, col)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._colour(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tip(row, col)
        if role == Qt.ItemDataRole.BackgroundRole and row == self.playing:
            return PLAYING_BACKGROUND
        return None

    def flags(self, index: QModelIndex):
        base = super().flags(index)
        if index.column() in EDITABLE:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def setData(self, index: QModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() not in EDITABLE:
            return False
        value = str(value).strip()
        if value and value not in (
            self.text(index.row(), index.column()),
            self.data(index, Qt.ItemDataRole.EditRole),
        ):
            self.edit_requested.emit(index.row(), index.column(), value)
        return False  # the window's undoable edit changes the line, then refreshes the row

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None


class LinesFilter(QSortFilterProxyModel):
    """Only the lines of one speaker and/or one status (None: all)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.speaker: str | None = None
        self.status: LineStatus | None = None

    def set_filter(self, speaker: str | None, status: LineStatus | None) -> None:
        self.beginFilterChange()
        self.speaker, self.status = speaker, status
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:
        model: LinesModel = self.sourceModel()
        if self.speaker is not None and model.speaker_id(row) != self.speaker:
            return False
        return self.status is None or model.status(row)[0] == self.status


class KeepTypingDelegate(QStyledItemDelegate):
    """An open cell editor is filled once: the playing line's highlight (and any other
    repaint of the row) set its text back to the line's and lost what was being typed.
    The Speaker cell completes the project's speakers as it is typed ("gu" -> "Guest")."""

    def createEditor(self, parent, option, index):
        editor = super().createEditor(parent, option, index)
        model = index.model()
        source = model.sourceModel() if hasattr(model, "sourceModel") else model
        if index.column() == COL_SPEAKER and isinstance(editor, QLineEdit) and source.project:
            names = [s.name for s in source.project.speakers]
            completer = QCompleter(names, editor)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setCompletionMode(QCompleter.CompletionMode.InlineCompletion)
            editor.setCompleter(completer)
            editor.setToolTip(
                "An existing speaker completes as you type; a new name is a new speaker"
            )
        return editor

    def setEditorData(self, editor, index) -> None:
        if editor.property("filled"):
            return
        super().setEditorData(editor, index)
        editor.setProperty("filled", True)


TEXT_MIN_PX = 260  # the Text column never shrinks below a readable sentence


class LinesView(QTableView):
    """Columns sized to their contents once per open; the Text column takes what is left,
    but never less than TEXT_MIN_PX (the table scrolls sideways instead)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        header = self.horizontalHeader()
        # Interactive, sized once per open: ResizeToContents re-measures every row on every
        # cell change, which made reopening 500 cues take minutes.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QTableView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(
            QTableView.EditTrigger.DoubleClicked | QTableView.EditTrigger.EditKeyPressed
        )
        self.setWordWrap(False)
        self.setAlternatingRowColors(True)
        self.setItemDelegate(KeepTypingDelegate(self))

    def fit_text_column(self) -> None:
        others = sum(self.columnWidth(c) for c in range(len(COLUMNS)) if c != COL_TEXT)
        room = self.viewport().width() - others
        self.setColumnWidth(COL_TEXT, max(TEXT_MIN_PX, room))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit_text_column()
