"""Small audio helpers shared by extraction, mixdown and export.

Arrays are float32, shaped ``(samples,)`` for mono or ``(samples, channels)`` otherwise.

Public API::

    read_wav(path: Path) -> tuple[np.ndarray, int]
    write_wav(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> Path
    resample(audio: np.ndarray, rate_in: int, rate_out: int, quality: str = "HQ") -> np.ndarray
    resample_to_length(audio, rate_in, rate_out, length: int | None = None) -> np.ndarray
    fit_length(audio: np.ndarray, length: int) -> np.ndarray
    downmix_mono(audio: np.ndarray, layout: str | None = None) -> np.ndarray
    to_stereo(audio: np.ndarray, layout: str | None = None) -> np.ndarray
    samples_for(seconds: float, rate: int) -> int
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from core.media.ffmpeg_tool import ffmpeg_path, input_args, run_ffmpeg
from core.temp_files import temp_path_for
from models.units import samples_for  # noqa: F401  (re-exported: core code imports it here)

# Layouts whose 4th channel (index 3) is the LFE in ffmpeg/WAV channel order.
_LFE_AT_3 = {"5.1", "5.1(side)", "6.1", "7.1", "7.1(wide)", "7.1(wide-side)"}


# samples_for: the sample count of a duration at a rate, one rule for the whole program,
# lives in models/units.py and is imported above.


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a sound file as float32 (mono stays 1-D)."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=False)
    return np.ascontiguousarray(audio), int(rate)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> Path:
    """Write a WAV atomically: a temp file in the same folder, then os.replace.

    A reader (or a cache check) never sees a half-written file, even if we are killed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its 0600 mode would stick to the final file.
    tmp = temp_path_for(path)  # names its owner: a killed run's is removed later
    try:
        # RF64 kicks in automatically beyond 4 GB so long masters stay valid.
        sf.write(
            tmp, np.asarray(audio, dtype=np.float32), sample_rate, subtype=subtype, format="WAV"
        )
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad along time to exactly ``length`` samples."""
    n = audio.shape[0]
    if n == length:
        return audio
    if n > length:
        return audio[:length]
    pad = [(0, length - n)] + [(0, 0)] * (audio.ndim - 1)
    return np.pad(audio, pad)


def resample(audio: np.ndarray, rate_in: int, rate_out: int, quality: str = "HQ") -> np.ndarray:
    """soxr resampling along time; float32 in, float32 out."""
    audio = np.asarray(audio, dtype=np.float32)
    if rate_in == rate_out:
        return audio
    if audio.shape[0] == 0:
        return np.zeros((0,) + audio.shape[1:], dtype=np.float32)
    return soxr.resample(audio, rate_in, rate_out, quality=quality).astype(np.float32, copy=False)


def resample_to_length(
    audio: np.ndarray, rate_in: int, rate_out: int, length: int | None = None
) -> np.ndarray:
    """Resample, then force the length (default round(n * rate_out / rate_in)).

    soxr may return a sample more or less than the ideal; downstream code places
    audio sample-exactly, so the length is made a rule rather than a result.
    """
    if length is None:
        length = int(round(audio.shape[0] * rate_out / rate_in))
    return fit_length(resample(audio, rate_in, rate_out), length)


def downmix_mono(audio: np.ndarray, layout: str | None = None) -> np.ndarray:
    """Average the channels to mono, leaving out the LFE (it carries no dialogue)."""
    if audio.ndim == 1:
        return audio.astype(np.float32, copy=False)
    channels = audio.shape[1]
    if channels == 1:
        return audio[:, 0].astype(np.float32, copy=False)
    keep = list(range(channels))
    if layout in _LFE_AT_3 and channels > 3:
        keep.remove(3)
    # Column sums beat .mean(axis=1) on interleaved data by a wide margin.
    out = audio[:, keep[0]].astype(np.float32, copy=True)
    for c in keep[1:]:
        out += audio[:, c]
    out *= np.float32(1.0 / len(keep))
    return out


def to_stereo(audio: np.ndarray, layout: str | None = None) -> np.ndarray:
    """Any channel count to (n, 2) for the output mix.

    Mono is duplicated; stereo passes; surround is folded down with the usual
    -3 dB for centre and surrounds (LFE dropped), then scaled so it cannot clip.
    """
    if audio.ndim == 1:
        return np.repeat(audio[:, None], 2, axis=1).astype(np.float32, copy=False)
    channels = audio.shape[1]
    if channels == 1:
        return np.repeat(audio, 2, axis=1).astype(np.float32, copy=False)
    if channels == 2:
        return audio.astype(np.float32, copy=False)
    if layout in _LFE_AT_3 or channels >= 6:
        # FL FR FC LFE [BL BR | SL SR] ...: left gets even rear channels, right odd.
        g = np.float32(np.sqrt(0.5))
        left = audio[:, 0] + g * audio[:, 2]
        right = audio[:, 1] + g * audio[:, 2]
        for c in range(4, channels):
            if c % 2 == 0:
                left = left + g * audio[:, c]
            else:
                right = right + g * audio[:, c]
        norm = np.float32(1.0 + g + g * ((channels - 4 + 1) // 2))
        return (np.stack([left, right], axis=1) / norm).astype(np.float32)
    # 3 to 5 channels of unknown order: mono fold to both sides.
    mono = downmix_mono(audio, layout)
    return np.repeat(mono[:, None], 2, axis=1)


def read_any_audio(path: Path, rate: int = 22050) -> tuple[np.ndarray, int]:
    """Read audio: WAV/FLAC/OGG directly, anything else (m4a, mp3, a video) through ffmpeg,
    decoded to mono at `rate`."""
    try:
        return read_wav(path)
    except Exception:
        with tempfile.TemporaryDirectory(prefix="dubsmith-audio-") as tmp:
            wav = Path(tmp) / "voice.wav"
            run_ffmpeg(
                ["ffmpeg", "-hide_banner", "-nostdin", "-y", *input_args(path)]
                + ["-vn", "-ac", "1", "-ar", str(rate), ffmpeg_path(wav)],
                Path(path),
                "decode audio",
            )
            return read_wav(wav)
