"""A film's working audio read in slices: WAV files mapped, never loaded whole.

The 16 kHz and 22.05 kHz copies of a three-hour film are 0.7 and 1 GB of float32; every
stage that reads them takes a line's stretch at a time (prompts, emotion references,
speaker embeddings, word timing windows). ``wav_memmap`` hands such a stage the whole
file as a read-only array backed by the file: a slice reads its own pages, nothing
else is read, and the pages are the page cache's to drop. A pass over the whole track
goes through ``blocks``, which gives each block's pages back as it moves on, so even a
full scan keeps one block resident.

Public API::

    wav_data_offset(path) -> int                  # byte offset of the samples in a WAV/RF64
    wav_memmap(path) -> np.ndarray                # (n,) or (n, ch) float32, lazy, copy-on-write
    blocks(audio, size) -> Iterator[tuple[int, np.ndarray]]   # (start, copy of a block)
    read_slice(path, a, b) -> np.ndarray          # frames [a, b), zero past the end
    open_writer(path, rate, channels, frames) -> sf.SoundFile    # RF64 past 4 GB
    set_layout(path, layout) -> None              # the speaker mask of a written WAV
    read_frames(src: sf.SoundFile, a, b) -> np.ndarray   # (b - a, ch), zero past the end
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

_WAV_LIMIT = 2**32 - 2**20  # bytes a plain WAV can describe, less room for its header


def wav_data_offset(path: Path) -> int:
    """Where the sample data of a RIFF/RF64 WAVE file starts (its 'data' chunk)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            raise ValueError(f"'{path}' is not a WAV file")
        pos = 12
        while True:
            f.seek(pos)
            chunk = f.read(8)
            if len(chunk) < 8:
                raise ValueError(f"'{path}' has no data chunk")
            size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                return pos + 8
            pos += 8 + size + (size & 1)


def wav_memmap(path: Path) -> np.ndarray:
    """The samples of a 32-bit float WAV as an array mapped from the file; any
    other encoding is read whole, as before (only small files are written that way)."""
    path = Path(path)
    info = sf.info(str(path))
    if info.subtype != "FLOAT" or info.frames == 0:
        audio, _ = sf.read(str(path), dtype="float32", always_2d=False)
        return np.ascontiguousarray(audio)
    shape = (info.frames,) if info.channels == 1 else (info.frames, info.channels)
    # Copy-on-write: torch wants writable arrays, and a write must never reach the file.
    return np.memmap(path, dtype="<f4", mode="c", offset=wav_data_offset(path), shape=shape)


def _release(audio: np.ndarray, a: int, b: int) -> None:
    """Give back the pages of rows [a, b) of a mapped array (re-read from the file if
    needed; a write to them is dropped: the mapping is a view to read)."""
    mapped = audio.base if isinstance(audio, np.memmap) else None
    if not isinstance(mapped, mmap.mmap) or not hasattr(mapped, "madvise"):
        return  # not a whole mapped file (a view, or a plain array): nothing to give back
    # numpy maps from the allocation boundary below the offset.
    base = audio.offset % mmap.ALLOCATIONGRANULARITY
    row = audio.strides[0]
    lo, hi = base + a * row, base + b * row
    lo -= lo % mmap.PAGESIZE
    if hi > lo:
        mapped.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def blocks(audio: np.ndarray, size: int) -> Iterator[tuple[int, np.ndarray]]:
    """(start, block) over ``audio`` in blocks of ``size`` rows, each a private copy; the
    mapped pages of a block are given back once the caller moves on."""
    for a in range(0, audio.shape[0], size):
        b = min(a + size, audio.shape[0])
        yield a, np.array(audio[a:b], dtype=np.float32)
        _release(audio, a, b)


def read_slice(path: Path, a: int, b: int) -> np.ndarray:
    """Frames [a, b) of a sound file (seek, then read), zero-padded past its end."""
    with sf.SoundFile(str(path)) as f:
        out = read_frames(f, a, b)
    return out[:, 0] if out.shape[1] == 1 else out


# WAVE_FORMAT_EXTENSIBLE speaker masks of ffmpeg's layouts (FL 0x1, FR 0x2, FC 0x4,
# LFE 0x8, BL 0x10, BR 0x20, FLC 0x40, FRC 0x80, BC 0x100, SL 0x200, SR 0x400).
_CHANNEL_MASKS = {
    "3.0": 0x7, "3.1": 0xF, "4.0": 0x107, "4.1": 0x10F, "quad": 0x33, "quad(side)": 0x603,
    "5.0": 0x37, "5.0(side)": 0x607, "5.1": 0x3F, "5.1(side)": 0x60F, "6.0": 0x137,
    "6.1": 0x13F, "6.1(back)": 0x13F, "7.0": 0x637, "7.1": 0x63F, "7.1(wide)": 0xFF,
    "7.1(wide-side)": 0x6CF,
}  # fmt: skip


def open_writer(path: Path, rate: int, channels: int, frames: int) -> sf.SoundFile:
    """A float WAV for writing; RF64 when ``frames`` would pass a WAV's 4 GB, and
    WAVE_FORMAT_EXTENSIBLE past two channels (the AAC encoder wants to know the layout;
    ``set_layout`` names it once the file is written)."""
    big = frames * channels * 4 > _WAV_LIMIT
    kind = "RF64" if big else "WAVEX" if channels > 2 else "WAV"
    return sf.SoundFile(str(path), "w", rate, channels, "FLOAT", format=kind)


def set_layout(path: Path, layout: str | None) -> None:
    """Write ``layout``'s speaker mask into an extensible WAV's header (libsndfile
    writes a default by channel count: 8 channels would read as 7.1(wide))."""
    mask = _CHANNEL_MASKS.get(layout or "")
    if mask is None:
        return
    with open(path, "r+b") as f:
        head = f.read(512)
        at = head.find(b"fmt ")
        if at < 0 or int.from_bytes(head[at + 8 : at + 10], "little") != 0xFFFE:
            return  # not extensible: no mask to set
        if int.from_bytes(head[at + 10 : at + 12], "little") != mask.bit_count():
            return
        f.seek(at + 8 + 20)  # fmt data: tag, channels, rate, bytes/s, align, bits, cb, valid
        f.write(mask.to_bytes(4, "little"))


def read_frames(src: sf.SoundFile, a: int, b: int) -> np.ndarray:
    """Frames [a, b) of ``src`` as (b - a, channels) float32, zeros past its end."""
    out = np.zeros((b - a, src.channels), dtype=np.float32)
    end = min(b, src.frames)
    if end > a:
        src.seek(a)
        got = src.read(end - a, dtype="float32", always_2d=True)
        out[: got.shape[0]] = got
    return out
