"""The window's side of a line's own duration mode (issue 11, item 5): the inspector's
choice goes through the window's undo stack, the lines table shows the effective mode and a
rendered line goes stale; a preview then renders it in its own mode."""

from __future__ import annotations

import pytest
import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)

from app.gui.lines_model import COL_MODE, COL_STATUS  # noqa: E402
from app.gui.main_window import MainWindow  # noqa: E402
from models.contract import DurationMode  # noqa: E402
from tests import mediagen  # noqa: E402
from tests.tone_engine import ToneEngine  # noqa: E402

LINES = mediagen.DEFAULT_LINES[:3]


@pytest.fixture(autouse=True)
def own_settings(tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "cfg"))
    (tmp_path / "models").mkdir()
    monkeypatch.setenv("DUBSMITH_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DUBSMITH_QUEUE_FILE", str(tmp_path / "queue.json"))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("guimodes")
    video = folder / "clip.mp4"
    mediagen.make_test_video(video, duration_s=13, lines=LINES, srt_path=folder / "clip.srt")
    return video


def test_the_inspector_mode_is_an_undoable_edit_and_the_line_goes_stale(qtbot, source, tmp_path):
    clip = mediagen.private_copy(source, tmp_path)
    engine = ToneEngine()
    win = MainWindow(engine_factory=lambda d, dev: engine)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.opened, timeout=60_000) as blocker:
        assert win.open_video(clip, None)
    assert blocker.args[0]
    row = win.rows[2]
    win._select_row(row)
    with qtbot.waitSignal(win.preview_finished, timeout=90_000) as blocker:
        win.inspector.preview_btn.click()
    assert blocker.args[0]
    assert win.cell(row, COL_STATUS) == "rendered" and win.cell(row, COL_MODE) == "guided"
    box = win.inspector.mode_box
    assert box.itemText(0) == "As the dub (guided)" and box.currentIndex() == 0

    natural = win.inspector.mode_choices.index(DurationMode.NATURAL)
    box.setCurrentIndex(natural)
    box.activated.emit(natural)
    line = win.line(2)
    assert line.duration_mode is DurationMode.NATURAL
    assert win.cell(row, COL_STATUS) == "stale" and win.cell(row, COL_MODE) == "natural (own)"
    assert win.cell(win.rows[1], COL_MODE) == "guided"  # the others still follow the dub
    assert "duration mode of line 2" in win.undo_act.text()
    win.undo()
    assert line.duration_mode is None and win.cell(row, COL_STATUS) == "rendered"
    assert win.inspector.mode_box.currentIndex() == 0
    win.redo()
    assert line.duration_mode is DurationMode.NATURAL and win.cell(row, COL_STATUS) == "stale"

    # a preview renders it natural, and it is current again
    with qtbot.waitSignal(win.preview_finished, timeout=90_000) as blocker:
        win.inspector.preview_btn.click()
    assert blocker.args[0]
    assert engine.requests[-1].mode is DurationMode.NATURAL
    assert line.takes[-1].duration_mode is DurationMode.NATURAL
    assert win.cell(row, COL_STATUS) == "rendered"
