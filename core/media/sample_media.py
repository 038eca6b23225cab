"""Sample media for a first run: a short video whose lines two espeak-ng voices speak, and
its subtitles naming them. The product's own copy of what the tests generate (tests/ is
not shipped), so `dubsmith demo` needs nothing of the user's.

    Line(start_s, end_s, speaker, voice, text)
    make_sample_video(path, lines, duration_s, size="320x240", fps=25) -> Path
    write_ass(path, lines, title="Dubsmith demo") -> Path
    SampleMediaError                     # espeak-ng or ffmpeg missing, or failing

Each line is spoken at its start over quiet pink noise; the picture is ffmpeg's testsrc2.
The audio is 48 kHz AAC stereo, tagged English.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

RATE = 48000
# Pitches keep the two espeak-ng voices easy to tell apart.
_PITCH = {"en-us": 40, "en-gb+f3": 70}


class SampleMediaError(RuntimeError):
    """The sample cannot be made; the message names the missing or failing tool."""


@dataclass(frozen=True)
class Line:
    start_s: float
    end_s: float
    speaker: str  # the ASS Name: who the dub gives this line's voice to
    voice: str  # espeak-ng voice of the sample
    text: str


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SampleMediaError(
            f"{name} is not installed; the sample video needs it "
            f"(Debian/Ubuntu: sudo apt-get install {package})"
        )
    return path


def _run(args: list[str]) -> None:
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SampleMediaError(
            f"{Path(args[0]).name} failed ({proc.returncode}): {proc.stderr[-2000:]}"
        )


def video_encoder() -> list[str]:
    """libx264 when this ffmpeg has it (fast, small), else the built-in mpeg4."""
    out = subprocess.run(
        [_tool("ffmpeg", "ffmpeg"), "-hide_banner", "-encoders"], capture_output=True, text=True
    ).stdout
    if " libx264 " in out:
        return ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    return ["-c:v", "mpeg4", "-q:v", "5"]


def pink_noise(n: int, seed: int = 0, level_db: float = -40.0) -> np.ndarray:
    """1/f noise (white noise shaped in the frequency domain) at `level_db` RMS: a room."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.shape[0], dtype=np.float64)
    f[0] = 1.0
    noise = np.fft.irfft(spec / np.sqrt(f), n)
    noise /= np.sqrt(np.mean(noise**2)) + 1e-12
    return (noise * 10 ** (level_db / 20)).astype(np.float32)


def speak(text: str, voice: str) -> np.ndarray:
    """espeak-ng speech as mono float32 at 48 kHz."""
    espeak = _tool("espeak-ng", "espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "line.wav"
        pitch = str(_PITCH.get(voice, 50))
        _run([espeak, "-v", voice, "-p", pitch, "-s", "165", "-w", str(wav), text])
        audio, rate = sf.read(str(wav), dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    return soxr.resample(audio, rate, RATE).astype(np.float32)


def render_lines(duration_s: float, lines: Sequence[Line], seed: int = 0) -> np.ndarray:
    """The soundtrack: each line at its start over pink noise, stereo (n, 2)."""
    n = int(round(duration_s * RATE))
    mono = pink_noise(n, seed)
    for line in lines:
        speech = speak(line.text, line.voice) * 0.5
        i = int(round(line.start_s * RATE))
        end = min(n, i + speech.shape[0])
        if end > i:
            mono[i:end] += speech[: end - i]
    return np.stack([mono * 0.9, mono * 0.8], axis=1).astype(np.float32)


def make_sample_video(
    path: Path,
    lines: Sequence[Line],
    duration_s: float,
    size: str = "320x240",
    fps: int = 25,
) -> Path:
    """An MP4 (or MKV, by extension) with a test picture and the spoken lines."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg = _tool("ffmpeg", "ffmpeg")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "track.wav"
        sf.write(str(wav), render_lines(duration_s, lines), RATE, subtype="FLOAT")
        args = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
        args += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={duration_s}"]
        args += ["-i", str(wav), "-map", "0:v:0"] + video_encoder() + ["-g", str(fps * 2)]
        args += ["-map", "1:a:0", "-c:a", "aac", "-b:a", "128k", "-ar", str(RATE), "-ac", "2"]
        args += ["-metadata:s:a:0", "language=eng", "-t", str(duration_s), str(path)]
        _run(args)
    return path


def write_ass(path: Path, lines: Sequence[Line], title: str = "Dubsmith demo") -> Path:
    """An ASS subtitle file whose events name their speaker (the `Name` field)."""
    import pysubs2

    subs = pysubs2.SSAFile()
    subs.info["Title"] = title
    for line in lines:
        subs.append(
            pysubs2.SSAEvent(
                start=int(round(line.start_s * 1000)),
                end=int(round(line.end_s * 1000)),
                text=line.text,
                name=line.speaker,
            )
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    subs.save(str(path), format_="ass")
    return path
