"""Issue 20's defects of the desk, each driven through the real window with real key events
(QTest) and the window's own shortcuts installed: cell edits that Enter commits and Escape
cancels, no shortcut while typing, speakers that a Preview never re-decides, Open recent
with one path, take undo, cancel, progress, the line's own play span, export's choices."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QLineEdit  # noqa: E402

from app.gui.lines_model import COL_SPEAKER, COL_TEXT  # noqa: E402
from app.gui.main_window import MainWindow  # noqa: E402
from tests.test_gui_desk import (  # noqa: E402,F401 - fixtures
    clip,
    no_dialogs,
    open_now,
    own_settings,
    render_now,
    shot,
    source,
    window,
)
from tests.tone_engine import ToneEngine  # noqa: E402


def shown(qtbot, win: MainWindow) -> MainWindow:
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    return win


def open_editor(qtbot, win: MainWindow, row: int, col: int) -> QLineEdit:
    """The cell editor, opened as an editor opens it (F2 on the current cell)."""
    win._select_row(row)
    index = win.table_filter.index(win._view_row(row), col)
    win.table.setCurrentIndex(index)
    win.table.setFocus()
    QTest.keyClick(win.table, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit), timeout=5000)
    return QApplication.focusWidget()


def closed(qtbot, win: MainWindow) -> None:
    """The delegate commits or reverts on the next turn of the event loop."""
    qtbot.waitUntil(lambda: win.table.state() != win.table.State.EditingState, timeout=5000)


# --- 1: Enter commits, Escape cancels, no shortcut while typing ------------------------------


def test_enter_commits_a_text_cell_and_plays_nothing(qtbot, clip, no_dialogs):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    played: list[int] = []
    win.video.play_span = lambda *a, **k: played.append(a[0])
    editor = open_editor(qtbot, win, 1, COL_TEXT)
    editor.selectAll()
    QTest.keyClicks(editor, "Fixed text")
    QTest.keyClick(editor, Qt.Key.Key_Return)
    closed(qtbot, win)
    assert win.cell(1, COL_TEXT) == "Fixed text"
    assert played == []  # Return went to the editor, not to "play the line"
    win.undo()
    assert win.cell(1, COL_TEXT) != "Fixed text"  # one undo step


def test_escape_cancels_a_speaker_cell_and_keys_type_into_it(qtbot, clip, no_dialogs):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    before = win.cell(0, COL_SPEAKER)
    paused: list[bool] = []
    win.video.pause = lambda: paused.append(True)
    editor = open_editor(qtbot, win, 0, COL_SPEAKER)
    editor.selectAll()
    QTest.keyClicks(editor, "kN j")  # K pauses, N moves, J seeks, Space plays - as shortcuts
    assert editor.text() == "kN j"
    assert paused == [] and win.selected_index() == win.row_cues[0]
    QTest.keyClick(editor, Qt.Key.Key_Escape)
    closed(qtbot, win)
    assert win.cell(0, COL_SPEAKER) == before
    assert [s.name for s in win.project.speakers].count("kN j") == 0


def test_no_shortcut_fires_in_a_text_field(qtbot, clip, no_dialogs):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    win.output_edit.setFocus()
    qtbot.waitUntil(lambda: win.output_edit.hasFocus(), timeout=5000)
    win.output_edit.clear()
    selected = win.selected_index()
    played: list[int] = []
    win.video.play_span = lambda *a, **k: played.append(a[0])
    QTest.keyClicks(win.output_edit, "pan.mp4")  # P would preview, N move to the next line
    for key in (Qt.Key.Key_Down, Qt.Key.Key_Return, Qt.Key.Key_Up, Qt.Key.Key_Down):
        QTest.keyClick(win.output_edit, key)  # keys a line edit has no use for
    assert win.output_edit.text() == "pan.mp4"
    assert win.preview_job is None and win.selected_index() == selected and played == []
    win.table.setFocus()
    qtbot.waitUntil(lambda: win.table.hasFocus(), timeout=5000)
    QTest.keyClick(win.table, Qt.Key.Key_N)  # the shortcuts are back once the field is left
    assert win.selected_index() != selected


def test_the_playing_highlight_never_resets_an_open_editor(qtbot, clip, no_dialogs):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    editor = open_editor(qtbot, win, 1, COL_TEXT)
    editor.selectAll()
    QTest.keyClicks(editor, "half typed")
    line = win.table_model.lines[1]
    win._playhead_moved(line.start_ms + 10)  # the video plays on under the editor
    assert win.table_model.playing == 1
    assert editor.text() == "half typed"
    QTest.keyClick(editor, Qt.Key.Key_Enter)
    closed(qtbot, win)
    assert win.cell(1, COL_TEXT) == "half typed"


# --- 4: Open recent with one remembered path ------------------------------------------------


def test_open_recent_lists_one_remembered_path_whole(qtbot, tmp_path):
    # What the settings file of another session gives back for a one-item list: a string.
    settings = QSettings("Dubsmith", "Dubsmith")
    settings.setValue("recent", str(tmp_path / "one.mp4"))
    settings.sync()
    win = window(qtbot)
    names = [a.text() for a in win.recent_menu.actions()]
    assert names == [str(tmp_path / "one.mp4")]
