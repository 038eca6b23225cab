"""Child processes (ffmpeg) that die with the dub that started them.

A dub killed with SIGKILL cannot clean up; an ffmpeg it started would go on writing the
hidden temp file beside the output (and finish it, with nobody left to rename it). On
Linux each child is therefore started through a tiny launcher that asks the kernel for
SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``) and then execs the program:
the setting survives the exec, and the program keeps the launcher's pid.

Why a launcher and not ``preexec_fn``: Python code run between fork and exec is not safe
in a process with threads (the window, torch's pools, a batch's workers): the child may
deadlock on a lock another thread held at fork time. The launcher is a fresh interpreter
(``-I -S``: no site, no environment; about 36 ms a start on the 2-core test machine,
bench/child_launcher.py), so nothing is inherited mid-lock.
Why not a new process group (``process_group=0``): it would not survive the parent's
death either, and it would keep Ctrl-C from the terminal away from ffmpeg, which today
stops a running export at once.

The parent-death signal fires when the *thread* that started the child ends; every
caller here waits for its child on the same thread (``subprocess.run``), so that is the
process's lifetime in practice. Elsewhere (macOS, Windows, a frozen build) the command
is run as it is.

    child_command(args) -> list[str]
"""

from __future__ import annotations

import errno
import os
import shutil
import sys

_PR_SET_PDEATHSIG = 1
# argv: parent pid, program, its arguments. If the parent died before prctl took effect
# the child would be orphaned for good: getppid() tells, and the launcher gives up.
_LAUNCHER = (
    "import ctypes,os,signal,sys\n"
    f"ctypes.CDLL(None).prctl({_PR_SET_PDEATHSIG}, signal.SIGKILL)\n"
    "if os.getppid() != int(sys.argv[1]): os._exit(137)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def parent_death_supported() -> bool:
    # A frozen build's sys.executable is the application itself, not an interpreter.
    frozen = getattr(sys, "frozen", False)
    return sys.platform.startswith("linux") and bool(sys.executable) and not frozen


def child_command(args: list[str]) -> list[str]:
    """``args`` (program first) as an argument list that dies with this process. The
    program is looked up on PATH here, so a missing one raises FileNotFoundError as
    subprocess would (callers turn that into their install hint)."""
    program = shutil.which(args[0])
    if program is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), args[0])
    if not parent_death_supported():
        return [program, *args[1:]]
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(os.getpid()), program, *args[1:]]
