"""Per-line emotion in the main window, offscreen: the line panel, undo/redo, autosave to the
project file, and what the engine receives when dubbing after an edit."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)

from app.gui import COL_EMOTION, MainWindow  # noqa: E402
from app.gui.line_panel import MODES  # noqa: E402
from core import project as proj  # noqa: E402
from core.job.project_keeper import project_file_for  # noqa: E402
from models.contract import EMOTION_NAMES, EmotionSource  # noqa: E402
from tests import mediagen  # noqa: E402
from tests.tone_engine import ToneEngine  # noqa: E402

ANGRY = EMOTION_NAMES.index("angry")
SLIDERS = [m for _, m in MODES].index(proj.EmotionMode.VECTOR)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("emotionmovie")
    video = folder / "clip.mp4"
    mediagen.make_test_video(
        video, duration_s=12, lines=mediagen.DEFAULT_LINES[:2], srt_path=folder / "clip.srt"
    )
    return video


@pytest.fixture
def clip(source, tmp_path, monkeypatch) -> Path:
    """A private copy per test: each has its own project file and take cache."""
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    return mediagen.private_copy(source, tmp_path)


def open_now(qtbot, win: MainWindow, video: Path) -> bool:
    """Open as the editor does (the read runs off the GUI thread) and wait until shown."""
    with qtbot.waitSignal(win.opened, timeout=60_000) as blocker:
        assert win.open_video(video)
    return blocker.args[0]


def window(qtbot, engine=None) -> MainWindow:
    win = MainWindow(engine_factory=(lambda d, dev: engine) if engine else None)
    qtbot.addWidget(win)
    return win


def set_angry(win: MainWindow, value: float = 0.8) -> None:
    """Select line 2, choose Sliders, move 'angry' as the editor would (two undo steps)."""
    win.table.selectRow(win.rows[2])
    panel = win.panel
    panel.mode.setCurrentIndex(SLIDERS)
    panel.mode.activated.emit(SLIDERS)
    assert panel.sliders["angry"].isEnabled()
    panel.sliders["angry"].setValue(round(value * 100))


def saved_emotion(video: Path, index: int) -> proj.Emotion:
    project = proj.load_project(project_file_for(video))
    return next(ln for ln in project.lines if ln.index == index).emotion


def test_edit_is_autosaved_and_undoable(qtbot, clip):
    win = window(qtbot)
    assert open_now(qtbot, win, clip)
    assert not project_file_for(clip).exists()  # opening alone writes nothing
    assert win.panel.isEnabled() and not win.panel.sliders["angry"].isEnabled()
    set_angry(win)
    line = win.line(2)
    assert line.emotion.mode is proj.EmotionMode.VECTOR
    assert line.emotion.vector[ANGRY] == pytest.approx(0.8)
    assert win.line(1).emotion == proj.Emotion()  # the other line is untouched
    assert win.cell(win.rows[2], COL_EMOTION) == "angry 0.80"
    assert win.cell(win.rows[1], COL_EMOTION) == ""

    # the autosave timer writes it without any explicit save
    qtbot.waitUntil(lambda: project_file_for(clip).exists(), timeout=5000)
    on_disk = saved_emotion(clip, 2)
    assert on_disk.mode is proj.EmotionMode.VECTOR and on_disk.vector[ANGRY] == pytest.approx(0.8)
    assert not win.autosaver.dirty

    assert win.undo_stack.count() == 2 and win.undo_act.isEnabled()
    win.undo_act.trigger()  # the slider
    assert win.line(2).emotion.mode is proj.EmotionMode.VECTOR
    assert win.line(2).emotion.vector[ANGRY] == 0.0
    assert win.panel.sliders["angry"].value() == 0
    win.undo_act.trigger()  # the mode
    assert win.line(2).emotion == proj.Emotion()
    assert win.panel.mode.currentIndex() == 0  # "Default"
    assert win.cell(win.rows[2], COL_EMOTION) == ""
    assert not win.undo_act.isEnabled() and win.redo_act.isEnabled()
    assert win.autosaver.dirty
    win._flush()
    assert saved_emotion(clip, 2) == proj.Emotion()

    win.redo_act.trigger()
    win.redo_act.trigger()
    assert win.line(2).emotion.vector[ANGRY] == pytest.approx(0.8)
    assert win.panel.sliders["angry"].value() == 80
    win.close()  # closing flushes
    assert saved_emotion(clip, 2).vector[ANGRY] == pytest.approx(0.8)


def test_a_slider_drag_is_one_undo_step(qtbot, clip):
    win = window(qtbot)
    open_now(qtbot, win, clip)
    set_angry(win, 0.1)
    steps = win.undo_stack.count()
    calm = win.panel.sliders["calm"]
    calm.setSliderDown(True)
    for v in (10, 35, 60):
        calm.setValue(v)
    calm.setSliderDown(False)  # released: the next drag is a new step
    assert win.undo_stack.count() == steps + 1
    assert win.line(2).emotion.vector[EMOTION_NAMES.index("calm")] == pytest.approx(0.6)
    calm.setSliderDown(True)
    calm.setValue(20)
    calm.setSliderDown(False)
    assert win.undo_stack.count() == steps + 2
    win.undo()
    assert win.line(2).emotion.vector[EMOTION_NAMES.index("calm")] == pytest.approx(0.6)
    win.undo()
    assert win.line(2).emotion.vector[EMOTION_NAMES.index("calm")] == 0.0
    assert win.line(2).emotion.vector[ANGRY] == pytest.approx(0.1)


def test_dub_after_an_edit_renders_that_line_with_its_vector(qtbot, clip, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    asked = []  # the second dub writes over the first one's output: the window asks first
    monkeypatch.setattr(
        "app.gui.main_window.QMessageBox.question",
        lambda *a: asked.append(a[2]) or QMessageBox.StandardButton.Yes,
    )
    engine = ToneEngine()
    win = window(qtbot, engine)
    open_now(qtbot, win, clip)
    win.output_edit.setText(str(tmp_path / "out.mp4"))
    win.start_dub()
    qtbot.waitUntil(lambda: win.running_job is None, timeout=60_000)
    first = list(engine.requests)
    assert sorted(r.seed for r in first) == [1, 2]  # the seed is the cue index
    assert all(r.emotion.source is not EmotionSource.VECTOR for r in first)

    set_angry(win)
    assert win.autosaver.dirty  # not yet on disk: the dub must flush it
    win.start_dub()
    qtbot.waitUntil(lambda: win.running_job is None, timeout=60_000)
    assert len(asked) == 1 and "out.mp4 exists already" in asked[0]
    again = engine.requests[len(first) :]
    assert [r.seed for r in again] == [2]  # line 1 came from the take cache
    emo = again[0].emotion
    assert emo.source is EmotionSource.VECTOR
    assert emo.vector[ANGRY] == pytest.approx(0.8)
    assert sum(emo.vector) == pytest.approx(0.8)
    # the window took the dub's project (with its takes) and kept the edit
    assert len(win.line(2).takes) == 2 and len(win.line(1).takes) == 1
    assert win.line(2).emotion.vector[ANGRY] == pytest.approx(0.8)
    win.undo()  # undo still reaches the reloaded line
    assert win.line(2).emotion.vector[ANGRY] == 0.0


def test_panel_is_locked_while_dubbing(qtbot, clip, tmp_path):
    gate = threading.Event()

    class Slow(ToneEngine):
        def synthesize(self, requests, progress=None, **engine_options):
            gate.wait(10)
            return super().synthesize(requests, progress, **engine_options)

    win = window(qtbot, Slow())
    open_now(qtbot, win, clip)
    set_angry(win)
    win.output_edit.setText(str(tmp_path / "o.mp4"))
    win.start_dub()
    try:
        assert not win.panel.isEnabled()
        assert not win.undo_act.isEnabled()
        win.undo()  # the shortcut path is refused too
        assert win.line(2).emotion.vector[ANGRY] == pytest.approx(0.8)
    finally:
        gate.set()
    qtbot.waitUntil(lambda: win.running_job is None, timeout=60_000)
    assert win.panel.isEnabled() and win.undo_act.isEnabled()


def test_reopening_shows_the_saved_emotion(qtbot, clip):
    win = window(qtbot)
    open_now(qtbot, win, clip)
    set_angry(win, 0.45)
    win.close()

    again = window(qtbot)
    assert open_now(qtbot, again, clip)
    assert again.cell(again.rows[2], COL_EMOTION) == "angry 0.45"
    again.table.selectRow(again.rows[2])
    assert again.panel.mode.currentIndex() == SLIDERS
    assert again.panel.sliders["angry"].value() == 45
    assert again.undo_stack.count() == 0


def test_unreadable_project_starts_fresh_with_a_message(qtbot, clip):
    path = project_file_for(clip)
    path.write_text("{ not json")
    win = window(qtbot)
    assert open_now(qtbot, win, clip)
    assert "Could not read the project" in win.statusBar().currentMessage()
    assert [ln.index for ln in win.project.lines] == [1, 2]
    assert path.read_text() == "{ not json"  # left as it was (a backup copy was made)
    assert list(path.parent.glob(path.name + ".bak-*"))
