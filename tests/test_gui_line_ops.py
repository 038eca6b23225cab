"""Issue 20: the desk's split, merge, insert and delete of lines, driven by real key events
through the window's shortcuts: each one undo step (Ctrl+Z puts back the very lines, ids and
takes; Ctrl+Shift+Z does it again), the project file saved as it shows."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox

from app.gui.lines_model import COL_TEXT
from app.gui.main_window import MainWindow
from core import project as proj
from core.desk import status as desk
from core.desk.status import LineStatus
from core.job.project_keeper import project_file_for
from tests import desk_fixtures
from tests.test_gui_defects import closed, keys, open_editor, shown
from tests.test_gui_desk import open_now, render_now, window
from tests.tone_engine import ToneEngine

# The desk's fixtures, this module's own (own_settings autouse here), bound by name rather than
# imported by name: ruff reads each test's parameter of an imported fixture as a redefinition.
own_settings, source = desk_fixtures.own_settings, desk_fixtures.source
clip = desk_fixtures.clip

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def undo(qtbot, win: MainWindow) -> None:
    keys(qtbot, win, Qt.Key.Key_Z, CTRL)


def redo(qtbot, win: MainWindow) -> None:
    keys(qtbot, win, Qt.Key.Key_Z, CTRL | SHIFT)


def saved(win: MainWindow, video: Path) -> list[tuple[int, str, int, int, str]]:
    """The project file's lines after the window's autosave: (cue, id, start, end, text)."""
    assert win._flush()
    project = proj.load_project(project_file_for(video))
    return [(ln.index, ln.id, ln.start_ms, ln.end_ms, ln.text) for ln in project.lines]


def shown_lines(win: MainWindow) -> list[tuple[int, str, int, int, str]]:
    """What the table shows, in its order, and the window's own map agrees with it."""
    model = win.table_model
    assert win.row_cues == [ln.index for ln in model.lines]
    assert [win.lines[i] for i in win.row_cues] == model.lines
    assert len(win.timeline.canvas.blocks) == model.rowCount()
    return [(ln.index, ln.id, ln.start_ms, ln.end_ms, ln.text) for ln in model.lines]


@pytest.fixture
def desk_window(qtbot, clip, monkeypatch) -> MainWindow:
    """The window on the clip; a message box would hang the test: each answers at once."""
    for kind in ("warning", "critical", "question"):
        monkeypatch.setattr(
            f"PySide6.QtWidgets.QMessageBox.{kind}",
            lambda *a, **k: QMessageBox.StandardButton.Yes,
        )
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    assert win.table_model.rowCount() == 3
    return win


def test_split_at_the_playhead_undo_and_redo(qtbot, desk_window, clip):
    win = desk_window
    start = shown_lines(win)
    first = win.table_model.lines[0]
    emotion = proj.Emotion(mode=proj.EmotionMode.TEXT, text="worried")
    win.set_emotion(first.index, emotion)
    win._select_row(0)
    cut = first.start_ms + 700
    win.video.seek(cut)
    qtbot.waitUntil(lambda: win.timeline.canvas.playhead_ms == cut, timeout=5000)
    keys(qtbot, win, Qt.Key.Key_B, CTRL)
    after = shown_lines(win)
    assert len(after) == 4
    (i1, id1, s1, e1, t1), (i2, id2, s2, e2, t2) = after[0], after[1]
    assert (i1, id1, s1, e1) == (start[0][0], start[0][1], start[0][2], cut)
    assert (s2, e2) == (cut, start[0][3]) and i2 == 4 and id2 == "L4"
    assert f"{t1} {t2}" == start[0][4]
    assert win.lines[i2].emotion == emotion  # the settings go with both halves
    assert win.selected_index() == i1 and "line 4" in win.statusBar().currentMessage()
    assert win.undo_act.text() == f"&Undo split line {i1}"  # one step, named in the menu
    assert saved(win, clip) == after
    assert (win.subtitles.read_text().count("-->")) == 4  # the next dub reads the split
    undo(qtbot, win)
    assert shown_lines(win) == start and win.table_model.lines[0] is first
    assert saved(win, clip) == start
    redo(qtbot, win)
    assert shown_lines(win) == after == saved(win, clip)
    assert open_now(qtbot, win, clip)  # a reopen reads the split lines, numbers and all
    assert shown_lines(win) == after and win.lines[i2].emotion == emotion


