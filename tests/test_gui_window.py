"""Window details: the command line of dubsmith-gui, the progress bar and its messages
(weighted steps, the line being rendered, time left, reset after a failure or a cancel),
and quitting while a dub ends."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from app import gui  # noqa: E402
from app.gui import (  # noqa: E402
    MainWindow,
    describe_left,
    main,
    overall_fraction,
    step_text,
    time_left_s,
)
from core.job.pipeline import STEPS  # noqa: E402
from tests import mediagen  # noqa: E402
from tests.tone_engine import ToneEngine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# --- progress, pure --------------------------------------------------------------------------


def test_the_bar_is_weighted_by_work():
    assert overall_fraction("read", 0, 1) == 0.0
    assert overall_fraction("export", 1, 1) == pytest.approx(1.0)
    before_render = overall_fraction("render", 0, 200)
    assert before_render < 0.15  # equal shares showed 57 % here
    assert overall_fraction("render", 100, 200) == pytest.approx(before_render + 0.4)
    assert overall_fraction("render", 200, 200) > 0.9
    assert overall_fraction("warm-up", 1, 2) is None  # not a step of the dub: the bar stays


def test_the_bar_only_moves_forward():
    seen = [
        overall_fraction(step, done, total)
        for step in STEPS
        for done, total in ((0, 4), (1, 4), (4, 4))
    ]
    assert seen == sorted(seen)


def test_a_step_without_a_weight_counts_one():
    steps = ("read", "polish", "render")
    assert overall_fraction("polish", 1, 1, steps) == pytest.approx(2 / 82)


def test_time_left_waits_for_a_couple_of_lines_and_ignores_cached_ones():
    assert time_left_s(0, 1, 10, 5.0) is None
    assert time_left_s(0, 2, 10, 4.0) == pytest.approx(16.0)
    # 5 came from the cache at once: the pace is that of the 2 rendered since
    assert time_left_s(5, 7, 10, 4.0) == pytest.approx(6.0)
    assert time_left_s(0, 10, 10, 9.0) is None


def test_time_left_in_words():
    assert describe_left(2) == "about 5 s left"
    assert describe_left(42) == "about 40 s left"
    assert describe_left(200) == "about 3 min left"
    assert describe_left(3900) == "about 1 h 5 min left"


def test_the_label_names_the_line_being_rendered():
    assert step_text("render", 11, 200) == "render: line 12 of 200"
    assert step_text("render", 11, 200, 95) == "render: line 12 of 200, about 2 min left"
    assert step_text("render", 200, 200) == "render 200/200"
    assert step_text("mix", 0, 1) == "mix 0/1"


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def no_window(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a window was opened")

    monkeypatch.setattr(gui, "MainWindow", refuse)


def test_help_prints_usage_without_a_window(capsys, no_window):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: dubsmith-gui") and "subtitles" in out


def test_version(capsys, no_window):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("dubsmith-gui ")


@pytest.mark.parametrize("argv", [["--nope"], ["-x", "a.mp4"], ["a.mp4", "b.srt", "c"]])
def test_unknown_options_are_refused_with_usage(capsys, no_window, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: dubsmith-gui" in err and "error:" in err


def test_the_entry_point_itself(tmp_path):
    """As a terminal runs it: no 'video not found: --help' dialog, the right exit codes."""
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = [sys.executable, "-m", "app.gui"]
    ok = subprocess.run([*run, "--help"], cwd=REPO, env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("usage: dubsmith-gui")
    bad = subprocess.run([*run, "--frobnicate"], cwd=REPO, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "unrecognized arguments: --frobnicate" in bad.stderr


# --- dubbing in the window -------------------------------------------------------------------


@pytest.fixture(scope="module")
def movie(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("windowmovie")
    video = folder / "clip.mp4"
    mediagen.make_test_video(
        video, duration_s=8, lines=mediagen.DEFAULT_LINES[:2], srt_path=folder / "clip.srt"
    )
    return video


class Gated(ToneEngine):
    """Renders once the test lets it."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def synthesize(self, requests, progress=None, **engine_options):
        assert self.gate.wait(30)
        return super().synthesize(requests, progress, **engine_options)


def dubbing_window(qtbot, movie: Path, tmp_path: Path, monkeypatch, factory) -> MainWindow:
    """A window on `movie`; a dub failure fails the test (a modal dialog would hang it)."""
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))

    def unexpected(parent, title, message):
        pytest.fail(f"{title}: {message}")

    monkeypatch.setattr("app.gui.main_window.QMessageBox.critical", unexpected)
    win = MainWindow(engine_factory=factory)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.opened, timeout=60_000):
        assert win.open_video(movie)
    win.output_edit.setText(str(tmp_path / "out.mp4"))
    return win


