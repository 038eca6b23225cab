"""Issue 20's defects of the desk, each driven through the real window with real key events
(QTest) and the window's own shortcuts installed: cell edits that Enter commits and Escape
cancels, no shortcut while typing, speakers that a Preview never re-decides, Open recent
with one path, take undo, cancel, progress, the line's own play span, export's choices."""

from __future__ import annotations

import threading
from pathlib import Path

import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)
from PySide6.QtCore import QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget  # noqa: E402

from app.gui.lines_model import COL_SPEAKER, COL_TEXT  # noqa: E402
from app.gui.main_window import MainWindow  # noqa: E402
from core.desk import status as desk  # noqa: E402
from core.desk.status import LineStatus  # noqa: E402
from tests import desk_fixtures
from tests.desk_fixtures import LINES
from tests.test_gui_desk import open_now, render_now, shot, window  # noqa: E402
from tests.tone_engine import ToneEngine  # noqa: E402

# The desk's fixtures, this module's own (own_settings autouse here), bound by name rather than
# imported by name: ruff reads each test's parameter of an imported fixture as a redefinition.
own_settings, source = desk_fixtures.own_settings, desk_fixtures.source
clip, no_dialogs = desk_fixtures.clip, desk_fixtures.no_dialogs


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


SHIFT = Qt.KeyboardModifier.ShiftModifier


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


# --- 2: a Preview keeps the editor's speakers; Find speakers is explicit and undoable --------


