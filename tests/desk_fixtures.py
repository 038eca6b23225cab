"""The desk GUI tests' shared fixtures, imported into each test module that drives the window:

    from tests.desk_fixtures import clip, no_dialogs, own_settings, source  # noqa: F401

A fixture imported into a test module is that module's own (own_settings stays autouse
there, source is generated once per module). `clip` asks for `source` by name, so a module
with a clip of its own making defines `source` and still imports `clip`."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from tests import mediagen

LINES = mediagen.DEFAULT_LINES[:3]  # 1.0, 5.0 and 10.0 s


@pytest.fixture(autouse=True)
def own_settings(tmp_path, monkeypatch):
    """The window's QSettings and model folder are this test's: nothing from the machine
    (a whisper model there would flag every tone) and nothing left behind."""
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "cfg"))
    (tmp_path / "models").mkdir()
    monkeypatch.setenv("DUBSMITH_MODEL_DIR", str(tmp_path / "models"))


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A 13 s clip speaking LINES, with its subtitles beside it."""
    folder = tmp_path_factory.mktemp("desk")
    video = folder / "clip.mp4"
    mediagen.make_test_video(video, duration_s=13, lines=LINES, srt_path=folder / "clip.srt")
    return video


@pytest.fixture
def clip(source, tmp_path, monkeypatch) -> Path:
    """A private copy per test (its own project file, take cache and queue file)."""
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DUBSMITH_QUEUE_FILE", str(tmp_path / "queue.json"))
    return mediagen.private_copy(source, tmp_path)


@pytest.fixture
def no_dialogs(monkeypatch) -> list[tuple[str, str]]:
    """Message boxes answer at once (a modal one would hang the test; a question is answered
    Yes); what they said is kept, as (kind, text)."""
    said: list[tuple[str, str]] = []

    def keep(kind, answer=None):
        def box(parent, title, text, *a, **k):
            said.append((kind, text))
            return answer

        return box

    for kind in ("warning", "critical"):
        monkeypatch.setattr(QMessageBox, kind, keep(kind))
    monkeypatch.setattr(QMessageBox, "question", keep("question", QMessageBox.StandardButton.Yes))
    return said
