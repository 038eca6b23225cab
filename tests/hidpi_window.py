"""The desk at a High-DPI scale, for tests/test_gui_desk.py: run in its own process because
the scale (QT_SCALE_FACTOR) must be set before the QApplication exists.

    QT_SCALE_FACTOR=2 python -m tests.hidpi_window VIDEO SCREENSHOT.png

Opens VIDEO in a 1024 px wide window, dubs it with the tone test double (so the timeline
has both waveforms), saves a screenshot and prints what the test checks as one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

WIDTH, HEIGHT = 1024, 720  # logical px: a small laptop screen


def wait(app, done, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while not done() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    return done()


def main(video: Path, screenshot: Path) -> dict:
    from PySide6.QtWidgets import QApplication

    from app.gui.lines_model import COL_TEXT
    from app.gui.main_window import MainWindow
    from tests.tone_engine import ToneEngine

    app = QApplication([])
    engine = ToneEngine()
    win = MainWindow(engine_factory=lambda d, dev: engine)
    win.resize(WIDTH, HEIGHT)
    win.show()
    opened: list[bool] = []
    win.opened.connect(opened.append)
    assert win.open_video(video)
    assert wait(app, lambda: opened, 60) and opened[0], "the video did not open"
    win.output_edit.setText(str(video.with_name("hidpi.dubbed.mp4")))
    win.start_dub()
    assert wait(app, lambda: win.running_job is None, 120), "the dub did not end"
    if win.result_box is not None:
        win.result_box.close()
    win._select_row(0)
    wait(app, lambda: False, 0.3)  # layout and repaint settle
    canvas = win.timeline.canvas
    waves = canvas.waves_pixmap()
    shot = win.grab()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    assert shot.save(str(screenshot))
    result = {
        "window_dpr": win.devicePixelRatioF(),
        "window_px": [win.width(), win.height()],
        "shot_px": [shot.width(), shot.height()],
        "shot_dpr": shot.devicePixelRatio(),
        "canvas_px": [canvas.width(), canvas.height()],
        "waves_px": [waves.width(), waves.height()],
        "waves_dpr": waves.devicePixelRatio(),
        "dub_lanes": len(canvas.dub),
        "text_column_px": win.table.columnWidth(COL_TEXT),
        "table_px": win.table.viewport().width(),
        "table_rows_shown": win.table.viewport().height() // max(1, win.table.rowHeight(0)),
    }
    win.close()
    return result


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
