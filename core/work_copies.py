"""ffmpeg's part in writing a film's working audio straight to disk (no Python array).

The extraction (core.media) and the separation (core.separation) both have ffmpeg write
float WAVs as it decodes: the master, and mono working copies at 16 kHz and 22.05 kHz
(the channels averaged, the LFE left out, soxr-resampled, exactly round(n * rate / 48000)
samples). Each goes to a temp file that is renamed only once it holds its exact length.

Public API::

    FLOAT_WAV: tuple[str, ...]            # output options: float32 WAV, RF64 past 4 GB
    exact_length(frames) -> str           # filters padding / cutting to ``frames`` samples
    mono_copy_filter(channels, layout, rate, frames) -> str
    part_path(path) -> Path               # the temp name a file is written under
    frames_problem(path, frames) -> str | None   # why a written file is not whole
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

# 32-bit float WAV that turns RF64 past 4 GB (a three-hour 5.1 master is 12 GB).
FLOAT_WAV = ("-c:a", "pcm_f32le", "-rf64", "auto", "-f", "wav")
_LFE_AT_3 = frozenset({"5.1", "5.1(side)", "6.1", "7.1", "7.1(wide)", "7.1(wide-side)"})


def part_path(path: Path) -> Path:
    return path.parent / f".{path.name}.part"


def exact_length(frames: int) -> str:
    """Filters that pad or cut a stream to exactly ``frames`` samples."""
    return f"apad=whole_len={frames},atrim=end_sample={frames}"


def mono_copy_filter(channels: int, layout: str | None, rate: int, frames: int) -> str:
    """ffmpeg filters making a working copy: the channels averaged (the LFE left out: it
    carries no dialogue), soxr-resampled to ``rate``, exactly ``frames`` samples."""
    keep = list(range(channels))
    if layout in _LFE_AT_3 and channels > 3:
        keep.remove(3)
    mix = "+".join(f"{1 / len(keep)!r}*c{c}" for c in keep)
    return (
        f"pan=mono|c0={mix},aresample={rate}:resampler=soxr:precision=28,"
        f"aformat=sample_fmts=flt,{exact_length(frames)}"
    )


def frames_problem(path: Path, frames: int) -> str | None:
    """None when the file ffmpeg wrote holds ``frames`` samples, else what is wrong."""
    try:
        got = sf.info(str(path)).frames
    except (RuntimeError, sf.LibsndfileError) as exc:
        return str(exc)
    return None if got == frames else f"{got} samples written of {frames}"
