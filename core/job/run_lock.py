"""One run at a time per project and per output.

Two dubs of one video at once would each load the project, change their own settings and
save over the other's; two runs writing one output would each say "wrote" while the
slowest wins. A run therefore holds, for its whole length, a lock on the project file and
on each output. The locks are ``flock``s on small files in the user cache (never beside
the video): the kernel drops them when the process ends, however it ends (kill -9
included), so a crash never leaves a stale lock. Each lock file holds its holder's pid and
command, to say who holds it.

    class RunLocked(Exception)
    lock_keys(video, options, analysis_only=False) -> list[Path]
    hold_run(paths, *, wait=False, on_wait=None, cancel=None) -> context manager
    claim_run(video, options, *, wait=False, on_wait=None, cancel=None,
              analysis_only=False) -> context manager: outputs checked, then locked
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from core import project as proj
from core.job.inputs import check_input_file
from core.job.options import DubOptions
from core.job.output_guard import check_outputs, dub_outputs, project_files
from core.lines.render import Cancelled, CancelToken

_POLL_S = 0.2
_PROJECT_LIMIT = 256 * 1024 * 1024  # 10,000 lines with their takes are a few MB


class RunLocked(Exception):
    """Another run holds the project or an output; the message names it and its pid."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


def lock_folder() -> Path:
    """Beside the work folders in the user cache (core.job.options.default_work_dir)."""
    base = os.environ.get("DUBSMITH_CACHE_DIR")
    if base:
        return Path(base) / "locks"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("Dubsmith", appauthor=False)) / "locks"


def lock_keys(video: Path, options: DubOptions, analysis_only: bool = False) -> list[Path]:
    """The project of ``video`` and, for a dub, every output it writes. The project's
    usual name stands for it (movie.mp4 and movie.mkv share one: they wait for each other,
    rather than read the file to tell whose it is)."""
    keys = [proj.project_path_for(Path(video))]
    if not analysis_only:
        keys += list(dub_outputs(options).values())
        keys += [Path(d) for d in (options.stems_dir, options.deliver_dir) if d]
    return keys


def _holder(fd: int) -> tuple[int | None, str]:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
    except OSError:
        return None, ""
    first, _, rest = text.partition("\n")
    return (int(first) if first.strip().isdigit() else None), rest.strip()


@contextmanager
def _hold_one(
    path: Path,
    wait: bool,
    on_wait: Callable[[str], None] | None,
    cancel: CancelToken | None,
) -> Iterator[None]:
    resolved = Path(os.path.abspath(path)).resolve()
    folder = lock_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(str(resolved).encode()).hexdigest()[:24] + ".lock"
    fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, command = _holder(fd)
            who = f"another Dubsmith run (pid {pid})" if pid else "another Dubsmith run"
            message = f"{resolved} is in use by {who}" + (f": {command}" if command else "")
            if not wait:
                raise RunLocked(
                    message + "; wait for it to finish, or pass --wait to start after it",
                    pid,
                ) from None
            if on_wait is not None:
                on_wait(message + "; waiting for it to finish (Ctrl-C to give up)")
            _wait_for(fd, cancel)
        os.ftruncate(fd, 0)
        command = " ".join(sys.argv)[:2000]
        os.pwrite(fd, f"{os.getpid()}\n{command}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the last descriptor drops the flock


def _wait_for(fd: int, cancel: CancelToken | None) -> None:
    # Polled, not a blocking flock: a cancel (the first Ctrl-C) must end the wait.
    while True:
        if cancel is not None and cancel.cancelled:
            raise Cancelled("cancelled while waiting for the other run")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(_POLL_S)


@contextmanager
def hold_run(
    paths: list[Path],
    *,
    wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[None]:
    """Hold a lock on each path for the body; RunLocked at once when one is held (with
    ``wait``: wait until it is free, or cancelled). Taken in one order, so two waiting
    runs never hold one lock each and wait for the other's."""
    unique = sorted({str(Path(os.path.abspath(p)).resolve()) for p in paths})
    with ExitStack() as stack:
        for p in unique:
            stack.enter_context(_hold_one(Path(p), wait, on_wait, cancel))
        yield


@contextmanager
def claim_run(
    video: Path,
    options: DubOptions,
    *,
    wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
    analysis_only: bool = False,
) -> Iterator[None]:
    """A run's start: its outputs checked (a mistake is said at once, not after a wait),
    the project file, when there is one, a regular file (a FIFO would hang its reading),
    then the project and the outputs locked for the body."""
    if not analysis_only:
        check_outputs(video, options)
    for project in project_files(video):
        if os.path.lexists(project):
            check_input_file(project, "the project file", _PROJECT_LIMIT)
    keys = lock_keys(video, options, analysis_only)
    with hold_run(keys, wait=wait, on_wait=on_wait, cancel=cancel):
        yield
