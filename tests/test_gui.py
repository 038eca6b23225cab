"""The main window offscreen: open a generated video, dub with the tone double, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)

from app.gui import MainWindow  # noqa: E402
from tests import mediagen  # noqa: E402
from tests.tone_engine import ToneEngine  # noqa: E402


def open_now(qtbot, win: MainWindow, video: Path, subtitles: Path | None = None) -> bool:
    """Open as the editor does (the read runs off the GUI thread) and wait until shown."""
    with qtbot.waitSignal(win.opened, timeout=60_000) as blocker:
        assert win.open_video(video, subtitles)
    return blocker.args[0]


@pytest.fixture(scope="module")
def movie(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("guimovie")
    video = folder / "clip.mp4"
    mediagen.make_test_video(
        video, duration_s=12, lines=mediagen.DEFAULT_LINES[:2], srt_path=folder / "clip.srt"
    )
    return video


def test_open_and_dub(qtbot, movie, tmp_path, monkeypatch):
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    engine = ToneEngine()
    win = MainWindow(engine_factory=lambda d, dev: engine)
    qtbot.addWidget(win)
    assert open_now(qtbot, win, movie)
    assert win.table_model.rowCount() == 2
    assert win.cell(1, 4) == "I was waiting for the morning train."
    out = tmp_path / "gui.mp4"
    win.output_edit.setText(str(out))
    win.start_dub()
    assert not win.dub_btn.isEnabled() and win.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: win.running_job is None, timeout=60_000)
    assert out.exists()
    assert win.progress.value() == 100
    assert win.last_report is not None and len(win.last_report.lines) == 2
    assert "Wrote" in win.statusBar().currentMessage()
    # requested and achieved durations are shown per line
    for row, line in enumerate(win.last_report.lines):
        assert win.cell(row, 6) == f"{line.target_samples_22k / 22050:.3f} s"
        assert win.cell(row, 7) == f"{line.rendered_samples_22k / 22050:.3f} s"


def test_open_error_is_shown_not_raised(qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("app.gui.main_window.QMessageBox.warning", lambda *a: shown.append(a[2]))
    win = MainWindow()
    qtbot.addWidget(win)
    assert not open_now(qtbot, win, tmp_path / "nope.mp4")
    assert shown and "not found" in shown[0]
    assert not win.dub_btn.isEnabled()


def test_second_video_does_not_inherit_the_first_ones_subtitles(qtbot, movie, tmp_path):
    other = tmp_path / "other.mp4"
    mediagen.make_test_video(
        other, duration_s=6, lines=mediagen.DEFAULT_LINES[:1], srt_path=tmp_path / "other.srt"
    )
    win = MainWindow()
    qtbot.addWidget(win)
    assert open_now(qtbot, win, movie)
    assert open_now(qtbot, win, other)
    assert win.subtitles == tmp_path / "other.srt"
    assert win.table_model.rowCount() == 1
    assert win.output_edit.text() == str(tmp_path / "other.dubbed.mp4")
    win.output_edit.setText(str(tmp_path / "mine.mp4"))  # typed by the editor: kept
    assert open_now(qtbot, win, movie)
    assert win.output_edit.text() == str(tmp_path / "mine.mp4")


def test_closing_during_a_dub_cancels_then_closes(qtbot, movie, tmp_path, monkeypatch):
    import threading

    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(
        "app.gui.main_window.QMessageBox.question", lambda *a: QMessageBox.StandardButton.Yes
    )
    gate = threading.Event()

    class Slow(ToneEngine):
        def synthesize(self, requests, progress=None, **engine_options):
            gate.wait(10)
            return super().synthesize(requests, progress, **engine_options)

    win = MainWindow(engine_factory=lambda d, dev: Slow())
    qtbot.addWidget(win)
    open_now(qtbot, win, movie)
    win.output_edit.setText(str(tmp_path / "o.mp4"))
    win.start_dub()
    qtbot.waitUntil(lambda: win.step_label.text().startswith("render"), timeout=30_000)
    assert not win.close()  # refused for now: the dub is being cancelled
    assert win.close_pending and win.running_job is not None
    gate.set()
    qtbot.waitUntil(lambda: win.running_job is None, timeout=30_000)
    assert not win.isVisible()
    assert not (tmp_path / "o.mp4").exists()


def test_dubs_run_on_one_queue_with_the_projects_device(qtbot, movie, tmp_path, monkeypatch):
    """The window's dubs go through one long-lived worker: the engine is loaded once, the
    project's device is used, and takes land in the window's own project (no reload)."""
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    engine, devices = ToneEngine(), []

    def factory(model_dir, device):
        devices.append(device)
        return engine

    win = MainWindow(engine_factory=factory)
    qtbot.addWidget(win)
    assert open_now(qtbot, win, movie)
    project = win.project
    project.model.device = "cpu"  # as the settings page would set it
    arrived = []
    win.queue_worker.line_rendered.connect(lambda job, index, take: arrived.append(index))
    for name in ("a.mp4", "b.mp4"):
        win.output_edit.setText(str(tmp_path / name))
        win.start_dub()
        qtbot.waitUntil(lambda: win.running_job is None, timeout=60_000)
        assert (tmp_path / name).exists()
    assert devices == ["cpu"]  # loaded once, on the project's device
    assert sorted(arrived) == [1, 2]  # the second dub came from the cache: no new takes
    assert win.project is project and all(ln.takes for ln in project.lines)
    assert win.cell(0, 7).endswith(" s") and win.cell(1, 7).endswith(" s")
