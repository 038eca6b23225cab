"""ffmpeg's own progress report, read while it works, as a stage's ``tick(done, total)``.

A film's extraction (about 85 s for two hours of 5.1 on the 2-core test machine) and its
export (about 125 s) are single ffmpeg runs: without this, the desk's bar and the CLI sit
still for minutes. ffmpeg is asked (``-nostats -progress pipe:1``) to write ``key=value``
lines on stdout, a block every half second ending in ``progress=continue`` (or ``=end``);
``out_time_us`` in each block says how far into the film the output has got, which,
against the film's known duration, is the share done. The stage runner, the desk and the
CLI make the time left of it, as they do for the mix's blocks.

The units of a tick are whole seconds of film: ``total`` is the duration, so the share is
exact whatever the speed, and the desk's label reads "extract 3600/7200" as where in the
film the work has got.

The child is started through core.media.child_process (it dies with this process; no shell) and
waited for on the calling thread, which that module's parent-death signal relies on; its
stderr is drained on a helper thread so a chatty failure cannot fill the pipe and stall it.

Public API::

    PROGRESS_ARGS = ("-nostats", "-progress", "pipe:1")
    @dataclass(frozen=True) FfmpegProgress: out_time_s (None: not known yet), speed, ended
    class ProgressReader: feed(line) -> FfmpegProgress | None   # one per finished block
    parse_progress(text) -> list[FfmpegProgress]
    film_ticks(out_time_s, duration_s) -> tuple[int, int]       # (done, total) in s
    run_with_progress(args, duration_s, progress) -> subprocess.CompletedProcess[bytes]
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

from core.media.child_process import child_command

PROGRESS_ARGS = ("-nostats", "-progress", "pipe:1")

Tick = Callable[[int, int], None]

# "00:01:02.500000"; ffmpeg writes a negative time (and "N/A") before the first packet.
_HMS = re.compile(r"^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


@dataclass(frozen=True)
class FfmpegProgress:
    """One block of ffmpeg's report."""

    out_time_s: float | None  # how far the output has got; None before it knows
    speed: float | None  # times real time ("15.2x"); None when not said
    ended: bool  # the last block (``progress=end``), written however the run ends


def _out_time(fields: dict[str, str]) -> float | None:
    # out_time_ms holds microseconds too (an old ffmpeg slip kept for compatibility):
    # it stands in for out_time_us where an older ffmpeg lacks the latter.
    for key in ("out_time_us", "out_time_ms"):
        try:
            value = int(fields.get(key, ""))
        except ValueError:
            continue
        return value / 1e6 if value >= 0 else None
    match = _HMS.match(fields.get("out_time", ""))
    if match is None:
        return None
    h, m, s = match.groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def _speed(fields: dict[str, str]) -> float | None:
    text = fields.get("speed", "").strip().rstrip("x")
    try:
        return float(text)
    except ValueError:
        return None


class ProgressReader:
    """Reads ffmpeg's ``-progress`` lines one at a time; a block's snapshot comes out at
    the ``progress=`` line that closes it."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> FfmpegProgress | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        if key != "progress":
            self._fields[key] = value.strip()
            return None
        fields, self._fields = self._fields, {}
        return FfmpegProgress(_out_time(fields), _speed(fields), value.strip() == "end")


def parse_progress(text: str) -> list[FfmpegProgress]:
    reader = ProgressReader()
    return [p for line in text.splitlines() if (p := reader.feed(line)) is not None]


def film_ticks(out_time_s: float, duration_s: float) -> tuple[int, int]:
    """(done, total) in whole seconds of film (a clip under a second counts one). The
    output may run a few ms past the container's duration (an AAC frame's padding): it
    is held at the total."""
    total = max(round(duration_s), 1)
    return min(max(int(out_time_s), 0), total), total


def run_with_progress(
    args: list[str], duration_s: float, progress: Tick | None
) -> subprocess.CompletedProcess[bytes]:
    """Run an ffmpeg argument list (program first, no ``-progress`` of its own) as
    ``subprocess.run`` would with stdout unused and stderr captured, telling ``progress``
    how much of ``duration_s`` is done each half second. Raises OSError when ffmpeg
    cannot be started; a failed run is the caller's to read from the result. Whatever
    stops the wait (Ctrl-C, a listener's exception) kills ffmpeg before it propagates."""
    command = child_command([args[0], *PROGRESS_ARGS, *args[1:]])
    errors: list[bytes] = []
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        stderr = proc.stderr
        drain = threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)
        drain.start()
        try:
            reader = ProgressReader()
            for raw in proc.stdout:
                block = reader.feed(raw.decode("ascii", errors="replace"))
                if block is not None and block.out_time_s is not None and progress is not None:
                    progress(*film_ticks(block.out_time_s, duration_s))
            proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            drain.join()
    return subprocess.CompletedProcess(command, proc.returncode, b"", b"".join(errors))
