"""Run the ffmpeg and ffprobe programs: argument lists, never shell strings.

Every path handed to ffmpeg goes through ``ffmpeg_path`` (``file:`` + the absolute path:
a name starting with '-' is otherwise read as an option, one holding ':' as a protocol),
and inputs open through ``input_args`` with ``-protocol_whitelist file``, so a playlist
hidden in a file cannot fetch URLs. Failures raise ``MediaError`` naming the file as the
caller gave it, never in the ``file:`` form, with the tail of ffmpeg's stderr.

Public API::

    class MediaError(Exception)                   # message names the file, quotes ffmpeg
    check_ffmpeg() -> None                        # raises MediaError with an install hint
    run_ffmpeg(args: list[str], path: Path, what: str, stdout=DEVNULL, shown=None)
        -> subprocess.CompletedProcess
    ffmpeg_error_tail(stderr: str, lines: int = 6, shown=None) -> str
    describe_failure(path, what, stderr, shown=None) -> str   # the message MediaError carries
    ffmpeg_path(path: Path) -> str                # "file:" + absolute path
    input_args(path: Path, *options: str) -> list[str]
        # [-protocol_whitelist file, *options, -i, ffmpeg_path(path)]
    LOCAL_ONLY: tuple[str, ...]                   # the input option reading local files only
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from core.media.child_process import child_command

_INSTALL_HINT = (
    "Dubsmith needs the ffmpeg and ffprobe programs. Install them with your package "
    "manager (Debian/Ubuntu: 'sudo apt install ffmpeg'; macOS: 'brew install ffmpeg'; "
    "Windows: 'winget install ffmpeg') or put them on PATH."
)


# Input option: ffmpeg reads local files only. Without it a text file beginning with
# '#EXTM3U' is opened as an HLS playlist whose entries may be http:// URLs.
LOCAL_ONLY: tuple[str, ...] = ("-protocol_whitelist", "file")

# A 'file:' prefix left in ffmpeg's text (before an absolute POSIX or Windows path).
_FILE_PREFIX = re.compile(r"\bfile:(?=/|[A-Za-z]:[\\/]|\\\\)")


class MediaError(Exception):
    """A media file could not be read or written; the message names the file."""


def check_ffmpeg() -> None:
    """Raise MediaError with an install hint unless ffmpeg and ffprobe are on PATH."""
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        raise MediaError(f"{' and '.join(missing)} not found. {_INSTALL_HINT}")


def ffmpeg_path(path: Path | str) -> str:
    """``path`` as ffmpeg and ffprobe must be given it: ``file:`` + the absolute path.

    The prefix pins the file protocol (ffmpeg reads 'ep1:pilot.mp4' as protocol 'ep1')
    and keeps a name from starting with '-' (an option); pathlib drops a leading './',
    so a relative name cannot be protected any other way.
    """
    return "file:" + str(Path(path).resolve())


def input_args(path: Path | str, *options: str) -> list[str]:
    """ffmpeg arguments opening ``path`` as a local-file-only input; ``options`` are
    further input options (such as '-f', 'srt') placed before its '-i'."""
    return [*LOCAL_ONLY, *options, "-i", ffmpeg_path(path)]


def _as_given(text: str, shown: Mapping[Path, Path | str]) -> str:
    """ffmpeg's text with each path written as the user gave it, not as 'file:/abs'."""
    # Longest first: one name may be the start of another (a.mp4, a.mp4.srt).
    pairs = sorted(((ffmpeg_path(k), str(v)) for k, v in shown.items()), key=lambda kv: -len(kv[0]))
    for given, name in pairs:
        text = text.replace(given, name)
    return _FILE_PREFIX.sub("", text)


def ffmpeg_error_tail(
    stderr: str | bytes, lines: int = 6, shown: Mapping[Path, Path | str] | None = None
) -> str:
    """The last meaningful lines of ffmpeg's stderr (the reason is always at the end).

    ``shown`` maps paths given to ffmpeg (through ffmpeg_path) to the names to print.
    """
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", errors="replace")
    stderr = _as_given(stderr, shown or {})
    kept = [ln.rstrip() for ln in stderr.splitlines() if ln.strip()]
    # Progress lines ("size=... time=...") say nothing about the failure.
    kept = [ln for ln in kept if not ln.lstrip().startswith(("size=", "frame=", "video:"))]
    return "\n".join(kept[-lines:])


def describe_failure(
    path: Path, what: str, stderr: str | bytes, shown: Mapping[Path, Path | str] | None = None
) -> str:
    tail = ffmpeg_error_tail(stderr, shown={path: path} if shown is None else shown)
    reason = ""
    low = tail.lower()
    if "invalid data found" in low or "moov atom not found" in low:
        reason = " (the file is damaged or is not a media file)"
    elif "no space left on device" in low:
        reason = " (the disk is full)"
    msg = f"Could not {what} '{path}'{reason}."
    if tail:
        msg += "\nffmpeg said:\n" + "\n".join("  " + ln for ln in tail.splitlines())
    return msg


def run_ffmpeg(
    args: list[str],
    path: Path,
    what: str,
    stdout: int | None = subprocess.DEVNULL,
    shown: Mapping[Path, Path | str] | None = None,
) -> subprocess.CompletedProcess:
    """Run an ffmpeg/ffprobe argument list (program name first); on failure raise
    MediaError naming ``path``. Paths in ``args`` must come from ffmpeg_path /
    input_args; ``shown`` (default: ``path`` as itself) says how to print them."""
    check_ffmpeg()
    try:
        # Started so that it dies with this process (a kill -9 leaves no ffmpeg behind).
        proc = subprocess.run(
            child_command(args), stdout=stdout, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
    except OSError as exc:  # binary vanished, or not executable
        raise MediaError(f"Could not {what} '{path}': {exc}. {_INSTALL_HINT}") from exc
    if proc.returncode != 0:
        raise MediaError(describe_failure(path, what, proc.stderr, shown))
    return proc
