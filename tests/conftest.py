"""Shared fixtures. Everything is offline: media is generated, models are the tiny
official-format reference checkpoints in ../shared/reference."""

from __future__ import annotations

import faulthandler
import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# No HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE here: the product must stay off the hub by itself
# (local_files_only, models/hub_offline.py), and tests/test_honest_offline.py checks it does.
# The window's QSettings (model folder, recent files, export defaults) live under the user's
# config folder: tests get their own, so nothing from the machine leaks into a test and no
# test writes the editor's real settings.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="dubsmith-test-config-")

REPO = Path(__file__).resolve().parents[1]

try:
    import torch

    # One thread, as the reference fixtures were made; it also keeps tests fast when the
    # 2-core machine is busy (OpenMP barriers across contended cores cost ~15 ms per op).
    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a hard dependency
    pass


def _find_reference() -> Path | None:
    env = os.environ.get("DUBSMITH_REFERENCE")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "reference", REPO / "shared" / "reference"]
    for c in candidates:
        if (c / "README.md").exists() and (c / "checkpoints").is_dir():
            return c
    return None


REFERENCE = _find_reference()

# pytest-timeout (pyproject) raises in the test; a test stuck in C code holding the GIL would
# never see it, and CI would wait its whole limit. faulthandler's watchdog is a C thread: it
# prints every thread's stack to the real stderr and ends the run.
WATCHDOG_S = float(os.environ.get("DUBSMITH_TEST_WATCHDOG_S", "900"))
_watchdog_file = None


@pytest.hookimpl(tryfirst=True)  # before pytest-qt's own, which installs its capture
def pytest_configure(config) -> None:
    # pytest-qt's Qt message handler is Python: a Qt thread that warns (the multimedia
    # backend's "No audio device detected") then needs the GIL while the GUI thread holds it
    # inside a blocking QMediaPlayer call, a deadlock no timeout can break (it hung CI). As
    # --no-qt-log, set here so that a run without pytest-qt (test_honest_deps) still starts.
    if hasattr(config.option, "qt_log"):
        config.option.qt_log = False
    global _watchdog_file
    _watchdog_file = os.fdopen(os.dup(2), "w")  # before capture takes fd 2 for a test


@pytest.fixture(autouse=True)
def _own_qsettings(tmp_path, monkeypatch):
    """Every test its own QSettings: a window reads what an earlier test's left there
    (a "Render on: Ray cluster" once sent every later window's dubs to Ray). Qt reads
    XDG_CONFIG_HOME once, so once QtCore is loaded the path is set in Qt itself."""
    folder = tmp_path / "qsettings"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    _release_stuck_modifiers()
    qt = sys.modules.get("PySide6.QtCore")
    if qt is not None:
        for fmt in (qt.QSettings.Format.IniFormat, qt.QSettings.Format.NativeFormat):
            qt.QSettings.setPath(fmt, qt.QSettings.Scope.UserScope, str(folder))


def _release_stuck_modifiers() -> None:
    """A shortcut test can leave Shift held in Qt's own state (its release went to a widget
    that was gone); the next test's selectRow() then extends a selection instead of making
    one. Released here, as a window system would."""
    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is None or widgets.QApplication.instance() is None:
        return
    if (
        widgets.QApplication.keyboardModifiers()
        == widgets.QApplication.keyboardModifiers().NoModifier
    ):
        return
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    probe = widgets.QWidget()
    probe.show()
    for key in (Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta):
        QTest.keyRelease(probe, key)
    probe.close()
    probe.deleteLater()


@pytest.fixture(autouse=True)
def _watchdog():
    if _watchdog_file is not None:
        faulthandler.dump_traceback_later(WATCHDOG_S, exit=True, file=_watchdog_file)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if REFERENCE is None:
        pytest.fail(
            "reference fixtures not found: expected ../shared/reference or DUBSMITH_REFERENCE"
        )
    return REFERENCE


def _resolve_stub(path: Path) -> Path:
    """shared/ carries symbolic links as small text files holding the relative target."""
    if path.is_file() and path.stat().st_size < 512:
        try:
            text = path.read_text().strip()
        except UnicodeDecodeError:
            return path
        if text.startswith("..") and "\n" not in text:
            target = (path.parent / text).resolve()
            if target.exists():
                return target
    return path


def materialize_model_dir(src: Path, dst: Path) -> Path:
    """Rebuild src (a model dir whose links became stub files) in dst as real symlinks."""
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        if p.is_dir() and not p.is_symlink():
            (dst / rel).mkdir(parents=True, exist_ok=True)
            continue
        target = _resolve_stub(p)
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / rel).symlink_to(target.resolve())
    return dst


@pytest.fixture(scope="session")
def tiny_model_dir(reference_dir: Path, tmp_path_factory) -> Path:
    """The reference model_dir/ as a real model directory (holding indextts2/)."""
    dst = tmp_path_factory.mktemp("model_dir")
    return materialize_model_dir(reference_dir / "model_dir", dst)


@pytest.fixture(scope="session")
def media_cache(tmp_path_factory) -> Path:
    """One folder per session for generated media (tests.mediagen.cached)."""
    return tmp_path_factory.getbasetemp() / "mediagen"
