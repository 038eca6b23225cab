"""Issue 20 for the desk (desk2): one line identity (the cue number) in the table, the render
marking and the timeline's dub lane, across a dropped empty cue and a reopen; a newer
Dubsmith's project is refused without being overwritten; reading warnings are shown; the
desk's dubs take the run lock the CLI takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)
import soundfile as sf

from app.gui.lines_model import COL_STATUS
from app.gui.main_window import MainWindow
from core import project as proj
from core.desk import status as desk
from core.desk.opening import read_for_editing
from core.job.events import JobEvents
from core.job.options import DubOptions
from core.job.project_keeper import project_file_for
from core.job.queue import JobQueue, JobStatus
from tests import desk_fixtures, mediagen
from tests.tone_engine import ToneEngine

# The desk's own settings (autouse here) and private copy of this module's `source`, bound by
# name rather than imported: ruff reads a test's parameter of an imported fixture as a
# redefinition.
own_settings, clip = desk_fixtures.own_settings, desk_fixtures.clip

REPO = Path(__file__).resolve().parents[1]
SPOKEN = mediagen.DEFAULT_LINES[:4]
STARTS = (1.0, 4.0, 7.0, 9.5, 12.0)  # cue 3 (7.0 s) is empty: the reader drops it
HOLDER = """
import sys, time
from pathlib import Path
from core.job.run_lock import hold_run
with hold_run([Path(sys.argv[1])]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def srt_time(s: float) -> str:
    ms = round(s * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("guimoves")
    video = folder / "clip.mp4"
    lines = [(s, t, v) for s, (_, t, v) in zip((1.0, 4.0, 9.5, 12.0), SPOKEN, strict=True)]
    mediagen.make_test_video(video, duration_s=15, lines=lines)
    texts = [SPOKEN[0][1], SPOKEN[1][1], "", SPOKEN[2][1], SPOKEN[3][1]]
    blocks = [
        f"{n}\n{srt_time(s)} --> {srt_time(s + 2.0)}\n{t}\n"
        for n, (s, t) in enumerate(zip(STARTS, texts, strict=True), 1)
    ]
    (folder / "clip.srt").write_text("\n".join(blocks), encoding="utf-8")
    return video


@pytest.fixture
def said(monkeypatch) -> list[tuple[str, str]]:
    kept: list[tuple[str, str]] = []
    for kind in ("warning", "critical", "information"):
        monkeypatch.setattr(
            f"app.gui.window_open.QMessageBox.{kind}",
            lambda parent, title, text, *a, _k=kind, **k: kept.append((_k, text)),
        )
    return kept


def window(qtbot, engine: ToneEngine) -> MainWindow:
    win = MainWindow(engine_factory=lambda d, dev: engine)
    qtbot.addWidget(win)
    return win


def open_now(qtbot, win: MainWindow, video: Path) -> bool:
    with qtbot.waitSignal(win.opened, timeout=60_000) as blocker:
        assert win.open_video(video, None)
    return blocker.args[0]


def numbers(win: MainWindow) -> list[str]:
    return [win.cell(r, 0) for r in range(win.table_model.rowCount())]


def lane_is_each_lines_own(win: MainWindow) -> None:
    """Each row's dub waveform starts at its own line and is its own take's audio."""
    for index, row in win.rows.items():
        line = win.line(index)
        take = desk.usable_take(line)
        assert take is not None, index
        start, peaks = win.timeline.canvas.dub[row]
        audio, rate = sf.read(take.cache_path, dtype="float32")
        assert start == line.start_ms, index
        np.testing.assert_allclose(peaks, desk.peaks(audio, rate, 100), atol=1e-6)


def test_the_cue_number_is_the_line_everywhere_across_a_dropped_cue_and_reopen(
    qtbot, clip, tmp_path
):
    engine = ToneEngine()
    win = window(qtbot, engine)
    assert open_now(qtbot, win, clip)
    assert numbers(win) == ["1", "2", "4", "5"]
    assert sorted(win.rows) == [1, 2, 4, 5]
    win.output_edit.setText(str(tmp_path / "out.mp4"))
    # The start marks the lines "rendering" by their numbers (was KeyError: 4, which
    # pytest-qt reports as an exception in a Qt slot).
    win.start_dub()
    qtbot.waitUntil(lambda: win.running_job is None, timeout=120_000)
    assert (tmp_path / "out.mp4").is_file()
    assert [win.cell(r, COL_STATUS) for r in range(4)] == ["rendered"] * 4
    assert [r.text for r in engine.requests] == [t for _, t, _ in SPOKEN]
    lane_is_each_lines_own(win)
    assert win.line(4).text == SPOKEN[2][1] and win.line(5).text == SPOKEN[3][1]
    win.close()

    again = window(qtbot, engine)
    assert open_now(qtbot, again, clip)
    assert numbers(again) == ["1", "2", "4", "5"]
    assert [again.cell(r, COL_STATUS) for r in range(4)] == ["rendered"] * 4
    lane_is_each_lines_own(again)


def test_a_newer_dubsmiths_project_is_refused_and_left_as_it_is(qtbot, clip, said):
    path = project_file_for(clip)
    path.write_text(json.dumps({"format": proj.FORMAT_NAME, "schema": 999}), encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(proj.NewerProjectError):
        read_for_editing(clip, None)
    win = window(qtbot, ToneEngine())
    assert not open_now(qtbot, win, clip)
    assert said and "newer Dubsmith" in said[-1][1]
    assert win.project is None
    win.close()
    assert path.read_bytes() == before


def test_what_reading_the_project_dropped_is_shown_in_the_window(qtbot, clip):
    engine = ToneEngine()
    win = window(qtbot, engine)
    assert open_now(qtbot, win, clip)
    win.close()  # saves the project
    path = project_file_for(clip)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["lines"][0]["duration_mode"] = "sideways"
    path.write_text(json.dumps(data), encoding="utf-8")
    notices = proj.load_project(path).load_notices
    assert notices
    again = window(qtbot, engine)
    assert open_now(qtbot, again, clip)
    shown = again.warnings_label.text() + again.warnings_label.toolTip()
    assert str(notices[0]) in shown


def test_a_desk_job_on_a_video_another_run_holds_fails_naming_the_holder(clip, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(proj.project_path_for(clip)), "60"],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        queue = JobQueue()
        engine = ToneEngine()
        job = queue.add(clip, DubOptions(output=tmp_path / "held.mp4"))
        done = threading.Event()
        threading.Thread(
            target=lambda: (queue.run(job, JobEvents(), lambda d, dev: engine), done.set()),
            daemon=True,
        ).start()
        assert done.wait(60)
    finally:
        holder.kill()
        holder.wait()
    assert job.status is JobStatus.FAILED
    assert f"pid {holder.pid}" in (job.error or "")
    assert not engine.requests and not (tmp_path / "held.mp4").exists()
