"""Issue 20: the desk walked from the keyboard alone (open, find speakers, fix a speaker from
the Speaker cell's list, type an end time, split, preview, A/B, approve, next flagged, export),
each by a key on the focused widget; only Open's OS file dialog is answered by the test.
Screenshots: tests/artifacts/walk_*.png."""

from __future__ import annotations

from pathlib import Path

import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit

from app.gui.lines_model import COL_END, COL_SPEAKER, COL_STATUS
from app.gui.main_window import MainWindow
from tests import desk_fixtures
from tests.desk_fixtures import LINES
from tests.test_gui_ab import SETTLED
from tests.test_gui_defects import SHIFT, closed, keys, shown
from tests.test_gui_desk import render_now, shot, window
from tests.tone_engine import ToneEngine

# The desk's fixtures, this module's own (own_settings autouse here), bound by name.
own_settings, source = desk_fixtures.own_settings, desk_fixtures.source
clip, no_dialogs = desk_fixtures.clip, desk_fixtures.no_dialogs

CTRL = Qt.KeyboardModifier.ControlModifier
FAILING = LINES[2][1]  # the engine fails this line's words: a flagged line to jump to


def press(qtbot, win: MainWindow, *strokes) -> None:
    """Keys pressed one after another on the lines table: a key or (key, modifiers)."""
    for stroke in strokes:
        keys(qtbot, win, *(stroke if isinstance(stroke, tuple) else (stroke,)))


def edit_cell(qtbot, win: MainWindow, typed: str, enter: bool = False) -> QLineEdit:
    """F2 on the current cell opens its editor: all selected, `typed` typed (and Return)."""
    press(qtbot, win, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit), timeout=5000)
    editor = QApplication.focusWidget()
    QTest.keyClick(editor, Qt.Key.Key_A, CTRL)
    QTest.keyClicks(editor, typed)
    if enter:
        commit(qtbot, win, editor)
    return editor


def commit(qtbot, win: MainWindow, editor: QLineEdit) -> None:
    QTest.keyClick(editor, Qt.Key.Key_Return)
    closed(qtbot, win)  # the delegate commits on the next turn of the event loop


