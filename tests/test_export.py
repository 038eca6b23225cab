"""core.deliver.mux: the picture survives bit for bit; tracks, order, flags; safe writing."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from core.audio.mixdown import Clip, mixdown, write_mix
from core.deliver.mux import ExportError, ExportOptions, export_video
from core.media.probe import probe
from tests import mediagen

DURATION = 8.0
TONE_START_MS = 2000.0


@pytest.fixture(scope="session")
def source(media_cache) -> Path:
    lines = [(1.0, "One small line.", "en-us"), (4.0, "And another one.", "en-gb+f3")]
    return mediagen.cached(
        media_cache, mediagen.make_test_video, "export_src.mp4", duration_s=DURATION, lines=lines
    )


@pytest.fixture(scope="session")
def dub_wav(tmp_path_factory) -> Path:
    t = np.arange(round(1.5 * 22050)) / 22050
    clip = Clip(TONE_START_MS, (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    res = mixdown([clip], DURATION, original=None)
    return write_mix(res, tmp_path_factory.mktemp("dub") / "mix.wav")


@pytest.fixture()
def srt(tmp_path) -> Path:
    return mediagen.write_srt(
        tmp_path / "subs.srt", [(1.0, "Une ligne.", ""), (4.0, "Une autre.", "")], DURATION
    )


def packet_md5s(path: Path, spec: str, seconds: float | None = None) -> list[str]:
    """framemd5 of the stream's packets, copied without decoding (checksums of the
    bytes as stored), timestamps included."""
    args = ["ffmpeg", "-v", "error", "-i", str(path), "-map", f"0:{spec}", "-c", "copy"]
    if seconds:
        args += ["-t", str(seconds)]
    out = subprocess.run(args + ["-f", "framemd5", "-"], capture_output=True, text=True, check=True)
    return [ln for ln in out.stdout.splitlines() if ln and not ln.startswith("#")]


def decode_track(path: Path, spec: str) -> np.ndarray:
    out = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            f"0:{spec}",
            "-f",
            "f32le",
            "-ac",
            "1",
            "-",
        ],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(out.stdout, np.float32)


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


Streams = namedtuple("Streams", "video audio subs")


def split(info) -> Streams:
    return Streams(info.video, info.audio_streams, info.subtitle_streams)


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_video_stream_copied_untouched_and_dub_first(source, dub_wav, tmp_path, ext):
    out = export_video(
        source, dub_wav, tmp_path / f"dubbed.{ext}", ExportOptions(dub_language="fra")
    )
    src, dst = probe(source, count_frames=True), probe(out, count_frames=True)
    assert dst.video.codec == src.video.codec
    assert dst.video.frame_count == src.video.frame_count == round(DURATION * 25)
    assert (dst.video.width, dst.video.height) == (src.video.width, src.video.height)
    assert dst.video.fps_fraction == src.video.fps_fraction
    # Every packet of the first seconds is byte-identical (framemd5 of copied packets:
    # timestamps differ between containers' time bases, so compare size + checksum).
    a = [ln.split(",")[-2:] for ln in packet_md5s(source, "v:0", 3)]
    b = [ln.split(",")[-2:] for ln in packet_md5s(out, "v:0", 3)]
    assert len(a) >= 3 * 25 and a == b

    assert [s.kind for s in dst.streams] == ["video", "audio"]
    (dub,) = dst.audio_streams
    assert dub.default and dub.language == "fra"
    assert (dub.codec, dub.sample_rate, dub.channels) == ("aac", 48000, 2)
    # The decoded dub lasts the video's duration within one AAC frame and its tone
    # starts where the mixdown put it, on the picture's clock: Matroska keeps the AAC
    # encoder's priming samples and shifts every stream's start instead.
    audio = decode_track(out, "a:0")
    assert abs(len(audio) - round(src.duration_s * 48000)) <= 1024
    lead = round((dst.video.start_time_s - dub.start_time_s) * 48000)
    assert 0 <= lead <= 1024
    onset = int(np.argmax(np.abs(audio) > 0.1 * np.abs(audio).max())) - lead
    assert abs(onset - TONE_START_MS * 48) <= 48
    assert listing(tmp_path) == [f"dubbed.{ext}"]  # no temp file left behind


def test_original_second_track_and_subtitles_mp4(source, dub_wav, srt, tmp_path):
    opts = ExportOptions(
        dub_language="fra", include_original=True, subtitles=srt, subtitle_language="fra"
    )
    out = export_video(source, dub_wav, tmp_path / "full.mp4", opts)
    info = probe(out)
    assert [s.kind for s in info.streams] == ["video", "audio", "audio", "subtitle"]
    dub, orig = info.audio_streams
    assert dub.default and not orig.default
    assert (dub.language, orig.language) == ("fra", "eng")
    # The original is copied, packet for packet.
    assert packet_md5s(out, "a:1") == packet_md5s(source, "a:0")
    (sub,) = info.subtitle_streams
    assert sub.codec == "mov_text" and sub.language == "fra"
    text = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(out), "-map", "0:s:0", "-f", "srt", "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "Une ligne." in text and "Une autre." in text
    assert listing(tmp_path) == ["full.mp4", "subs.srt"]


@pytest.mark.parametrize("sub_ext, codec", [("srt", "subrip"), ("ass", "ass")])
def test_mkv_with_subtitles_copied(source, dub_wav, srt, tmp_path, sub_ext, codec):
    subs = srt
    if sub_ext == "ass":
        subs = tmp_path / "subs.ass"
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(srt), str(subs)], check=True)
    opts = ExportOptions(include_original=True, subtitles=subs, subtitle_title="French")
    out = export_video(source, dub_wav, tmp_path / "full.mkv", opts)
    info = probe(out)
    assert [s.kind for s in info.streams] == ["video", "audio", "audio", "subtitle"]
    assert info.audio_streams[0].default and not info.audio_streams[1].default
    assert info.audio_streams[0].title == "Dub" and info.audio_streams[1].title == "Original"
    (sub,) = info.subtitle_streams
    assert sub.codec == codec and sub.title == "French" and not sub.default


def test_refuses_to_overwrite_the_input(source, dub_wav, tmp_path):
    video = tmp_path / "movie.mp4"
    video.write_bytes(source.read_bytes())
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    with pytest.raises(ExportError, match="movie.mp4"):
        export_video(video, dub_wav, video)
    with pytest.raises(ExportError):  # the same file through another path
        export_video(video, dub_wav, tmp_path / "sub" / ".." / "movie.mp4")
    link = tmp_path / "link.mp4"
    os.link(video, link)  # a hard link: different name, same file
    with pytest.raises(ExportError, match="input"):
        export_video(video, dub_wav, link)
    assert hashlib.sha256(video.read_bytes()).hexdigest() == digest
    assert listing(tmp_path) == ["link.mp4", "movie.mp4"]


def test_unknown_extension(source, dub_wav, tmp_path):
    with pytest.raises(ExportError, match=r"\.avi"):
        export_video(source, dub_wav, tmp_path / "out.avi")
    assert listing(tmp_path) == []


def test_ffmpeg_failure_removes_temp_file_and_quotes_ffmpeg(source, tmp_path):
    bad_dub = mediagen.make_corrupt_file(tmp_path / "dub.wav", "garbage")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(ExportError) as err:
        export_video(source, bad_dub, out_dir / "x.mp4")
    assert "x.mp4" in str(err.value) and "ffmpeg said" in str(err.value)
    assert listing(out_dir) == []


def test_existing_output_is_replaced_only_when_complete(source, dub_wav, tmp_path):
    out = tmp_path / "o.mkv"
    out.write_bytes(b"old")
    export_video(source, dub_wav, out)
    assert probe(out).video is not None
    assert listing(tmp_path) == ["o.mkv"]


def test_disk_full_is_reported_clearly(source, dub_wav, tmp_path, monkeypatch):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=1000))
    with pytest.raises(ExportError, match="(?i)not enough free disk space"):
        export_video(source, dub_wav, tmp_path / "o.mp4")
    assert listing(tmp_path) == []


# --------------------------------------------------------------------------- odd names


@pytest.mark.parametrize(
    "src_name, out_name", [("-lead.mp4", "ep1:out.mp4"), ("ep1:pilot.mp4", "-lead.out.mkv")]
)
def test_odd_names_in_and_out(source, dub_wav, srt, tmp_path, monkeypatch, src_name, out_name):
    """'-' at the start is no option and ':' no protocol, for inputs, the output and
    its temp file, given as bare relative names like the command line gives them."""
    (tmp_path / src_name).write_bytes(source.read_bytes())
    (tmp_path / "-subs:fr.srt").write_bytes(srt.read_bytes())
    monkeypatch.chdir(tmp_path)
    opts = ExportOptions(include_original=True, subtitles=Path("-subs:fr.srt"))
    out = export_video(Path(src_name), dub_wav, Path(out_name), opts)
    assert out == Path(out_name)
    info = probe(out)
    assert [s.kind for s in info.streams] == ["video", "audio", "audio", "subtitle"]
    a = [ln.split(",")[-2:] for ln in packet_md5s(source, "v:0", 2)]
    b = [ln.split(",")[-2:] for ln in packet_md5s(tmp_path / out_name, "v:0", 2)]
    assert len(a) >= 2 * 25 and a == b  # the picture, byte for byte
    assert listing(tmp_path) == sorted(["-subs:fr.srt", "subs.srt", src_name, out_name])


def test_failure_message_names_files_as_given(source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mediagen.make_corrupt_file(tmp_path / "-dub:mix.wav", "garbage")
    with pytest.raises(ExportError) as err:
        export_video(source, Path("-dub:mix.wav"), Path("ep1:out.mp4"))
    msg = str(err.value)
    assert "'ep1:out.mp4'" in msg and "-dub:mix.wav" in msg and "ffmpeg said" in msg
    assert "file:" not in msg and ".part" not in msg
    assert listing(tmp_path) == ["-dub:mix.wav"]


def _playlist_text(segment: str) -> str:
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
        f"#EXTINF:{DURATION},\n{segment}\n#EXT-X-ENDLIST\n"
    )


@pytest.fixture()
def segment(source, tmp_path) -> Path:
    """A local media segment that an HLS reading of the subtitle file would open."""
    seg = tmp_path / "seg.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(source), "-c", "copy", "-f", "mpegts", str(seg)],
        check=True,
    )
    return seg


def test_playlist_text_as_srt_is_read_as_subtitles(source, dub_wav, segment, tmp_path):
    """A '.srt' beginning with #EXTM3U is read as SubRip (it holds no cues), never as
    a playlist whose segment would be opened."""
    subs = tmp_path / "tricky.srt"
    subs.write_text(_playlist_text(segment.name))
    for ext in ("mp4", "mkv"):
        out = export_video(source, dub_wav, tmp_path / f"o.{ext}", ExportOptions(subtitles=subs))
        info = probe(out)
        assert [s.kind for s in info.streams] == ["video", "audio", "subtitle"]
        assert info.subtitle_streams[0].codec in ("mov_text", "subrip")


def test_playlist_text_with_other_extension_is_refused(source, dub_wav, segment, tmp_path):
    subs = tmp_path / "tricky.sub"
    subs.write_text(_playlist_text(segment.name))
    with pytest.raises(ExportError, match=r"'.*tricky\.sub' is not a subtitle file"):
        export_video(source, dub_wav, tmp_path / "o.mkv", ExportOptions(subtitles=subs))
    assert listing(tmp_path) == ["seg.ts", "tricky.sub"]
