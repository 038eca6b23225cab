"""Emotion from a text description is offered only when its optional model is installed in
the Models folder; otherwise the choice is disabled and says why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)
from PySide6.QtCore import Qt  # noqa: E402

from app.gui import MainWindow  # noqa: E402
from app.gui.line_panel import MODES, TEXT_ROW  # noqa: E402
from core import project as proj  # noqa: E402
from models.layout import locate  # noqa: E402
from tests import mediagen  # noqa: E402

SLIDERS = [m for _, m in MODES].index(proj.EmotionMode.VECTOR)
TEXT = proj.Emotion(mode=proj.EmotionMode.TEXT, text="quietly furious")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("textemotion")
    video = folder / "clip.mp4"
    mediagen.make_test_video(
        video, duration_s=8, lines=mediagen.DEFAULT_LINES[:2], srt_path=folder / "clip.srt"
    )
    return video


@pytest.fixture
def clip(source, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    return mediagen.private_copy(source, tmp_path)


def with_text_model(folder: Path) -> Path:
    """A model folder holding (only) the optional text-emotion model's config."""
    qwen = locate(folder).qwen_emotion
    qwen.mkdir(parents=True)
    (qwen / "config.json").write_text("{}")
    return folder


def opened_window(qtbot, clip: Path, model_dir: Path) -> MainWindow:
    win = MainWindow()
    qtbot.addWidget(win)
    win.model_edit.setText(str(model_dir))
    win.check_models()  # at once, not after the typing pause
    with qtbot.waitSignal(win.opened, timeout=60_000):
        assert win.open_video(clip)
    win.table.selectRow(win.rows[2])
    return win


def text_item(win: MainWindow):
    return win.panel.mode.model().item(TEXT_ROW)


def test_text_is_disabled_with_the_reason_when_its_model_is_missing(qtbot, clip, tmp_path):
    win = opened_window(qtbot, clip, tmp_path / "no-models")
    item = text_item(win)
    assert not item.isEnabled()
    assert "not installed" in item.toolTip() and str(tmp_path / "no-models") in item.toolTip()
    assert item.data(Qt.ItemDataRole.ToolTipRole) == item.toolTip()
    # choosing it anyway (a keyboard, a stale popup) changes nothing
    win.panel.mode.activated.emit(TEXT_ROW)
    assert win.line(2).emotion == proj.Emotion()
    assert win.undo_stack.count() == 0
    # other choices still work
    win.panel.mode.activated.emit(SLIDERS)
    assert win.line(2).emotion.mode is proj.EmotionMode.VECTOR


def test_text_is_offered_when_the_model_is_there(qtbot, clip, tmp_path):
    win = opened_window(qtbot, clip, with_text_model(tmp_path / "models"))
    assert text_item(win).isEnabled() and text_item(win).toolTip() == ""
    win.panel.mode.activated.emit(TEXT_ROW)
    assert win.line(2).emotion.mode is proj.EmotionMode.TEXT
    assert win.panel.text_notice.isHidden()


def test_changing_the_models_field_checks_again(qtbot, clip, tmp_path):
    models = with_text_model(tmp_path / "models")
    win = opened_window(qtbot, clip, tmp_path / "empty")
    assert not text_item(win).isEnabled()
    win.model_edit.setText(str(models))  # typed: checked once the typing pauses
    qtbot.waitUntil(lambda: text_item(win).isEnabled(), timeout=5000)
    win.model_edit.setText(str(tmp_path / "elsewhere"))
    qtbot.waitUntil(lambda: not text_item(win).isEnabled(), timeout=5000)


def test_a_line_already_set_to_text_shows_the_reason(qtbot, clip, tmp_path):
    models = with_text_model(tmp_path / "models")
    win = opened_window(qtbot, clip, models)
    win.set_emotion(2, TEXT)
    assert win.panel.text_notice.isHidden()
    shutil.rmtree(models)  # uninstalled
    win.check_models()
    panel = win.panel
    assert panel.mode.currentIndex() == TEXT_ROW  # the line keeps its setting
    assert not panel.text_notice.isHidden()
    assert "not installed" in panel.text_notice.text()
    assert panel.text_notice.text()[0].isupper()
    win.table.selectRow(win.rows[1])  # a line with another emotion: no notice
    assert panel.text_notice.isHidden()