def test_merge_and_its_undo_bring_back_the_take(qtbot, desk_window, clip):
    win = desk_window
    win._select_row(0)
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_P))
    first = win.table_model.lines[0]
    assert first.takes and win.table_model.status(0)[0] is LineStatus.RENDERED
    assert 0 in win.timeline.canvas.dub
    start = shown_lines(win)
    keys(qtbot, win, Qt.Key.Key_M, CTRL)
    after = shown_lines(win)
    assert [a[0] for a in after] == [start[0][0], start[2][0]]
    assert after[0][2:] == (start[0][2], start[1][3], f"{start[0][4]} {start[1][4]}")
    assert win.table_model.status(0)[0] is LineStatus.NOT_RENDERED  # its take said less
    assert 0 not in win.timeline.canvas.dub
    assert saved(win, clip) == after
    undo(qtbot, win)
    assert shown_lines(win) == start and win.table_model.lines[0] is first
    assert desk.usable_take(first) is first.takes[-1]
    assert win.table_model.status(0)[0] is LineStatus.RENDERED
    assert 0 in win.timeline.canvas.dub  # its dub waveform is back
    assert saved(win, clip) == start
    redo(qtbot, win)
    assert shown_lines(win) == after
    win._select_row(1)  # the last line: nothing to merge with, nothing on the stack
    count = win.undo_stack.count()
    keys(qtbot, win, Qt.Key.Key_M, CTRL)
    assert win.undo_stack.count() == count and "last line" in win.statusBar().currentMessage()


def test_insert_opens_the_text_editor_and_is_one_step(qtbot, desk_window, clip):
    win = desk_window
    start = shown_lines(win)
    win._select_row(0)
    keys(qtbot, win, Qt.Key.Key_Insert)
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit), timeout=5000)
    editor = QApplication.focusWidget()
    QTest.keyClicks(editor, "Hello there")
    QTest.keyClick(editor, Qt.Key.Key_Return)
    closed(qtbot, win)
    after = shown_lines(win)
    new = (4, "L4", start[0][3], min(start[1][2], start[0][3] + 2000), "Hello there")
    assert after == [start[0], new, *start[1:]]
    assert win.selected_index() == 4
    assert saved(win, clip) == after
    undo(qtbot, win)  # the text
    assert shown_lines(win)[1][4] == ""
    undo(qtbot, win)  # the insert
    assert shown_lines(win) == start == saved(win, clip)
    redo(qtbot, win)
    redo(qtbot, win)
    assert shown_lines(win) == after == saved(win, clip)
    # Ctrl+I inserts too; none between lines that touch: a message, no step.
    win._select_row(0)
    count = win.undo_stack.count()
    keys(qtbot, win, Qt.Key.Key_I, CTRL)
    assert win.undo_stack.count() == count and "no room" in win.statusBar().currentMessage()


def test_delete_key_deletes_the_selected_lines_but_not_while_typing(qtbot, desk_window, clip):
    win = desk_window
    start = shown_lines(win)
    editor = open_editor(qtbot, win, 1, COL_TEXT)
    editor.setCursorPosition(0)
    QTest.keyClick(editor, Qt.Key.Key_Delete)  # a character, not the line
    QTest.keyClick(editor, Qt.Key.Key_Escape)
    closed(qtbot, win)
    assert shown_lines(win) == start and win.undo_stack.count() == 0
    win._select_row(1)
    keys(qtbot, win, Qt.Key.Key_Delete)
    after = shown_lines(win)
    assert after == [start[0], start[2]]
    assert win.selected_index() == start[2][0]  # the line after the deleted one
    assert win.undo_stack.undoText() == f"delete line {start[1][0]}"
    assert saved(win, clip) == after
    undo(qtbot, win)
    assert shown_lines(win) == start == saved(win, clip)
    assert win.selected_index() == start[1][0]
    redo(qtbot, win)
    assert shown_lines(win) == after
