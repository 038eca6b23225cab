"""ffmpeg's own progress (``-progress pipe:1``) as the extraction's and the export's ticks."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.media import ffmpeg_progress
from core.media.ffmpeg_progress import ProgressReader, film_ticks, parse_progress, run_with_progress
from core.media.work_copies import WorkFile, exact_length, mono_copy_filter, write_work_files
from tests import mediagen

# Captured from ffmpeg 5.1 muxing a 20 s clip (-c:v copy, AAC): two blocks of four.
MUX = """frame=3
fps=0.00
stream_0_0_q=-1.0
bitrate=4923.1kbits/s
total_size=48
out_time_us=78
out_time_ms=78
out_time=00:00:00.000078
dup_frames=0
drop_frames=0
speed=1.07x
progress=continue
frame=500
fps=378.70
stream_0_0_q=-1.0
bitrate= 192.1kbits/s
total_size=480511
out_time_us=20010667
out_time_ms=20010667
out_time=00:00:20.010667
dup_frames=0
drop_frames=0
speed=15.2x
progress=end
"""
# Before the first packet ffmpeg knows no time; an old ffmpeg has out_time_ms only.
EARLY = """bitrate=N/A
total_size=0
out_time_us=N/A
out_time_ms=N/A
out_time=-577014:32:22.775808
speed=N/A
progress=continue
out_time_ms=2730667
progress=continue
out_time=01:02:03.500000
progress=continue
"""


def test_blocks_are_read_at_their_progress_line():
    blocks = parse_progress(MUX)
    assert [b.out_time_s for b in blocks] == [pytest.approx(78e-6), pytest.approx(20.010667)]
    assert [b.speed for b in blocks] == [pytest.approx(1.07), pytest.approx(15.2)]
    assert [b.ended for b in blocks] == [False, True]


def test_unknown_times_are_none_and_older_keys_still_read():
    blocks = parse_progress(EARLY)
    assert blocks[0].out_time_s is None and blocks[0].speed is None
    assert blocks[1].out_time_s == pytest.approx(2.730667)
    assert blocks[2].out_time_s == pytest.approx(3723.5)


def test_a_line_split_across_reads_waits_for_its_block():
    reader = ProgressReader()
    assert reader.feed("out_time_us=5000000\n") is None
    assert reader.feed("garbage without equals\n") is None
    block = reader.feed("progress=continue\n")
    assert block is not None and block.out_time_s == 5.0
    assert reader.feed("progress=continue\n").out_time_s is None  # a block's fields reset


def test_ticks_are_seconds_of_film_held_inside_the_duration():
    assert film_ticks(3600.4, 7200.0) == (3600, 7200)
    assert film_ticks(20.010667, 20.0) == (20, 20)  # AAC padding past the end
    assert film_ticks(-1.0, 20.0) == (0, 20)
    assert film_ticks(0.0, 0.0) == (0, 1)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    video = tmp_path_factory.mktemp("clip") / "clip.mp4"
    mediagen.make_test_video(video, duration_s=12)
    return video


def test_a_real_run_reports_rising_ticks_up_to_the_duration(clip, tmp_path):
    ticks: list[tuple[int, int]] = []
    out = tmp_path / "a.wav"
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(clip)]
    args += ["-map", "0:a:0", "-c:a", "pcm_f32le", "-f", "wav", str(out)]
    proc = run_with_progress(args, 12.0, lambda d, t: ticks.append((d, t)))
    assert proc.returncode == 0, proc.stderr
    assert ticks and {t for _, t in ticks} == {12}
    done = [d for d, _ in ticks]
    assert done == sorted(done) and done[-1] >= 11
    assert sf.info(str(out)).duration == pytest.approx(12.0, abs=0.1)


def test_a_failure_keeps_stderr_and_a_listeners_exception_kills_ffmpeg(clip, tmp_path, monkeypatch):
    proc = run_with_progress(["ffmpeg", "-nostdin", "-i", str(tmp_path / "none.mp4")], 1.0, None)
    assert proc.returncode != 0 and b"none.mp4" in proc.stderr

    started: list[subprocess.Popen] = []

    class Recorded(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(ffmpeg_progress.subprocess, "Popen", Recorded)

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt  # what Ctrl-C raises in the thread that waits

    args = ["ffmpeg", "-nostdin", "-re", "-i", str(clip), "-f", "null", "-"]  # -re: slow
    with pytest.raises(KeyboardInterrupt):
        run_with_progress(args, 12.0, stop)
    assert len(started) == 1 and started[0].poll() is not None  # no ffmpeg left running


def test_work_files_follow_ffmpegs_progress_and_are_whole(clip, tmp_path):
    n = 12 * 48000
    mono = 12 * 16000
    graph = (
        f"[0:a:0]aresample=48000,aformat=sample_fmts=flt,{exact_length(n)},asplit=2[m][w];"
        f"[w]{mono_copy_filter(2, 'stereo', 16000, mono)}[c]"
    )
    files = [
        WorkFile(tmp_path / "m.wav", "[m]", n, 2),
        WorkFile(tmp_path / "c.wav", "[c]", mono, 1),
    ]
    ticks: list[tuple[int, int]] = []
    write_work_files(clip, graph, files, 12.0, lambda d, t: ticks.append((d, t)))
    assert ticks and ticks[-1][1] == 12 and ticks[-1][0] >= 11
    assert [sf.info(str(f.path)).frames for f in files] == [n, mono]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.wav", "m.wav"]  # no temp left


def test_the_export_follows_ffmpegs_progress(clip, tmp_path):
    from core.deliver.mux import export_video

    dub = tmp_path / "dub.wav"
    sf.write(str(dub), np.zeros((12 * 48000, 2), np.float32), 48000, subtype="FLOAT")
    ticks: list[tuple[int, int]] = []
    export_video(clip, dub, tmp_path / "o.mp4", progress=lambda d, t: ticks.append((d, t)))
    assert ticks and {t for _, t in ticks} == {12}
    assert ticks[-1][0] >= 11


def test_the_extract_stage_ticks(clip, tmp_path):
    from core.job.extract import extract

    ticks: list[tuple[int, int]] = []
    extract(clip, tmp_path / "w", lambda notice: None, lambda d, t: ticks.append((d, t)))
    assert ticks and ticks[-1][0] >= 11 and ticks[-1][1] == 12


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_cli_bar_shows_the_share_and_the_time_left(monkeypatch):
    from app.cli.terminal import Bars

    screen = _Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    bars = Bars(True)
    bars("extract", 0, 1)
    bars("extract", 3600, 7200)
    bars.close()
    last = screen.getvalue().split("\r")[-1]
    assert "extract" in last and "50%" in last
    left = last.rsplit("<", 1)[1]
    assert left[:2].isdigit(), last  # a time left, not tqdm's "?" for unknown
