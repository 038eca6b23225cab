"""The window's structural line moves (split, merge, insert, delete), each one step on the
undo stack; the rules live in core/desk/lines.py.

A step's state is the project's list of line objects and the desk's cues: a move builds new
objects for what changed (core/desk/lines.py), so undo puts the very objects back, takes,
ids and all, and the field edits on the stack (which find lines by cue number) stay valid."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from app.gui.edits import StateEdit
from app.gui.lines_model import COL_TEXT
from core.desk import lines as desk_lines
from core.desk import status as desk
from core.job.options import default_work_dir


class LineOpsMixin:
    """Part of MainWindow (through LineEditsMixin): split, merge, insert, delete."""

    def split_line(self) -> None:
        index = self.selected_index()
        if index is None or not self._can_move_lines():
            return
        at = self.timeline.canvas.playhead_ms
        self._move_lines(lambda p: desk_lines.split_line(p, index, at))

    def merge_with_next(self) -> None:
        index = self.selected_index()
        if index is None or not self._can_move_lines():
            return
        names = {s.id: s.name for s in self.project.speakers}
        self._move_lines(lambda p: desk_lines.merge_with_next(p, index, names))

    def insert_line(self) -> None:
        if not self._can_move_lines():
            return
        end_ms = round(self.current.inputs.media.duration_s * 1000)
        after, at = self.selected_index(), self.timeline.canvas.playhead_ms
        edit = self._move_lines(lambda p: desk_lines.insert_line(p, end_ms, after=after, at_ms=at))
        if edit is not None and edit.select is not None and edit.select in self.rows:
            # The editor types the new line's words at once (Enter commits, as any cell).
            view = self.table_filter.index(self._view_row(self.rows[edit.select]), COL_TEXT)
            self.table.setFocus()
            self.table.setCurrentIndex(view)
            self.table.edit(view)

    def delete_lines(self) -> None:
        indices = self.selected_indices()
        if not indices or not self._can_move_lines():
            return
        self._move_lines(lambda p: desk_lines.delete_lines(p, indices))

    def delete_key(self) -> None:
        """Delete on the lines (the table or the timeline), never elsewhere in the window."""
        focus = QApplication.focusWidget()
        if focus is self.table or focus is self.timeline.canvas:
            self.delete_lines()

    # --- the one undo step ----------------------------------------------------------------

    def _can_move_lines(self) -> bool:
        return self.project is not None and self.current is not None and not self._busy()

    def _move_lines(self, move) -> desk_lines.LinesEdit | None:
        """`move(project)` -> LinesEdit as one undo step; a refusal goes to the status bar."""
        try:
            edit = move(self.project)
        except desk_lines.LineMoveRefused as exc:
            self.statusBar().showMessage(str(exc))
            return None
        # The table shows a line without a speaker of its own under the subtitles' speaker
        # of its cue: a new line has the one of the line it came from.
        fallback = self.current.speakers
        for line in edit.lines:
            if line.index not in fallback:
                kin = fallback.get(edit.select) if edit.select is not None else None
                fallback[line.index] = line.speaker_id or kin or next(iter(fallback.values()), "")
        # The dub waveforms of the lines now shown, by line object: an undo that puts a
        # line back puts its waveform back too.
        canvas = self.timeline.canvas
        waves = {
            id(line): canvas.dub[row]
            for index, row in self.rows.items()
            if row in canvas.dub and (line := self.lines.get(index)) is not None
        }
        before = (tuple(self.project.lines), tuple(self.current.cues), self.selected_index())
        after = (edit.lines, tuple(desk_lines.cues_for(edit.lines, self.current.cues)), edit.select)
        self.undo_stack.push(
            StateEdit(
                edit.step,
                lambda state: self._set_lines_state(*state, waves),
                before,
                after,
            )
        )
        self.statusBar().showMessage(edit.message)
        return edit

    def _set_lines_state(self, lines, cues, select, waves) -> None:
        old_rows, old_lines = dict(self.rows), self.lines
        self.project.lines = list(lines)
        self.lines = {ln.index: ln for ln in lines}
        self.current.cues = list(cues)
        self.current.replan()
        self._fill_table()
        # A line still shown keeps its dub waveform (a render may have come since), a line
        # put back gets the one it had; a new line has none.
        canvas = self.timeline.canvas
        dub = {}
        for index, row in self.rows.items():
            line, old_row = self.lines[index], old_rows.get(index)
            if old_row in canvas.dub and line is old_lines.get(index):
                dub[row] = canvas.dub[old_row]
            elif id(line) in waves:
                dub[row] = waves[id(line)]
        canvas.dub = dub
        canvas.blocks = self._blocks()
        canvas.waveforms_changed()
        self._fill_filters()
        self._show_speakers()  # its line counts
        self.subtitles = desk.write_edited_subtitles(
            self.project, default_work_dir(self.current.inputs.video)
        )
        if select in self.rows:
            self._select_row(self.rows[select])
        else:
            self._selection_changed()
        if self.autosaver is not None:
            self.autosaver.mark_dirty()
