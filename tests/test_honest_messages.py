"""Messages that say what happened (issue 26, "Smaller"; item 20): a cancelled `analyze`
says what it saved, a refused connection in `models download` is not "interrupted", and the
VoxCPM2 bench measures IndexTTS2 beside it instead of quoting old figures."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
from pathlib import Path

import pytest

from app.cli import EXIT_CANCELLED, EXIT_FAILED, main
from core import project as proj
from core.job.pipeline import DubJob
from tests import mediagen

ROOT = Path(__file__).resolve().parents[1]


def _hinted_video(tmp_path: Path) -> Path:
    """Two lines whose speakers the subtitles name: analyze needs no model."""
    video = mediagen.make_test_video(
        tmp_path / "v.mp4", duration_s=12, lines=mediagen.DEFAULT_LINES[:2]
    )
    (tmp_path / "v.vtt").write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.400\n<v Ann>Where have you been all this time?\n\n"
        "00:00:05.000 --> 00:00:07.400\n<v Bob>I was waiting for the morning train.\n"
    )
    return video


def test_ctrl_c_in_analyze_says_what_was_saved(tmp_path, monkeypatch, capsys):
    video = _hinted_video(tmp_path)
    planned = DubJob._plan

    def ctrl_c_after_planning(self, tick):
        planned(self, tick)
        os.kill(os.getpid(), signal.SIGINT)  # the editor presses Ctrl-C
        self.runner.cancel.check()

    monkeypatch.setattr(DubJob, "_plan", ctrl_c_after_planning)
    code = main(["analyze", str(video), "--no-progress", "--work-dir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == EXIT_CANCELLED, err
    project_file = tmp_path / "v.dubsmith.json"
    saved = proj.load_project(project_file)  # written on cancel, as the message must say
    assert len(saved.lines) == 2 and saved.analysis["method"] == "hint"
    assert f"saved {project_file}" in err
    assert "2 lines" in err and "who speaks (hint)" in err and "no voice prompts" in err
    assert "as it was" not in err


def test_a_refused_connection_is_not_an_interrupted_download(tmp_path, capsys):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: connecting is refused at once
    code = main(
        ["models", "download", "campplus", "--model-dir", str(tmp_path / "m"),
         "--endpoint", f"http://127.0.0.1:{port}", "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_FAILED
    assert f"could not connect to http://127.0.0.1:{port}" in err
    assert "interrupted" not in err and "continue where it stopped" not in err
    assert not list((tmp_path / "m").rglob("*.part"))


def test_the_voxcpm2_bench_measures_indextts2_live(reference_dir):
    spec = importlib.util.spec_from_file_location("bench_voxcpm2", ROOT / "bench/voxcpm2.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    quoted = [
        name
        for name, value in vars(bench).items()
        if name.isupper() and isinstance(value, dict) and "INDEXTTS2" in name
    ]
    assert quoted == []  # no figures carried over from an earlier run
    seconds = bench.indextts2_live("tiny", [2.0], reference_dir, None)
    assert set(seconds) == {2.0} and seconds[2.0] > 0


@pytest.fixture(autouse=True)
def _sigint_restored():
    before = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, before)
