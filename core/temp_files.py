"""The hidden temp files a dub writes beside its outputs, and the ones a killed run left.

An output is written to ``.NAME.PID-XXXXXXXX.part`` beside it and renamed when complete.
The pid says whose it is: at the next run, a temp file of ours whose owner is gone is
removed (a kill -9 leaves one behind; its ffmpeg dies with it, see core.media.child_process).

    temp_path_for(out) -> Path
    stale_temps(out) -> list[Path]
    remove_stale_temps(out) -> list[Path]
    TEMP_NAME_EXTRA: the most bytes a temp name of any of our writers adds to a name
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

# ".NAME." + a 7-digit pid (Linux's largest) + "-" + 8 hex + ".part": the longest of our
# temp names (every writer of ours uses temp_path_for; the report's "NAME.tmp" is shorter).
TEMP_NAME_EXTRA = len("..") + 7 + len("-") + 8 + len(".part")
_OURS = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d{1,7})-[0-9a-f]{8}\.part$")


def temp_path_for(out: Path) -> Path:
    """A fresh hidden name beside ``out`` naming this process as its owner."""
    out = Path(out)
    return out.parent / f".{out.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to judge
        return True
    return True


def stale_temps(out: Path) -> list[Path]:
    """Temp files of ``out`` whose owning process no longer runs."""
    out = Path(out)
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return []
    stale = []
    for p in entries:
        m = _OURS.match(p.name)
        if m and m["name"] == out.name and not _alive(int(m["pid"])) and p.is_file():
            stale.append(p)
    return sorted(stale)


def remove_stale_temps(out: Path) -> list[Path]:
    """Remove what ``stale_temps`` finds; returns what was removed."""
    removed = []
    for p in stale_temps(out):
        try:
            p.unlink()
        except OSError:
            continue
        removed.append(p)
    return removed
