"""Generated test media: small real videos built with ffmpeg and espeak-ng.

Public API::

    make_test_video(path, duration_s=24, lines=DEFAULT_LINES, fps=25, with_audio=True,
                    size="320x240", srt_path=None, audio_offset_s=0.0) -> Path
    make_silent_video(path, duration_s=6, fps=25, size="320x240") -> Path
    make_corrupt_file(path, kind="truncated" | "garbage" | "text") -> Path
    write_srt(path, lines, duration_s, default_len_s=2.5) -> Path
    cached(cache_dir, maker, name, **kwargs) -> Path   # build once per cache dir

``lines`` are ``(start_s, text, voice)`` with voice an espeak-ng voice name; each line
is spoken at its start over quiet pink noise, 48 kHz AAC stereo. Voices differ in
pitch as well so the two speakers are easy to tell apart.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from core.media.sample_media import pink_noise, speak, video_encoder  # noqa: F401  (re-exported)

RATE = 48000
DEFAULT_LINES: tuple[tuple[float, str, str], ...] = (
    (1.0, "Where have you been all this time?", "en-us"),
    (5.0, "I was waiting for the morning train.", "en-gb+f3"),
    (10.0, "The train never came, did it?", "en-us"),
    (15.0, "No. So I walked the whole way home.", "en-gb+f3"),
    (20.0, "Then we should eat something.", "en-us"),
)


def _run(args: list[str]) -> None:
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")


# video_encoder, pink_noise and speak are the product's own (core/media/sample_media.py, which
# `dubsmith demo` uses): the tests make their media the same way.


def render_lines(
    duration_s: float, lines: Sequence[tuple[float, str, str]], seed: int = 0
) -> np.ndarray:
    """The soundtrack: lines at their starts over pink noise, stereo (n, 2)."""
    n = int(round(duration_s * RATE))
    mono = pink_noise(n, seed)
    for start_s, text, voice in lines:
        speech = speak(text, voice) * 0.5
        i = int(round(start_s * RATE))
        end = min(n, i + speech.shape[0])
        if end > i:
            mono[i:end] += speech[: end - i]
    # Slightly different gains per side so "stereo" is real stereo.
    return np.stack([mono * 0.9, mono * 0.8], axis=1).astype(np.float32)


def write_srt(
    path: Path,
    lines: Sequence[tuple[float, str, str]],
    duration_s: float,
    default_len_s: float = 2.5,
) -> Path:
    """An SRT whose cues start at the line starts (end: next start or +default_len_s)."""

    def ts(t: float) -> str:
        ms = int(round(t * 1000))
        h, rem = divmod(ms, 3600_000)
        m, rem = divmod(rem, 60_000)
        s, ms = divmod(rem, 1000)
        return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"

    starts = [s for s, _, _ in lines]
    out = []
    for k, (start, text, _voice) in enumerate(lines):
        nxt = starts[k + 1] if k + 1 < len(starts) else duration_s
        end = min(start + default_len_s, nxt - 0.05, duration_s)
        out.append(f"{k + 1}\n{ts(start)} --> {ts(end)}\n{text}\n")
    path = Path(path)
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def make_test_video(
    path: Path,
    duration_s: float = 24,
    lines: Sequence[tuple[float, str, str]] = DEFAULT_LINES,
    fps: int = 25,
    with_audio: bool = True,
    size: str = "320x240",
    srt_path: Path | None = None,
    audio_offset_s: float = 0.0,
    soundtrack: np.ndarray | None = None,
) -> Path:
    """An MP4/MKV (by extension) with testsrc2 picture and spoken lines.

    ``audio_offset_s`` delays the audio stream's timestamps (a damaged-looking file
    whose audio starts after the picture). ``soundtrack`` (n, 2) at 48 kHz replaces
    the spoken lines (the benchmark uses it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    args += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={duration_s}"]
    with tempfile.TemporaryDirectory() as tmp:
        if with_audio:
            wav = Path(tmp) / "track.wav"
            audio = soundtrack if soundtrack is not None else render_lines(duration_s, lines)
            sf.write(str(wav), audio, RATE, subtype="FLOAT")
            if audio_offset_s:
                args += ["-itsoffset", str(audio_offset_s)]
            args += ["-i", str(wav)]
        args += ["-map", "0:v:0"] + video_encoder() + ["-g", str(fps * 2)]
        if with_audio:
            args += ["-map", "1:a:0", "-c:a", "aac", "-b:a", "128k", "-ar", str(RATE), "-ac", "2"]
            args += ["-metadata:s:a:0", "language=eng"]
        args += ["-t", str(duration_s), str(path)]
        _run(args)
    if srt_path is not None:
        write_srt(Path(srt_path), lines, duration_s)
    return path


def private_copy(video: Path, folder: Path) -> Path:
    """A copy of a generated video and its subtitles in `folder` (a test's own project file
    and work folder live beside it, so tests sharing one generated clip never meet)."""
    copy = Path(folder) / video.name
    shutil.copy(video, copy)
    shutil.copy(video.with_suffix(".srt"), copy.with_suffix(".srt"))
    return copy


def make_silent_video(
    path: Path, duration_s: float = 6, fps: int = 25, size: str = "320x240"
) -> Path:
    """A video with no audio stream at all."""
    return make_test_video(
        path, duration_s=duration_s, lines=(), fps=fps, with_audio=False, size=size
    )


def make_corrupt_file(path: Path, kind: str = "truncated") -> Path:
    """Broken inputs: ``truncated`` (an MP4 cut before its index), ``garbage``
    (random bytes with an .mp4 name), ``text`` (a text file with a video name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "truncated":
        with tempfile.TemporaryDirectory() as tmp:
            # Without +faststart the moov atom is written last, so cutting the
            # file leaves media data that no demuxer can index.
            full = make_test_video(Path(tmp) / "full.mp4", duration_s=3, lines=())
            data = full.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "garbage":
        path.write_bytes(
            np.random.default_rng(1).integers(0, 256, 64_000, dtype=np.uint8).tobytes()
        )
    elif kind == "text":
        path.write_text("this is not a video, just some words\n" * 50)
    else:
        raise ValueError(f"unknown corruption kind {kind!r}")
    return path


def cached(cache_dir: Path, maker: Callable[..., Path], name: str, **kwargs) -> Path:
    """Build ``maker(path, **kwargs)`` once per cache dir (keyed by name and kwargs).

    Tests pass ``tmp_path_factory.getbasetemp() / "mediagen"`` so every test module of
    a session shares one copy of each generated file.
    """
    key = json.dumps([maker.__name__, kwargs], sort_keys=True, default=str)
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    folder = Path(cache_dir) / f"{Path(name).stem}-{digest}"
    target = folder / name
    done = folder / ".done"
    if not done.exists():
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        kwargs = {
            k: (folder / v.name if isinstance(v, Path) and k.endswith("_path") else v)
            for k, v in kwargs.items()
        }
        maker(target, **kwargs)
        done.write_text(key)
    return target
