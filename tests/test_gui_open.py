"""Opening in the main window, offscreen: large subtitle files open and reopen in linear
time, off the GUI thread, and lines keep their settings when the subtitles change."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)

from app.gui import COL_EMOTION, COL_TEXT, MainWindow  # noqa: E402
from app.gui import main_window as gui  # noqa: E402
from core import project as proj  # noqa: E402
from core.desk import opening as desk_open  # noqa: E402 - where the window reads a video
from tests import mediagen  # noqa: E402

CUES = 2000  # reopening this many froze the window (quadratic table refill)
STEP_MS, LEN_MS = 300, 250
ANGRY = proj.Emotion(mode=proj.EmotionMode.VECTOR, vector=(0, 0.7, 0, 0, 0, 0, 0, 0))


def write_cues(path: Path, texts: list[str]) -> Path:
    """An SRT with one short cue per text, every STEP_MS from 0.5 s."""

    def ts(ms: int) -> str:
        h, rem = divmod(ms, 3600_000)
        m, rem = divmod(rem, 60_000)
        s, ms = divmod(rem, 1000)
        return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"

    blocks = []
    for k, text in enumerate(texts):
        start = 500 + k * STEP_MS
        blocks.append(f"{k + 1}\n{ts(start)} --> {ts(start + LEN_MS)}\n{text}\n")
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def texts(n: int = CUES) -> list[str]:
    return [f"Line number {k + 1} says something." for k in range(n)]


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("longvideo")
    return mediagen.make_silent_video(
        folder / "long.mp4", duration_s=1 + CUES * STEP_MS / 1000, fps=1, size="64x64"
    )


@pytest.fixture
def video(long_video, tmp_path, monkeypatch) -> Path:
    """A private copy (own project file) with CUES cues next to it."""
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    video = tmp_path / "long.mp4"
    video.symlink_to(long_video)
    write_cues(tmp_path / "long.srt", texts())
    return video


def window(qtbot) -> MainWindow:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()  # the freeze needed a visible table
    return win


def open_now(qtbot, win: MainWindow, video: Path, subtitles: Path | None = None) -> bool:
    with qtbot.waitSignal(win.opened, timeout=60_000) as blocker:
        assert win.open_video(video, subtitles)
    return blocker.args[0]


def test_reopening_and_switching_subtitles_of_a_long_file(qtbot, video, tmp_path):
    win = window(qtbot)
    assert open_now(qtbot, win, video)
    assert win.table_model.rowCount() == CUES
    assert win.cell(CUES - 1, COL_TEXT) == f"Line number {CUES} says something."
    # line() is the merge's own dict: the project's line, by cue number
    assert win.line(1500) is win.project.lines[1499]
    win.table.selectRow(1499)
    win.set_emotion(1500, ANGRY)

    assert open_now(qtbot, win, video)  # the same video again: quadratic before
    assert win.table_model.rowCount() == CUES
    assert win.line(1500).emotion == ANGRY  # the edit was saved, then read back
    assert win.cell(1499, COL_EMOTION) == "angry 0.70"
    assert win.selected_index() == 1500  # the editor's place is kept

    # Subtitles with the first cue gone: every cue number shifts; the setting follows its line.
    shifted = write_cues(tmp_path / "shifted.srt", texts()[1:])
    assert open_now(qtbot, win, video, shifted)
    assert win.table_model.rowCount() == CUES - 1
    assert win.line(1499).text == "Line number 1500 says something."
    assert win.line(1499).emotion == ANGRY
    assert win.cell(1498, COL_EMOTION) == "angry 0.70"
    assert win.selected_index() == 1499


def test_a_line_that_lost_its_cue_is_told_and_comes_back(qtbot, video, tmp_path):
    win = window(qtbot)
    assert open_now(qtbot, win, video)
    win.set_emotion(7, ANGRY)
    without = texts()
    del without[6]
    assert open_now(qtbot, win, video, write_cues(tmp_path / "cut.srt", without))
    assert "Line number 7 says something." not in [ln.text for ln in win.project.lines]
    assert "no longer in the subtitles" in win.warnings_label.text()
    assert "Line number 7" in win.warnings_label.toolTip()
    # the original subtitles again: the line and its setting are back, the warning gone
    assert open_now(qtbot, win, video, video.with_suffix(".srt"))
    assert win.line(7).emotion == ANGRY
    assert "no longer" not in win.warnings_label.text()


def test_opening_runs_off_the_gui_thread(qtbot, video, monkeypatch):
    """While the files are read the window keeps its event loop, shows it is busy, and
    refuses what would change the project under the read."""
    gate, started = threading.Event(), threading.Event()
    real = desk_open.read_for_editing

    def slow_read(*args):
        started.set()
        assert gate.wait(30)
        return real(*args)

    monkeypatch.setattr(desk_open, "read_for_editing", slow_read)
    win = window(qtbot)
    ticks = []
    timer = gui.QTimer(win)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    try:
        assert win.open_video(video)
        assert started.wait(10)
        qtbot.wait(200)  # the event loop runs while the read is held
        assert len(ticks) >= 5
        assert win.progress.maximum() == 0  # Qt's busy bar
        assert "Opening long.mp4" in win.statusBar().currentMessage()
        assert not win.panel.isEnabled() and not win.dub_btn.isEnabled()
        assert not win.open_video(video)  # one open at a time
    finally:
        gate.set()
    with qtbot.waitSignal(win.opened, timeout=60_000):
        pass
    assert win.table_model.rowCount() == CUES
    assert win.progress.maximum() == 100 and win.progress.value() == 0
    assert win.panel.isEnabled() and win.dub_btn.isEnabled()
    assert f"Opened long.mp4 ({CUES} lines)" == win.statusBar().currentMessage()


def test_closing_while_opening_waits_for_the_read_and_drops_it(qtbot, video, monkeypatch):
    gate = threading.Event()
    real = desk_open.read_for_editing
    monkeypatch.setattr(desk_open, "read_for_editing", lambda *a: (gate.wait(30), real(*a))[1])
    win = window(qtbot)
    assert win.open_video(video)
    threading.Timer(0.2, gate.set).start()
    assert win.close()  # waits for the read (bounded), no thread is left running
    qtbot.wait(50)
    assert win.opening is None and win.open_thread is None
    assert win.table_model.rowCount() == 0  # the late result is not shown


def test_a_failed_open_keeps_the_video_shown(qtbot, video, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("app.gui.main_window.QMessageBox.warning", lambda *a: shown.append(a[2]))
    win = window(qtbot)
    assert open_now(qtbot, win, video)
    assert not open_now(qtbot, win, video, tmp_path / "missing.srt")
    assert shown
    assert win.table_model.rowCount() == CUES and win.panel.isEnabled()
    assert win.progress.maximum() == 100
