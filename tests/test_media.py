"""core.media.probe on generated videos: probe, drift-free extraction, cache, clear errors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from core.audio.original_audio import extract_audio
from core.audio.samples import read_wav
from core.media.ffmpeg_tool import MediaError, check_ffmpeg
from core.media.probe import probe
from tests import mediagen

LINE_START_S = 1.0
OFFSET_S = 0.5


@pytest.fixture(scope="session")
def talk_video(media_cache) -> Path:
    return mediagen.cached(media_cache, mediagen.make_test_video, "talk.mp4", duration_s=24)


@pytest.fixture(scope="session")
def late_audio_mkv(media_cache) -> Path:
    """Audio stream that starts 0.5 s after the picture and ends past it."""
    lines = [(LINE_START_S, "Hello there, this is a test.", "en-us")]
    return mediagen.cached(
        media_cache,
        mediagen.make_test_video,
        "late.mkv",
        duration_s=6,
        lines=lines,
        audio_offset_s=OFFSET_S,
    )


def _locate(audio: np.ndarray, rate: int, text: str, voice: str) -> float:
    """Seconds at which espeak's rendering of ``text`` sits in ``audio`` (the peak of
    their cross-correlation, computed with FFTs)."""
    ref = soxr.resample(mediagen.speak(text, voice), mediagen.RATE, rate)
    mono = (audio if audio.ndim == 1 else audio.mean(axis=1)).astype(np.float64)
    n = len(mono) + len(ref)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(mono, size) * np.conj(np.fft.rfft(ref, size)), size)
    return float(np.argmax(corr[: len(mono)]) / rate)


def test_probe_fields(talk_video):
    info = probe(talk_video)
    assert info.duration_s == pytest.approx(24.0, abs=0.05)
    v = info.video
    assert v is not None and v.codec in ("h264", "mpeg4")
    assert (v.width, v.height) == (320, 240)
    assert v.fps == pytest.approx(25.0) and v.fps_fraction == "25/1"
    assert v.avg_fps == pytest.approx(25.0)
    assert info.fps_fraction == "25/1"
    assert info.frame_count == round(info.duration_s * 25)
    assert probe(talk_video, count_frames=True).frame_count == info.frame_count
    (a,) = info.audio_streams
    assert (a.codec, a.sample_rate, a.channels, a.channel_layout) == ("aac", 48000, 2, "stereo")
    assert a.language == "eng"
    assert info.subtitle_streams == []
    assert info.audio_stream() is a


def test_probe_subtitle_stream_and_language(media_cache, talk_video, tmp_path):
    srt = mediagen.write_srt(tmp_path / "s.srt", mediagen.DEFAULT_LINES, 24)
    out = tmp_path / "with_subs.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(talk_video), "-i", str(srt), "-map", "0", "-map", "1",
         "-c", "copy", "-c:s", "srt", "-metadata:s:s:0", "language=fra", str(out)],
        check=True,
    )  # fmt: skip
    info = probe(out)
    (s,) = info.subtitle_streams
    assert s.codec == "subrip" and s.language == "fra" and s.index == 2
    # Matroska has no frame count in its header; counting packets gives the exact one.
    assert probe(out, count_frames=True).frame_count == 600


def test_extract_lengths_rates_and_cache(talk_video, tmp_path):
    info = probe(talk_video)
    ex = extract_audio(talk_video, tmp_path)
    assert ex is not None
    master, rate = read_wav(ex.master_path)
    assert rate == 48000 and master.shape == (round(info.duration_s * 48000), 2)
    assert ex.num_samples == master.shape[0]
    assert sf.info(str(ex.master_path)).subtype == "FLOAT"
    for path, want_rate in ((ex.mono16k_path, 16000), (ex.mono22k_path, 22050)):
        work, r = read_wav(path)
        assert r == want_rate and work.ndim == 1
        assert len(work) == round(info.duration_s * want_rate)
    # The first line is where mediagen put it, within 1 ms, in all three files.
    start, text, voice = mediagen.DEFAULT_LINES[0]
    for path in (ex.master_path, ex.mono16k_path, ex.mono22k_path):
        audio, r = read_wav(path)
        assert _locate(audio[: int(4 * r)], r, text, voice) == pytest.approx(start, abs=0.001)

    stamp = ex.master_path.stat().st_mtime_ns
    again = extract_audio(talk_video, tmp_path)
    assert again == ex and ex.master_path.stat().st_mtime_ns == stamp  # reused, not rewritten


def test_cache_invalidated_when_source_changes(media_cache, tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(
        mediagen.cached(
            media_cache, mediagen.make_test_video, "short.mp4", duration_s=3, lines=()
        ).read_bytes()
    )
    first = extract_audio(video, tmp_path / "work")
    stamp = first.master_path.stat().st_mtime_ns
    st = video.stat()
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    second = extract_audio(video, tmp_path / "work")
    assert second.master_path.stat().st_mtime_ns != stamp


def test_late_audio_does_not_drift(late_audio_mkv, tmp_path):
    info = probe(late_audio_mkv)
    ex = extract_audio(late_audio_mkv, tmp_path)
    master = ex.load_master()
    assert master.shape[0] == round(info.duration_s * 48000)
    # The gap before the audio's first timestamp is filled, not collapsed: speech
    # stays at line start + offset on the picture's clock.
    located = _locate(master, 48000, "Hello there, this is a test.", "en-us")
    assert located == pytest.approx(LINE_START_S + OFFSET_S, abs=0.001)
    assert np.abs(master[: int(0.45 * 48000)]).max() < 0.01  # padded with silence


def test_video_without_audio_returns_none(media_cache, tmp_path):
    silent = mediagen.cached(media_cache, mediagen.make_silent_video, "silent.mp4", duration_s=3)
    info = probe(silent)
    assert info.has_audio is False and info.video is not None
    assert extract_audio(silent, tmp_path) is None


@pytest.mark.parametrize("kind", ["truncated", "garbage", "text"])
def test_broken_files_raise_media_error_naming_file(kind, tmp_path):
    bad = mediagen.make_corrupt_file(tmp_path / f"broken_{kind}.mp4", kind)
    with pytest.raises(MediaError) as err:
        probe(bad)
    assert str(bad) in str(err.value)
    with pytest.raises(MediaError, match=f"broken_{kind}"):
        extract_audio(bad, tmp_path / "w")
    if kind == "truncated":  # ffmpeg's own reason is quoted
        assert "moov atom not found" in str(err.value)


def test_missing_file_and_no_video(tmp_path):
    missing = tmp_path / "nowhere.mp4"
    with pytest.raises(MediaError, match="nowhere.mp4"):
        extract_audio(missing, tmp_path)
    wav = tmp_path / "only_audio.wav"
    sf.write(str(wav), np.zeros(4800, dtype=np.float32), 48000)
    assert probe(wav).video is None
    with pytest.raises(MediaError, match="only_audio.wav.*no video"):
        extract_audio(wav, tmp_path / "w")


def test_missing_ffmpeg_gives_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MediaError, match="(?i)install"):
        check_ffmpeg()


# --------------------------------------------------------------------------- odd names


@pytest.fixture(scope="session")
def short_video(media_cache) -> Path:
    return mediagen.cached(
        media_cache,
        mediagen.make_test_video,
        "odd_names_src.mp4",
        duration_s=3,
        lines=[(0.5, "Hello there.", "en-us")],
    )


@pytest.mark.parametrize("name", ["-lead.mp4", "ep1:pilot.mp4"])
def test_probe_and_extract_odd_names(short_video, tmp_path, monkeypatch, name):
    """A leading '-' is not an option and a ':' is not a protocol, even as a bare
    relative name (the way the command line hands it over)."""
    (tmp_path / name).write_bytes(short_video.read_bytes())
    monkeypatch.chdir(tmp_path)
    info = probe(Path(name))
    assert info.path == Path(name) and info.video is not None
    assert info.duration_s == pytest.approx(probe(short_video).duration_s)
    assert probe(Path(name), count_frames=True).frame_count == info.frame_count
    ex = extract_audio(Path(name), Path("work"))
    assert ex.source == (tmp_path / name).resolve()
    assert ex.num_samples == round(info.duration_s * 48000)
    reference = extract_audio(short_video, tmp_path / "ref_work").load_master()
    np.testing.assert_array_equal(ex.load_master(), reference)


def test_errors_name_files_as_given_without_file_prefix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mediagen.make_corrupt_file(tmp_path / "-bad:clip.mp4", "truncated")
    with pytest.raises(MediaError) as err:
        probe(Path("-bad:clip.mp4"))
    msg = str(err.value)
    assert "'-bad:clip.mp4'" in msg and "moov atom not found" in msg
    assert "file:" not in msg and str(tmp_path) not in msg


def _playlist(path: Path, entry: str) -> Path:
    path.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
        f"#EXTINF:3.0,\n{entry}\n#EXT-X-ENDLIST\n"
    )
    return path


def test_playlist_of_local_files_is_refused(short_video, tmp_path):
    segment = tmp_path / "seg.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(short_video), "-c", "copy", "-f", "mpegts",
         str(segment)],
        check=True,
    )  # fmt: skip
    video = _playlist(tmp_path / "movie.mp4", "seg.ts")
    with pytest.raises(MediaError, match="movie.mp4.*playlist"):
        probe(video)
