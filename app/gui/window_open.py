"""Opening a video in the window (the reading runs off the GUI thread, core/desk/opening.py),
and showing it: the lines table, the timeline, the filters and the selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QMessageBox,
)

from app.gui.lines_model import (
    COL_CHECK,
    COL_EMOTION,
    COL_SPEAKER,
    COL_TEXT,
    COLUMNS,
    EDITABLE,
)
from app.gui.timeline import Block
from app.gui.worker import OpenWorker, start_in_thread
from core import project as proj
from core.desk import status as desk
from core.desk.opening import Opened, read_and_lay_out
from core.desk.status import LineStatus
from core.job.options import default_work_dir
from core.job.project_keeper import project_file_for
from core.notices import group_notices
from core.subtitles.read import SUBTITLE_EXTENSIONS

AUTOSAVE_S = 1.0  # an edit reaches the project file at most this long after it is made
SHOWN_WARNINGS = 4  # grouped warning lines in the label; the tooltip has them all
CELL_PADDING = 16  # px around a cell's text (Qt's margins plus a little air)
EMOTION_SAMPLE = "angry 0.80, calm 0.60, …"
CHECK_SAMPLE = "err 100% · sim 0.00"  # the listening check, before any line has one
WIDTH_CAPS = {COL_SPEAKER: 160}  # px: a long speaker name must not eat the Text column
SUBTITLE_FILTER = (
    "Subtitles (" + " ".join(f"*{e}" for e in SUBTITLE_EXTENSIONS) + ");;All files (*)"
)


class OpenMixin:
    """Part of MainWindow: opening, the table and timeline it fills, and the selection."""

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
        self.table_model.fps = opened.inputs.media.fps
        self._show_warnings([*opened.project.load_notices, *doc.warnings, *opened.merge.notices])
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
            self.row_cues,
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
        if index.column() not in EDITABLE:
            self.play_line()