def test_preview_keeps_the_speakers_and_find_speakers_is_one_undo_step(
    qtbot, clip, no_dialogs, tiny_model_dir
):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    win.model_edit.setText(str(tiny_model_dir))  # a speaker model: the analysis clusters
    assert open_now(qtbot, win, clip)
    win.rename_speaker(win.table_model.speaker_id(0), "Host")  # the Speakers tab's Rename
    hosts = ["Host"] * len(LINES)
    assert [win.cell(r, COL_SPEAKER) for r in range(len(LINES))] == hosts
    win._select_row(1)
    win.video.play_file = lambda *a, **k: None
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_P))
    assert [win.cell(r, COL_SPEAKER) for r in range(len(LINES))] == hosts
    assert win.project.analysis is None  # no analysis ran behind the editor's back

    shots: list[Path] = []
    win.queue_worker.stage.connect(
        lambda *a: shots or shots.append(shot(win, "find_speakers_in_progress"))
    )
    with qtbot.waitSignal(win.speakers_found, timeout=120_000) as found:
        keys(qtbot, win, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier | SHIFT)
    assert found.args == [True] and shots
    assert win.project.analysis is not None
    assert [win.cell(r, COL_SPEAKER) for r in range(len(LINES))] != hosts
    assert win.undo_stack.undoText() == "find speakers"
    keys(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [win.cell(r, COL_SPEAKER) for r in range(len(LINES))] == hosts


def test_find_speakers_cancelled_leaves_the_speakers(qtbot, clip, no_dialogs, tiny_model_dir):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    win.model_edit.setText(str(tiny_model_dir))
    assert open_now(qtbot, win, clip)
    win.rename_speaker(win.table_model.speaker_id(0), "Host")
    cancelled: list[bool] = []

    def cancel_once(*_):
        if not cancelled:
            cancelled.append(True)
            keys(qtbot, win, Qt.Key.Key_Escape)

    win.queue_worker.stage.connect(cancel_once)
    with qtbot.waitSignal(win.speakers_found, timeout=120_000) as found:
        keys(qtbot, win, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier | SHIFT)
    assert found.args == [False]
    assert "cancelled" in win.statusBar().currentMessage()
    assert [win.cell(r, COL_SPEAKER) for r in range(len(LINES))] == ["Host"] * len(LINES)
    assert win.undo_stack.undoText() == "rename speaker"


# --- 4: Open recent with one remembered path ------------------------------------------------


def test_open_recent_lists_one_remembered_path_whole(qtbot, tmp_path):
    # What the settings file of another session gives back for a one-item list: a string.
    settings = QSettings("Dubsmith", "Dubsmith")
    settings.setValue("recent", str(tmp_path / "one.mp4"))
    settings.sync()
    win = window(qtbot)
    names = [a.text() for a in win.recent_menu.actions()]
    assert names == [str(tmp_path / "one.mp4")]


# --- 5: undoing a take choice -----------------------------------------------------------------


def keys(qtbot, win: MainWindow, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """A key pressed with the lines table focused (where an editor's keys land)."""
    if not win.table.hasFocus():
        win.activateWindow()
        win.table.setFocus()
        qtbot.waitUntil(win.table.hasFocus, timeout=5000)
    QTest.keyClick(win.table, key, modifier)


def test_undoing_a_take_choice_keeps_the_restored_take_current(qtbot, clip, no_dialogs):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    win._select_row(1)
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_P))
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_R))  # a second take
    line = win.table_model.lines[1]
    assert len(line.takes) == 2 and win.table_model.status(1)[0] is LineStatus.RENDERED
    win.inspector.takes.setCurrentRow(0)
    keys(qtbot, win, Qt.Key.Key_A)  # use the first take
    assert desk.usable_take(line).seed == line.takes[0].seed
    assert win.table_model.status(1)[0] is LineStatus.RENDERED
    keys(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert desk.usable_take(line).seed == line.takes[1].seed
    assert win.table_model.status(1)[0] is LineStatus.RENDERED  # not stale: nothing to render
    keys(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | SHIFT)
    assert desk.usable_take(line).seed == line.takes[0].seed
    assert win.table_model.status(1)[0] is LineStatus.RENDERED


# --- 6: cancel stops within one line and says what was kept ---------------------------------


class Stepped(ToneEngine):
    """Renders one line each time the test lets it (the render asks in one batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = threading.Semaphore(0)

    def synthesize(self, requests, progress=None, *, on_result=None, should_stop=None):
        out = []
        for j, request in enumerate(requests):
            assert self.steps.acquire(timeout=60)
            out += super().synthesize([request], None, should_stop=should_stop)
            if on_result:
                on_result(j, out[-1])
        return out


def test_cancel_stops_after_the_line_and_says_what_was_kept(qtbot, clip, tmp_path, no_dialogs):
    engine = Stepped()
    win = shown(qtbot, window(qtbot, engine))
    assert open_now(qtbot, win, clip)
    win.output_edit.setText(str(tmp_path / "out.mp4"))
    keys(qtbot, win, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)  # Render all
    assert win.running_job is not None
    engine.steps.release()  # the first line renders, the second waits
    qtbot.waitUntil(lambda: len(win.table_model.fresh) == 1, timeout=60_000)
    keys(qtbot, win, Qt.Key.Key_Escape)
    assert "Cancelling" in win.statusBar().currentMessage()
    engine.steps.release(5)
    qtbot.waitUntil(lambda: win.running_job is None, timeout=60_000)
    message = win.statusBar().currentMessage()
    assert message.startswith("Cancelled during render (line 2 of 3)"), message
    assert "1 line rendered and kept" in message and "nothing was written" in message
    assert len(engine.rendered) == 1  # nothing rendered after the cancel
    assert win.table_model.status(0)[0] is LineStatus.RENDERED
    assert not (tmp_path / "out.mp4").exists()


# --- 7: a one-line render's bar, and the line's own play span -------------------------------


def test_a_one_line_render_bar_only_goes_forward(qtbot, clip, no_dialogs):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    win.video.play_file = lambda *a, **k: None
    values: list[int] = []
    win.progress.valueChanged.connect(values.append)
    win._select_row(0)
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_P))
    assert values and values == sorted(values), values
    assert values[-1] == 100 and win.progress.value() == 100


def test_playing_the_selected_line_stops_at_its_end(qtbot, clip, no_dialogs):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    paused: list[bool] = []
    win.video.pause = lambda: paused.append(True)
    win.video.play = lambda: None  # no audio device here: the position is driven below
    win._select_row(1)
    line = win.table_model.lines[1]
    keys(qtbot, win, Qt.Key.Key_Return)  # play the selected line
    win.video.player.positionChanged.emit(line.start_ms + 100)
    assert paused == []
    win.video.player.positionChanged.emit(line.end_ms + 20)
    assert paused == [True]
    win.video.player.positionChanged.emit(line.end_ms + 60)
    assert paused == [True]  # once: Space plays on from there


# --- 8: export names what it wrote, remembers its folders; the queue never overwrites --------


def test_export_names_stems_and_report_remembers_them_and_the_queue_keeps_off(
    qtbot, clip, tmp_path, no_dialogs
):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    out, stems, report = tmp_path / "film.mp4", tmp_path / "stems", tmp_path / "film.json"
    seen: dict[str, str] = {}

    def fill() -> None:
        dialog = win.export_dialog
        dialog.output.setText(str(out))
        dialog.stems.setText(str(stems))
        dialog.report.setText(str(report))
        QTest.keyClick(dialog, Qt.Key.Key_Return)  # Export is the default button

    QTimer.singleShot(300, fill)
    keys(qtbot, win, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: win.running_job is None and win.result_box is not None, timeout=90_000)
    assert out.exists()
    text = win.result_box.text()
    assert f"Stems: 3 WAV files in {stems}" in text and f"Report: {report}" in text

    def look() -> None:
        dialog = win.export_dialog
        seen["stems"], seen["report"] = dialog.stems.text(), dialog.report.text()
        QTest.keyClick(dialog, Qt.Key.Key_Escape)

    win.result_box.close()
    QTimer.singleShot(300, look)
    keys(qtbot, win, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert seen == {"stems": str(stems), "report": str(report)}

    dubbed = clip.with_name(clip.stem + ".dubbed.mp4")
    dubbed.write_bytes(out.read_bytes())  # the dub just exported, under the queue's name
    win.queue_panel.add_videos([clip])
    entry = win.queue_panel.store.entries[-1]
    assert entry.output != dubbed and not entry.output.exists()


# --- accessibility, and the window as an editor sees it -------------------------------------


def test_every_control_has_an_accessible_name(qtbot, clip, no_dialogs):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSlider,
        QAbstractSpinBox,
        QComboBox,
        QScrollBar,
    )

    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    kinds = (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit)
    unnamed = [
        f"{type(w).__name__} {w.objectName()}"
        for w in win.findChildren(QWidget)
        if isinstance(w, kinds)
        and not isinstance(w, QScrollBar)  # a scroll area's own
        and not w.accessibleName()
        and w.isVisibleTo(win)
    ]
    assert unnamed == []
    assert win.table.accessibleName() == "Lines"
    assert {s.accessibleName() for s in win.panel.sliders.values()} == {
        f"Emotion {name}" for name in win.panel.sliders
    }
    # Preview, Regenerate and the takes in sight without scrolling the inspector
    scroll = win.inspector.parentWidget().parentWidget()  # the QScrollArea's viewport's owner
    for w in (win.inspector.preview_btn, win.inspector.regenerate_btn, win.inspector.takes):
        top = w.mapTo(scroll, w.rect().topLeft()).y()
        assert 0 <= top and top + w.height() // 2 <= scroll.height(), w
    shot(win, "main_window_1280x800")


def test_the_speaker_cell_completes_an_existing_speaker(qtbot, clip, no_dialogs):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    editor = open_editor(qtbot, win, 0, COL_SPEAKER)
    editor.selectAll()
    QTest.keyClicks(editor, "Guest")
    QTest.keyClick(editor, Qt.Key.Key_Return)
    closed(qtbot, win)
    assert win.cell(0, COL_SPEAKER) == "Guest"
    editor = open_editor(qtbot, win, 1, COL_SPEAKER)
    editor.selectAll()
    QTest.keyClicks(editor, "gu")  # completes inline to the speaker there is
    assert editor.text().casefold() == "guest"
    QTest.keyClick(editor, Qt.Key.Key_Return)
    closed(qtbot, win)
    assert win.cell(1, COL_SPEAKER) == "Guest"
    assert [s.name for s in win.project.speakers].count("Guest") == 1
    assert not any(s.name.casefold() == "guest" and s.name != "Guest" for s in win.project.speakers)


def test_a_time_typed_as_timecode_and_nudged_by_keys(qtbot, clip, no_dialogs):
    from app.gui.lines_model import COL_END

    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    assert win.inputs.media.fps == 25
    line = win.table_model.lines[1]
    start, end = line.start_ms, line.end_ms
    editor = open_editor(qtbot, win, 1, COL_END)
    assert editor.text() == "00:00:07:12"  # 7.48 s at 25 fps, as an NLE shows it
    shot(win, "timecode_editor")
    editor.selectAll()
    QTest.keyClicks(editor, "00:00:08:05")
    QTest.keyClick(editor, Qt.Key.Key_Return)
    closed(qtbot, win)
    assert (line.start_ms, line.end_ms) == (start, 8200)
    editor = open_editor(qtbot, win, 1, COL_END)
    editor.selectAll()
    QTest.keyClicks(editor, "later")
    QTest.keyClick(editor, Qt.Key.Key_Return)
    closed(qtbot, win)
    assert line.end_ms == 8200 and "not a time" in win.statusBar().currentMessage()
    keys(qtbot, win, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)  # one frame later
    assert (line.start_ms, line.end_ms) == (start + 40, 8240)
    keys(qtbot, win, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier | SHIFT)  # 100 ms earlier
    assert (line.start_ms, line.end_ms) == (start - 60, 8140)
    for _ in range(3):
        keys(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (line.start_ms, line.end_ms) == (start, end)


def test_approve_and_jump_to_the_next_flagged_or_unapproved_line(qtbot, clip, tmp_path, no_dialogs):
    from app.gui.lines_model import COL_STATUS

    win = shown(qtbot, window(qtbot, ToneEngine(fail_texts=[LINES[2][1]])))
    assert open_now(qtbot, win, clip)
    win.output_edit.setText(str(tmp_path / "out.mp4"))
    keys(qtbot, win, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)  # Render all
    qtbot.waitUntil(lambda: win.running_job is None, timeout=90_000)
    assert win.table_model.status(2)[0] is LineStatus.FAILED
    win._select_row(0)
    keys(qtbot, win, Qt.Key.Key_F)  # next flagged: the failed line
    assert win.selected_index() == win.row_cues[2]
    win._select_row(0)
    keys(qtbot, win, Qt.Key.Key_A, SHIFT)  # approve
    assert win.cell(0, COL_STATUS).startswith("✓ approved")
    keys(qtbot, win, Qt.Key.Key_U)  # next not approved
    assert win.selected_index() == win.row_cues[1]
    win._select_row(0)
    keys(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not win.cell(0, COL_STATUS).startswith("✓")


def test_a_failed_preview_flags_its_line_and_a_good_one_clears_it(qtbot, clip, no_dialogs):
    engine = ToneEngine(fail_texts=[LINES[1][1]])
    win = shown(qtbot, window(qtbot, engine))
    assert open_now(qtbot, win, clip)
    win._select_row(1)
    assert not render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_P))
    assert win.table_model.status(1)[0] is LineStatus.FAILED
    win._select_row(0)
    keys(qtbot, win, Qt.Key.Key_F)  # next flagged: the line whose preview failed
    assert win.selected_index() == win.row_cues[1]
    engine.fail_texts = []
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_P))
    assert win.table_model.status(1)[0] is LineStatus.RENDERED
