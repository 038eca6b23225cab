"""ffmpeg's part in writing a film's working audio straight to disk (no Python array).

The extraction (core.audio.original_audio) and the separation (core.audio.separation) both have ffmpeg write
float WAVs as it decodes: the master, and mono working copies at 16 kHz and 22.05 kHz
(the channels averaged, the LFE left out, soxr-resampled, exactly round(n * rate / 48000)
samples). Each goes to a temp file that is renamed only once it holds its exact length.

Public API::

    FLOAT_WAV: tuple[str, ...]            # output options: float32 WAV, RF64 past 4 GB
    exact_length(frames) -> str           # filters padding / cutting to ``frames`` samples
    mono_copy_filter(channels, layout, rate, frames) -> str
    part_path(path) -> Path               # the temp name a file is written under
    frames_problem(path, frames) -> str | None   # why a written file is not whole
    @dataclass(frozen=True) WorkFile: path, label, frames, channels
    write_work_files(source, graph, files, duration_s, progress=None, what=..., verb=...)
        # ffmpeg decodes ``source`` through ``graph`` into every file, whole or not at all;
        # progress(done, total) in s of film; DiskSpaceError on a full disk

A full disk mid-way is said as the folder, the room the files need and what is free;
the temp files are removed, so a re-run finds nothing half-written and starts again.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from core.disk_space import FLOAT_BYTES, DiskSpaceError, free_bytes, need_and_free
from core.media.ffmpeg_progress import run_with_progress
from core.media.ffmpeg_tool import (
    MediaError,
    check_ffmpeg,
    describe_failure,
    ffmpeg_path,
    input_args,
)

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


@dataclass(frozen=True)
class WorkFile:
    """One float WAV ffmpeg writes: the graph's output ``label`` ("[master]"), exactly
    ``frames`` samples of ``channels``."""

    path: Path
    label: str
    frames: int
    channels: int

    @property
    def bytes(self) -> int:
        return self.frames * self.channels * FLOAT_BYTES + 4096  # the header, generously


_FULL_DISK = ("no space left on device", "disk quota exceeded")


def write_work_files(
    source: Path,
    graph: str,
    files: Sequence[WorkFile],
    duration_s: float,
    progress: Callable[[int, int], None] | None = None,
    what: str = "the extracted audio",
    verb: str = "extract the audio of",
) -> None:
    """One ffmpeg run decoding ``source`` through ``graph`` (a -filter_complex) into each
    of ``files``, under its temp name, renamed once it holds its exact length; on any
    failure none is left behind. ``progress(done, total)`` follows ffmpeg's own report
    (seconds of ``duration_s``). A full disk raises DiskSpaceError naming the folder and the
    room needed for ``what``; another failure MediaError ("Could not ``verb`` 'source'")
    quoting ffmpeg."""
    check_ffmpeg()
    parts = {f.path: part_path(f.path) for f in files}
    args = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
        *input_args(source), "-filter_complex", graph,
    ]  # fmt: skip
    for f in files:
        args += ["-map", f.label, *FLOAT_WAV, ffmpeg_path(parts[f.path])]
    try:
        try:
            proc = run_with_progress(args, duration_s, progress)
        except OSError as exc:  # the binary vanished, or is not executable
            raise MediaError(f"Could not {verb} '{source}': {exc}") from exc
        if proc.returncode != 0:
            stderr = proc.stderr.decode("utf-8", errors="replace")
            if any(s in stderr.lower() for s in _FULL_DISK):
                _remove(parts.values())  # the space they took is free again: say so
                raise _disk_full(files, what)
            raise MediaError(describe_failure(source, verb, stderr, {source: source}))
        for f in files:
            if problem := frames_problem(parts[f.path], f.frames):
                raise MediaError(f"Could not {verb} '{source}': {problem}.")
        for path, part in parts.items():
            os.replace(part, path)
    finally:
        _remove(parts.values())


def _remove(paths) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _disk_full(files: Sequence[WorkFile], what: str) -> DiskSpaceError:
    folder = files[0].path.parent
    need = sum(f.bytes for f in files)
    free = free_bytes(folder)
    room = need_and_free(need, free) if free is not None else f"about {need:,} bytes is needed"
    return DiskSpaceError(
        errno.ENOSPC,
        f"could not write {what} in {folder}: the disk is full ({room}). Free some space, "
        "or choose another folder (the cache moves with DUBSMITH_CACHE_DIR); "
        "nothing half-written was kept",
    )