def test_render_shows_the_line_and_an_early_bar(qtbot, movie, tmp_path, monkeypatch):
    engine = Gated()
    win = dubbing_window(qtbot, movie, tmp_path, monkeypatch, lambda d, dev: engine)
    win.start_dub()
    try:
        qtbot.waitUntil(lambda: win.step_label.text() == "render: line 1 of 2", timeout=30_000)
        assert 5 <= win.progress.value() <= 15  # not 57 %: rendering is still all ahead
    finally:
        engine.gate.set()
    qtbot.waitUntil(lambda: win.running_job is None, timeout=60_000)
    assert win.progress.value() == 100 and win.step_label.text() == "done"


def test_time_left_appears_once_two_lines_are_rendered(qtbot, monkeypatch):
    win = MainWindow()
    qtbot.addWidget(win)
    now = [100.0]
    monkeypatch.setattr(gui.render_control.time, "monotonic", lambda: now[0])
    win.on_progress("render", 0, 10)
    now[0] = 102.0
    win.on_progress("render", 1, 10)
    assert win.step_label.text() == "render: line 2 of 10"
    now[0] = 104.0
    win.on_progress("render", 2, 10)
    assert win.step_label.text() == "render: line 3 of 10, about 15 s left"


def test_a_failed_dub_resets_the_bar_and_says_where(qtbot, movie, tmp_path, monkeypatch):
    def broken(model_dir, device):
        raise RuntimeError("no engine in this test")

    win = dubbing_window(qtbot, movie, tmp_path, monkeypatch, broken)
    shown = []
    monkeypatch.setattr("app.gui.main_window.QMessageBox.critical", lambda *a: shown.append(a[2]))
    win.progress.setValue(57)
    win.step_label.setText("render 1/2")  # what a previous dub may have left
    win.start_dub()
    qtbot.waitUntil(lambda: win.running_job is None, timeout=60_000)
    assert shown == ["no engine in this test"]
    assert win.progress.value() == 0 and win.step_label.text() == ""
    message = win.statusBar().currentMessage()
    assert message.startswith("Dub failed during ") and "no engine in this test" in message
    assert win.dub_btn.isEnabled()


def test_a_cancelled_dub_resets_the_bar_and_says_so(qtbot, movie, tmp_path, monkeypatch):
    engine = Gated()
    win = dubbing_window(qtbot, movie, tmp_path, monkeypatch, lambda d, dev: engine)
    win.start_dub()
    qtbot.waitUntil(lambda: win.step_label.text().startswith("render"), timeout=30_000)
    win.cancel_dub()
    engine.gate.set()
    qtbot.waitUntil(lambda: win.running_job is None, timeout=60_000)
    assert win.progress.value() == 0 and win.step_label.text() == ""
    message = win.statusBar().currentMessage()
    assert message.startswith("Cancelled during render (line ")
    assert "nothing was written" in message
    assert not (tmp_path / "out.mp4").exists()


def test_quit_is_kept_when_the_dub_ends_while_asking(qtbot, movie, tmp_path, monkeypatch):
    """'Yes, cancel and quit' answered after the dub finished on its own: still quit."""
    engine = Gated()
    win = dubbing_window(qtbot, movie, tmp_path, monkeypatch, lambda d, dev: engine)
    win.show()

    def answer_late(*args):
        engine.gate.set()  # the dub finishes while the question is on screen
        qtbot.waitUntil(lambda: win.running_job is None, timeout=60_000)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr("app.gui.main_window.QMessageBox.question", answer_late)
    win.start_dub()
    qtbot.waitUntil(lambda: win.step_label.text().startswith("render"), timeout=30_000)
    assert win.close()
    assert not win.isVisible()
    assert (tmp_path / "out.mp4").exists()  # it had finished: its output stands


def test_no_keeps_the_window_when_the_dub_ends_while_asking(qtbot, movie, tmp_path, monkeypatch):
    engine = Gated()
    win = dubbing_window(qtbot, movie, tmp_path, monkeypatch, lambda d, dev: engine)
    win.show()

    def answer_late(*args):
        engine.gate.set()
        qtbot.waitUntil(lambda: win.running_job is None, timeout=60_000)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr("app.gui.main_window.QMessageBox.question", answer_late)
    win.start_dub()
    qtbot.waitUntil(lambda: win.step_label.text().startswith("render"), timeout=30_000)
    assert not win.close()
    assert win.isVisible() and not win.close_pending
