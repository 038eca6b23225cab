"""What the command line prints on the terminal: error lines, progress bars on stderr,
the dub's notices, and a quiet end when the reader of stdout leaves."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

INFO_KINDS = frozenset({"device", "precision", "speakers", "listening-off", "engine", "separation"})


def err(msg: str) -> None:
    print(f"dubsmith: {msg}", file=sys.stderr)


class Bars:
    """One tqdm bar per pipeline step, on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.step = None

    # Stages that take no time worth a bar on the terminal.
    QUIET = frozenset({"analyze", "plan", "report"})
    # Every stage but the lines counts in its own units (ms of film for the extraction and
    # the export, blocks for the mix): the share done and the time left say more.
    SHARE = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]"

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self.enabled or step in self.QUIET:
            return
        if not sys.stderr.isatty():  # a log: one line per stage, not a redrawn bar
            if step != self.step:
                self.step = step
                print(f"{step}...", file=sys.stderr)
            return
        from tqdm import tqdm

        if step != self.step:
            self.close()
            self.step = step
            self.bar = tqdm(
                total=max(total, 1),
                desc=f"{step:8s}",
                unit="line" if step == "render" else "step",
                file=sys.stderr,
                leave=True,
                **({} if step == "render" else {"bar_format": self.SHARE}),
            )
        self.bar.total = max(total, 1)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class DownloadBars:
    """One tqdm bar per file on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.path = None

    def __call__(self, p) -> None:
        if not self.enabled:
            return
        if not sys.stderr.isatty():  # a log: one line per file
            if p.path != self.path:
                self.path = p.path
                print(f"[{p.file_number + 1}/{p.file_count}] {p.path}", file=sys.stderr)
            return
        from tqdm import tqdm

        if p.path != self.path:
            self.close()
            self.path = p.path
            self.bar = tqdm(
                total=p.total_bytes,
                desc=f"[{p.file_number + 1}/{p.file_count}] {p.path}",
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                leave=False,
            )
        self.bar.total = p.total_bytes
        self.bar.n = p.done_bytes
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def print_warnings(notices, keep_all_hint: bool) -> None:
    from core.notices import group_notices

    # What the dub decided (the device, who speaks) is said plainly, not as a warning.
    for n in notices:
        if n.kind in INFO_KINDS:
            print(str(n), file=sys.stderr)
    notices = [n for n in notices if n.kind not in INFO_KINDS]
    # Grouped by kind: a 10,000-cue file must not bury the result under its warnings.
    for w in group_notices(notices):
        print(f"warning: {w}", file=sys.stderr)
    if len(notices) > 20 and keep_all_hint:
        print("warning: pass --report REPORT.json to keep every warning", file=sys.stderr)


def until_reader_leaves(command: Callable[[], int]) -> int:
    """Run ``command``; when the pipe it prints into is closed by its reader
    (`dubsmith models list | head`), stop there with exit 0, as `ls | head` does, instead
    of a BrokenPipeError traceback."""
    try:
        code = command()
        sys.stdout.flush()  # the last buffered lines fail here, not at interpreter exit
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at /dev/null so that flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    return code