def test_the_desk_walked_from_the_keyboard(qtbot, clip, no_dialogs, tiny_model_dir, monkeypatch):
    win = shown(qtbot, window(qtbot, ToneEngine(fail_texts=[FAILING])))
    win.model_edit.setText(str(tiny_model_dir))  # a speaker model: Find speakers clusters
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(clip), ""))

    # Open: Ctrl+O on the window (no lines yet; the file dialog answers with the clip).
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
    with qtbot.waitSignal(win.opened, timeout=60_000) as opened:
        QTest.keyClick(QApplication.focusWidget() or win, Qt.Key.Key_O, CTRL)
    assert opened.args[0] and win.table_model.rowCount() == len(LINES)

    # Find speakers: Ctrl+Shift+F, one undo step (this clip: all one voice, "Speaker 1").
    with qtbot.waitSignal(win.speakers_found, timeout=120_000) as found:
        press(qtbot, win, (Qt.Key.Key_F, CTRL | SHIFT))
    assert found.args == [True] and win.undo_stack.undoText() == "find speakers"
    speakers = [win.cell(r, COL_SPEAKER) for r in range(len(LINES))]
    names = [s.name for s in win.project.speakers]
    assert win.project.analysis is not None and len(names) > 1, names

    # Fix a speaker from the list: Down to the second line, Tab x3 to its Speaker cell, F2,
    # two letters (completed inline to a speaker there is), Ctrl+Down to the next, Return.
    wanted = next(n for n in names if n != speakers[1])
    press(qtbot, win, Qt.Key.Key_Down, Qt.Key.Key_Tab, Qt.Key.Key_Tab, Qt.Key.Key_Tab)
    assert win.table.currentIndex().column() == COL_SPEAKER
    editor = edit_cell(qtbot, win, wanted[:2].lower())
    for _ in names:  # the letters complete inline; Ctrl+Down: the next speaker they fit
        if editor.text().casefold() == wanted.casefold():
            break
        QTest.keyClick(editor, Qt.Key.Key_Down, CTRL)
    assert editor.text().casefold() == wanted.casefold()
    commit(qtbot, win, editor)
    assert win.cell(1, COL_SPEAKER) == wanted and win.cell(0, COL_SPEAKER) == speakers[0]
    assert [s.name for s in win.project.speakers] == names  # no new speaker made

    # A new end time typed as timecode: Shift+Tab to the End cell.
    line = win.table_model.lines[1]
    start = line.start_ms
    press(qtbot, win, (Qt.Key.Key_Backtab, SHIFT))
    assert win.table.currentIndex().column() == COL_END
    edit_cell(qtbot, win, "00:00:08:05", enter=True)  # 8.2 s at 25 fps
    assert (line.start_ms, line.end_ms) == (start, 8200)
    shot(win, "walk_edited")

    # Split the line: Ctrl+B, one more line.
    press(qtbot, win, (Qt.Key.Key_B, CTRL))
    assert win.table_model.rowCount() == len(LINES) + 1
    assert win.table_model.lines[1].start_ms == start and win.table_model.lines[2].end_ms == 8200

    # Preview: P on the first half of the split line: a take rendered.
    win.video.play_file = lambda *a, **k: None  # no audio device here
    assert win.selected_index() == win.row_cues[1]
    assert render_now(qtbot, win, lambda: press(qtbot, win, Qt.Key.Key_P))
    index = win.selected_index()
    assert len(win.line(index).takes) == 1

    # A/B: R renders a second take, B compares (A heard), B again switches to B, A keeps it.
    assert render_now(qtbot, win, lambda: press(qtbot, win, Qt.Key.Key_R))
    assert len(win.line(index).takes) == 2
    compare, video = win.inspector.compare, win.video
    qtbot.waitUntil(lambda: video.player.mediaStatus() in SETTLED, timeout=20_000)
    press(qtbot, win, Qt.Key.Key_B)
    assert compare.heard == "A"
    qtbot.waitUntil(lambda: video.take_player.mediaStatus() in SETTLED, timeout=20_000)
    press(qtbot, win, Qt.Key.Key_B)
    assert compare.heard == "B" and win.inspector.takes.currentRow() == 0
    shot(win, "walk_ab")
    assert win.inspector.takes.item(1).text().startswith("●")  # Regenerate chose its take
    press(qtbot, win, Qt.Key.Key_A)  # use the take heard: the first
    assert win.inspector.takes.item(0).text().startswith("●")
    assert not win.inspector.takes.item(1).text().startswith("●")

    # Approve: Shift+A.
    press(qtbot, win, (Qt.Key.Key_A, SHIFT))
    assert win.cell(1, COL_STATUS).startswith("✓ approved")

    # Next flagged: Ctrl+R renders the rest (one line fails), F lands on the failed line.
    press(qtbot, win, (Qt.Key.Key_R, CTRL))
    qtbot.waitUntil(lambda: win.running_job is None, timeout=90_000)
    failed = [ln.text for ln in win.table_model.lines].index(FAILING)
    assert win.table_model.status(failed)[0].name == "FAILED"
    assert win.cell(1, COL_STATUS).startswith("✓ approved")  # the render kept the approval
    press(qtbot, win, Qt.Key.Key_F)
    assert win.selected_index() == win.row_cues[failed]

    # Export: Ctrl+E, Return on the dialog (Export is its default button), into the file
    # Render all wrote (removed first: what is there after is the export's).
    out = Path(win.output_edit.text())
    out.unlink()
    offered: list[str] = []

    def export() -> None:
        offered.append(win.export_dialog.output.text())
        QTest.keyClick(win.export_dialog, Qt.Key.Key_Return)

    said = len(no_dialogs)
    QTimer.singleShot(300, export)
    press(qtbot, win, (Qt.Key.Key_E, CTRL))
    assert offered == [str(out)]
    qtbot.waitUntil(lambda: win.running_job is None and len(no_dialogs) > said, timeout=90_000)
    kind, text = no_dialogs[-1]  # one line failed: the result is said as a warning
    assert text.startswith(f"Wrote {out} ({len(LINES) + 1} lines, 1 failed)"), no_dialogs
    assert out.stat().st_size > 0
    shot(win, "walk_exported")
