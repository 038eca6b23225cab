"""The one Ctrl-C wrapper every command runs inside (app/cli/ctrl_c.py): what a cancel, a
failure and an unexpected error become, and that the terminal is left as it was."""

from __future__ import annotations

import os
import signal

import pytest

from app.cli import EXIT_CANCELLED, EXIT_FAILED, EXIT_INPUT, EXIT_USAGE
from app.cli.ctrl_c import CtrlC
from core.errors import InputError
from core.lines.render import Cancelled


class Bars:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


@pytest.fixture(autouse=True)
def _sigint_restored():
    before = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, before)


def test_first_ctrl_c_cancels_through_the_token_second_stops_at_once(capsys):
    before = signal.getsignal(signal.SIGINT)
    bars = Bars()
    guard = CtrlC(bars, cancelled="demo cancelled")
    with guard:
        os.kill(os.getpid(), signal.SIGINT)
        assert guard.token.cancelled  # the work sees it and winds down
        os.kill(os.getpid(), signal.SIGINT)  # impatient: KeyboardInterrupt
        raise AssertionError("not reached")
    assert guard.code == EXIT_CANCELLED
    assert bars.closed == 1
    assert signal.getsignal(signal.SIGINT) is before
    err = capsys.readouterr().err
    assert "Ctrl-C again to stop at once" in err and "dubsmith: demo cancelled" in err


def test_the_cancel_line_can_be_worked_out_at_the_cancel_or_left_out(capsys):
    said = []
    with CtrlC(cancelled=lambda: said.append(1) or "kept 3 lines") as guard:
        raise Cancelled()
    assert guard.code == EXIT_CANCELLED and said == [1]
    assert capsys.readouterr().err == "dubsmith: kept 3 lines\n"
    with CtrlC(cancelled=None) as quiet:  # batch: its summary says "(cancelled)"
        raise Cancelled()
    assert quiet.code == EXIT_CANCELLED and capsys.readouterr().err == ""


def test_a_failure_is_one_line_and_its_exit_code(capsys):
    bars = Bars()
    with CtrlC(bars, cancelled="x") as guard:
        raise InputError("the subtitles are not UTF-8 or any known encoding")
    assert guard.code == EXIT_INPUT and bars.closed == 1
    err = capsys.readouterr().err
    assert err == "dubsmith: the subtitles are not UTF-8 or any known encoding\n"
    with CtrlC(cancelled="x") as odd:
        raise ZeroDivisionError("division by zero")
    assert odd.code == EXIT_FAILED
    assert capsys.readouterr().err == "dubsmith: ZeroDivisionError: division by zero\n"


def test_a_command_picks_its_own_cancels_and_failures():
    class Stopped(Exception):
        pass

    def failed(exc: Exception) -> int | None:
        return EXIT_USAGE if isinstance(exc, LookupError) else None

    with CtrlC(cancelled=None, failed=failed, cancel_errors=(Stopped,)) as guard:
        raise Stopped()
    assert guard.code == EXIT_CANCELLED
    with CtrlC(cancelled=None, failed=failed) as guard:
        raise KeyError("no such model")
    assert guard.code == EXIT_USAGE
    bars = Bars()
    with pytest.raises(RuntimeError), CtrlC(bars, cancelled=None, failed=failed):
        raise RuntimeError("not this command's to explain")  # passed through, bars closed
    assert bars.closed == 1


def test_finished_work_leaves_no_code_and_closes_the_bars():
    bars = Bars()
    with CtrlC(bars, cancelled="x") as guard:
        pass
    assert guard.code is None and bars.closed == 1
