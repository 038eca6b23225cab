"""A command whose reader leaves early (`dubsmith models list | head`) ends quietly."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def until_reader_leaves(command: Callable[[], int]) -> int:
    """Run ``command``; when the pipe it prints into is closed by its reader, stop there
    with exit 0, as `ls | head` does, instead of a BrokenPipeError traceback."""
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
