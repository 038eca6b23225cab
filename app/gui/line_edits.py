"""The window's edits of lines and speakers, each one step on the undo stack; the rules of
what an edit may do live in core/desk/status.py."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

from PySide6.QtWidgets import (
    QMessageBox,
)

from app.gui.edits import StateEdit
from app.gui.line_ops import LineOpsMixin
from app.gui.line_panel import push_emotion_edit
from app.gui.lines_model import COL_EMOTION, COL_END, COL_SPEAKER, COL_START, COL_TEXT
from core import project as proj
from core.desk import review as desk_review
from core.desk import status as desk
from core.desk.timecode import parse_time
from core.job.options import default_work_dir

NUDGE_MS = 100  # Alt+Shift+Left/Right


class LineEditsMixin(LineOpsMixin):
    """Part of MainWindow: every change to the project's lines goes through here (the
    structural moves, split, merge, insert, delete, in app/gui/line_ops.py)."""

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
        if field == "take":  # the chosen seed with what its take was rendered as
            return (line.extra.get(desk.SEED_KEY), line.extra.get(desk.RENDERED_AS))
        if field == "duration_mode":
            return line.duration_mode
        if field == "approved":
            return bool(line.extra.get(desk_review.APPROVED))
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
            elif field == "approved":
                desk_review.set_approved(line, value)
            elif field == "take":
                # Both, or an undo left the restored take marked stale (and re-rendered).
                for key, kept in zip((desk.SEED_KEY, desk.RENDERED_AS), value, strict=True):
                    if kept is None:
                        line.extra.pop(key, None)
                    else:
                        line.extra[key] = kept
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
        the editor's lines (core/desk/status.py writes them as subtitles in the work folder)."""
        assert self.current is not None and self.project is not None
        self.current.cues = [
            dataclasses.replace(c, start_ms=self.lines[c.index].start_ms,
                                end_ms=self.lines[c.index].end_ms, text=self.lines[c.index].text)
            for c in self.current.cues
        ]  # fmt: skip
        self.current.replan()
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
        elif col in (COL_START, COL_END):
            self._type_time(row, col, value)

    def _type_time(self, row: int, col: int, value: str) -> None:
        """A start or end typed as timecode (HH:MM:SS:FF at the video's rate) or ms."""
        line = self.table_model.lines[row]
        try:
            ms = parse_time(value, self.inputs.media.fps if self.inputs else None)
        except ValueError as exc:
            self.statusBar().showMessage(str(exc))
            return
        start, end = (ms, line.end_ms) if col == COL_START else (line.start_ms, ms)
        if end <= start:
            self.statusBar().showMessage(f"{value}: a line must end after it starts")
            return
        self.set_span(row, start, end)

    def toggle_approved(self) -> None:
        """The selected lines approved (all of them already: not approved), one undo step."""
        indices = [i for i in self.selected_indices() if i in self.lines]
        if not indices:
            return
        value = not all(desk_review.is_approved(self.lines[i]) for i in indices)
        word = "approve" if value else "unapprove"
        self._edit_lines("approved", dict.fromkeys(indices, value), f"{word} lines")

    def _next_where(self, wanted, what: str) -> None:
        """Select the next row after the current one (wrapping) that `wanted(row)`."""
        n = self.table_model.rowCount()
        index = self.selected_index()
        here = self.rows.get(index, -1) if index is not None else -1
        for step in range(1, n + 1):
            row = (here + step) % n
            if wanted(row):
                self._select_row(row)
                return
        self.statusBar().showMessage(f"No {what} line")

    def next_flagged(self) -> None:
        model = self.table_model
        self._next_where(lambda r: desk_review.needs_a_look(model.status(r)[0]), "flagged")

    def next_unapproved(self) -> None:
        model = self.table_model
        self._next_where(lambda r: not desk_review.is_approved(model.lines[r]), "unapproved")

    def nudge(self, ms: int) -> None:
        """Move the selected line by `ms` (its length kept; never into a neighbour)."""
        index = self.selected_index()
        row = self.rows.get(index) if index is not None else None
        if row is None or self.current is None:
            return
        line = self.table_model.lines[row]
        self.set_span(row, line.start_ms + ms, line.end_ms + ms)

    def _frame_ms(self) -> int:
        fps = self.inputs.media.fps if self.inputs else None
        return round(1000 / fps) if fps and fps > 0 else 40

    def nudge_frame_earlier(self) -> None:
        self.nudge(-self._frame_ms())

    def nudge_frame_later(self) -> None:
        self.nudge(self._frame_ms())

    def nudge_earlier(self) -> None:
        self.nudge(-NUDGE_MS)

    def nudge_later(self) -> None:
        self.nudge(NUDGE_MS)

    def assign_speaker(self, indices: list[int], name: str) -> None:
        """These lines are spoken by the speaker of this name or id (a new one if none)."""
        if self.project is None or self._busy():
            return
        # "guest" is the existing "Guest", not a second speaker beside it.
        wanted = name.casefold()
        speaker = next(
            (s for s in self.project.speakers if wanted in (s.name.casefold(), s.id.casefold())),
            None,
        )
        if speaker is None:
            speaker = self.project.add_speaker(name)
            self.statusBar().showMessage(f"New speaker {name}")
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
        """Run `change(project)` (core/desk/status.py) as one undo step; a refusal is shown."""
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
        chosen = copy.deepcopy(line)
        desk.choose_take(chosen, chosen.takes[position])
        after = self._line_value(chosen, "take")
        self._edit_lines("take", {index: after}, f"take of line {index}")

    def accept_take(self) -> None:
        self.inspector.accept_selected()
