"""The Qt binding must not leak references to None.

PySide6 6.12.0 on Python 3.11 dropped one reference to None on every setter call (setText,
setValue, setEnabled, setItem, ...): after ~60,000 calls the interpreter aborted with
"Fatal Python error: none_dealloc". pyproject.toml pins 6.11.3; these tests fail on a
binding with that leak (or one like it) long before it could crash the test run.
"""

from __future__ import annotations

import gc
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QComboBox,
    QLabel,
    QLineEdit,
    QProgressBar,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.gui import COL_EMOTION, MainWindow  # noqa: E402
from app.gui.line_panel import MODES  # noqa: E402
from core import project as proj  # noqa: E402
from models.contract import EMOTION_NAMES  # noqa: E402
from tests import mediagen  # noqa: E402

# From 3.12 None is immortal: its count no longer moves, and it cannot be freed.
pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="None is immortal from Python 3.12"
)

CALLS = 5000
LIMIT = 100  # |drift| per CALLS calls: noise is a few; a leak of one per call is CALLS


def none_drift(call: Callable[[int], object], calls: int = CALLS) -> int:
    """How many references to None `calls` calls of `call(i)` left behind (or took)."""
    gc.collect()
    before = sys.getrefcount(None)
    for i in range(calls):
        call(i)
    gc.collect()
    return sys.getrefcount(None) - before


def test_the_check_sees_a_leak_of_one_per_call():
    kept: list[None] = []
    assert abs(none_drift(lambda i: kept.append(None))) >= LIMIT  # would fail the tests below
    kept.clear()
    assert abs(none_drift(lambda i: None)) < LIMIT


def _setters(qtbot) -> dict[str, Callable[[int], object]]:
    label, slider, widget = QLabel(), QSlider(Qt.Orientation.Horizontal), QWidget()
    table, line, combo, bar = QTableWidget(4, 4), QLineEdit(), QComboBox(), QProgressBar()
    for w in (label, slider, widget, table, line, combo, bar):
        qtbot.addWidget(w)
    slider.setRange(0, 100)
    combo.addItems(["a", "b", "c"])
    return {
        "QLabel.setText": lambda i: label.setText(f"{i}"),
        "QSlider.setValue": lambda i: slider.setValue(i % 101),
        "QWidget.setEnabled": lambda i: widget.setEnabled(i % 2 == 0),
        "QTableWidget.setItem": lambda i: table.setItem(i % 4, i % 3, QTableWidgetItem(f"{i}")),
        "QLineEdit.setText": lambda i: line.setText(f"{i}"),
        "QComboBox.setCurrentIndex": lambda i: combo.setCurrentIndex(i % 3),
        "QProgressBar.setValue": lambda i: bar.setValue(i % 101),
        "QWidget.setToolTip": lambda i: widget.setToolTip(f"{i}"),
    }


SETTERS = (
    "QLabel.setText",
    "QSlider.setValue",
    "QWidget.setEnabled",
    "QTableWidget.setItem",
    "QLineEdit.setText",
    "QComboBox.setCurrentIndex",
    "QProgressBar.setValue",
    "QWidget.setToolTip",
)


@pytest.mark.parametrize("setter", SETTERS)
def test_a_setter_does_not_leak_none(qtbot, setter):
    call = _setters(qtbot)[setter]
    call(0)  # first-call caches (method lookup, enum wrappers) are not a leak
    drift = none_drift(call)
    assert abs(drift) < LIMIT, f"{setter}: None's refcount moved {drift} in {CALLS} calls"


# --- a soak through the real window ---------------------------------------------------------

UPDATES = 100_000  # slider moves, each one edit through panel, undo stack and table
CHUNK = 500  # moves between refcount checks: a leak fails here long before it could abort
SLIDERS = [m for _, m in MODES].index(proj.EmotionMode.VECTOR)


@pytest.fixture
def many_lines(tmp_path_factory, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path_factory.getbasetemp() / "soakmovie"
    if not (folder / "clip.mp4").exists():
        folder.mkdir(exist_ok=True)
        mediagen.make_silent_video(folder / "clip.mp4", duration_s=12, fps=5, size="64x64")
    video = tmp_path / "clip.mp4"
    shutil.copy(folder / "clip.mp4", video)
    lines = [(0.5 + 0.5 * k, f"Line {k + 1}.", "en-us") for k in range(20)]
    mediagen.write_srt(tmp_path / "clip.srt", lines, duration_s=12, default_len_s=0.4)
    return video


def test_a_long_editing_session_neither_leaks_nor_crashes(qtbot, many_lines):
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.opened, timeout=60_000):
        assert win.open_video(many_lines)
    rows = win.table_model.rowCount()
    assert rows == 20
    panel = win.panel
    start = time.perf_counter()
    gc.collect()
    baseline = sys.getrefcount(None)
    done = 0
    while done < UPDATES:
        for _ in range(CHUNK // 100):
            row = (done // 100) % rows
            win.table.selectRow(row)  # selection change: the panel shows the line
            panel.mode.setCurrentIndex(SLIDERS)
            panel.mode.activated.emit(SLIDERS)
            slider = panel.sliders[EMOTION_NAMES[row % len(EMOTION_NAMES)]]
            slider.setSliderDown(True)
            for k in range(100):  # one drag, there and back: 100 edits, one undo step
                slider.setValue(k if k < 50 else 100 - k)
                done += 1
            slider.setSliderDown(False)
        # The undo history rightly keeps every drag's emotions (which hold references to
        # None): let it go, so that what is left to count is a leak.
        win.undo_stack.clear()
        # Lost references are what aborts the interpreter: check often, and cheaply (a
        # gc.collect per chunk would cost more than the edits; garbage only adds).
        drift = sys.getrefcount(None) - baseline
        assert drift > -10 * LIMIT, f"None lost {-drift} references in {done} edits"
    elapsed = time.perf_counter() - start
    gc.collect()
    drift = sys.getrefcount(None) - baseline
    assert abs(drift) < 10 * LIMIT, f"None's refcount moved {drift} in {done} edits"
    # the last drag ended on 1: the window, the line and the table agree
    last = (done // 100 - 1) % rows
    name = EMOTION_NAMES[last % len(EMOTION_NAMES)]
    line = win.line(win.row_cues[last])
    assert line.emotion.vector[EMOTION_NAMES.index(name)] == pytest.approx(0.01)
    assert f"{name} 0.01" in win.cell(last, COL_EMOTION)
    print(f"{done} edits through the window in {elapsed:.1f} s")
