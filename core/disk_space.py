"""Free disk space, checked before the long work and explained when a write runs out.

A dub writes to two places: the cache (extracted audio, one WAV per take, the mix) and
the output folder. Both are checked before any model loads, with the sizes estimated from
the video and the lines, so a full disk is found in a second, not after hours of rendering.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

MARGIN = 1.1  # estimates are close, not exact: keep a tenth in hand
FLOAT_BYTES = 4  # every WAV in the cache is 32-bit float


class DiskSpaceError(OSError):
    """A folder has too little free space; the message names it and both figures."""

    def __str__(self) -> str:  # the message alone, without OSError's "[Errno 28]"
        return str(self.strerror)


def human_bytes(n: float) -> str:
    """1234567 -> '1.2 MB': enough digits that two different sizes never read alike."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def need_and_free(need: float, free: float) -> str:
    a, b = human_bytes(need), human_bytes(free)
    if a == b:  # same at one decimal: say it in bytes rather than contradict ourselves
        a, b = f"{int(need):,} bytes", f"{int(free):,} bytes"
    return f"about {a} is needed, {b} is free"


def _existing(folder: Path) -> Path:
    """The nearest folder that exists (a cache folder may not have been made yet)."""
    folder = Path(os.path.abspath(folder))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(_existing(folder)).free
    except OSError:
        return None


@dataclass(frozen=True)
class SpaceNeed:
    folder: Path
    bytes: int
    what: str  # "the cache", "the output", ... for the message


def describe(what: str, parts: dict[str, int]) -> str:
    """'the cache (master 12.4 GB, mix 12.4 GB, ...)': a refusal says what takes the room."""
    return f"{what} ({', '.join(f'{k} {human_bytes(v)}' for k, v in parts.items())})"


def check_space(needs: list[SpaceNeed]) -> None:
    """Raise DiskSpaceError when a disk cannot hold what is asked of it. Needs on the same
    disk add up (the cache and the output are often both in the home folder)."""
    by_disk: dict[int, list[SpaceNeed]] = {}
    for need in needs:
        try:
            dev = _existing(need.folder).stat().st_dev
        except OSError:
            continue
        by_disk.setdefault(dev, []).append(need)
    for group in by_disk.values():
        total = sum(n.bytes for n in group) * MARGIN
        free = free_bytes(group[0].folder)
        if free is None or free >= total:
            continue
        parts = " and ".join(f"{n.what} in {n.folder}" for n in group)
        raise DiskSpaceError(
            errno.ENOSPC,
            f"not enough free disk space for {parts}: {need_and_free(total, free)}. "
            "Free some space, or choose another output folder"
            + (
                " or cache folder (DUBSMITH_CACHE_DIR)"
                if len(group) > 1 or "cache" in parts
                else ""
            )
            + ".",
        )


def wav_bytes(seconds: float, rate: int, channels: int = 1) -> int:
    return int(seconds * rate * channels * FLOAT_BYTES) + 4096


MASTER_RATE = 48000
WORK_RATES = (16000, 22050)


def film_cache_bytes(
    duration_s: float,
    channels: int,
    lines_s: float,
    *,
    take_rate: int = 22050,
    extract: bool = True,
    separate: bool = False,
) -> dict[str, int]:
    """What one dub of a film writes in its cache, part by part (all float32 WAV): the
    48 kHz master in the original's channels and its 16 / 22.05 kHz mono copies (when
    not extracted yet), the dialogue and background stems with their copies (when the
    original is separated), one take per line at the engine's rate, and the mix in the
    original's channels (2 for a video without sound; the loudness gain is applied in
    place, so nothing more)."""
    channels = max(channels, 1)
    copies = sum(wav_bytes(duration_s, r) for r in WORK_RATES)
    parts = {
        "master": wav_bytes(duration_s, MASTER_RATE, channels) if extract else 0,
        "working copies": copies if extract else 0,
        "stems": 2 * wav_bytes(duration_s, MASTER_RATE, channels) + copies if separate else 0,
        "takes": wav_bytes(lines_s, take_rate),
        "mix": wav_bytes(duration_s, MASTER_RATE, channels),
    }
    return {k: v for k, v in parts.items() if v}


NEARLY_FULL = 16 * 2**20


def _is_disk_full(exc: BaseException, free: int | None) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    # libsndfile reports a failed write as "System error." without an errno: it is the
    # disk when the disk is (nearly) full.
    return isinstance(exc, sf.LibsndfileError) and free is not None and free < NEARLY_FULL


def disk_full_error(exc: BaseException, folder: Path) -> OSError | None:
    """``exc`` as an ENOSPC OSError when it is a write that failed on a full disk, else
    None. Ask at once, before the failed write removes its temp files: a film's half-
    written mix frees gigabytes, and libsndfile's bare "System error." would then no
    longer read as a full disk."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return exc
    if _is_disk_full(exc, free_bytes(folder)):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder))
    return None


@contextmanager
def writing_to(folder: Path, what: str, need: int | None = None) -> Iterator[None]:
    """Turn a write that failed for want of space into a message that says where, and,
    given ``need`` (bytes the whole write takes), how much room it wants. The free space
    is measured once the failed write has removed its temp files, so it is what a re-run
    would find."""
    try:
        yield
    except DiskSpaceError:
        raise
    except (OSError, sf.LibsndfileError) as exc:
        free = free_bytes(folder)
        if not _is_disk_full(exc, free):
            raise
        left = f" ({human_bytes(free)} left)" if free is not None else ""
        if need is not None and free is not None:
            left = f" ({need_and_free(need, free)})"
        raise DiskSpaceError(
            errno.ENOSPC,
            f"could not write {what} in {folder}: the disk is full{left}. Free some space, "
            "or choose another folder (the cache moves with DUBSMITH_CACHE_DIR); "
            "lines rendered so far stay cached",
        ) from exc
