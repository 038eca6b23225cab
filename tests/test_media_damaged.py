"""core.media.probe.check_integrity: files cut short are refused before any rendering."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from core.media.probe import MediaError, check_integrity, probe
from tests import mediagen

DURATION_S = 24


@pytest.fixture(scope="session")
def talk_video(media_cache) -> Path:
    """The index (moov) at the end, as ffmpeg writes MP4 by default."""
    return mediagen.cached(media_cache, mediagen.make_test_video, "talk.mp4", duration_s=24)


@pytest.fixture(scope="session")
def faststart_video(talk_video, tmp_path_factory) -> Path:
    """The same file with its index at the front: a cut copy still declares 24 s."""
    out = tmp_path_factory.mktemp("faststart") / "talk_faststart.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(talk_video), "-c", "copy",
         "-movflags", "+faststart", str(out)],
        check=True,
    )  # fmt: skip
    return out


def _cut(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def _stop_figure(message: str, what: str) -> tuple[float, float]:
    m = re.search(rf"{what} stops? at ([\d.]+) s of ([\d.]+) s", message)
    assert m, message
    return float(m.group(1)), float(m.group(2))


def test_faststart_mp4_cut_in_half_is_refused_with_figures(faststart_video, tmp_path):
    cut = _cut(faststart_video, tmp_path / "episode_cut.mp4", 0.5)
    info = probe(cut)
    assert info.duration_s == pytest.approx(DURATION_S, abs=0.05)  # still declared in full
    with pytest.raises(MediaError) as err:
        check_integrity(info)
    msg = str(err.value)
    assert str(cut) in msg
    assert "damaged or incomplete" in msg and "re-download or re-export" in msg
    stop, total = _stop_figure(msg, "picture and sound")  # interleaved: both stop together
    assert total == pytest.approx(24.0)
    assert 9.0 < stop < 15.0  # half the bytes, about half the time


def test_cut_inside_the_last_seconds_is_found_too(faststart_video, tmp_path):
    cut = _cut(faststart_video, tmp_path / "nearly.mp4", 0.85)
    with pytest.raises(MediaError, match="nearly.mp4") as err:
        check_integrity(probe(cut))
    stop, _ = _stop_figure(str(err.value), "picture and sound")
    assert 17.0 < stop < 22.5


def test_matroska_cut_in_half_is_refused(talk_video, tmp_path):
    mkv = tmp_path / "talk.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(talk_video), "-c", "copy", str(mkv)], check=True
    )
    cut = _cut(mkv, tmp_path / "talk_cut.mkv", 0.5)
    with pytest.raises(MediaError, match="talk_cut.mkv.*damaged or incomplete"):
        check_integrity(probe(cut))


def test_intact_files_pass(faststart_video, talk_video, media_cache):
    silent = mediagen.cached(media_cache, mediagen.make_silent_video, "silent.mp4", duration_s=3)
    for video in (faststart_video, talk_video, silent):  # faststart, moov at the end, no audio
        check_integrity(probe(video))


def test_declared_short_audio_and_late_audio_pass(tmp_path, media_cache):
    # Audio that starts late and ends past the picture is no damage either.
    late = mediagen.cached(
        media_cache, mediagen.make_test_video, "late.mkv", duration_s=6, audio_offset_s=0.5,
        lines=[(1.0, "Hello there, this is a test.", "en-us")],
    )  # fmt: skip
    check_integrity(probe(late))
    # A sound track that is simply shorter than the picture says so in its header.
    short = tmp_path / "short_music.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=8",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=3", *mediagen.video_encoder(),
         "-c:a", "aac", str(short)],
        check=True,
    )  # fmt: skip
    info = probe(short)
    assert info.audio_streams[0].duration_s < 4 < info.duration_s
    check_integrity(info)
