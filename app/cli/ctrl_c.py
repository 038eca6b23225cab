"""The one Ctrl-C wrapper every long command runs inside."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

from app.cli.codes import EXIT_CANCELLED
from app.cli.failures import report_failure
from app.cli.terminal import err


class CtrlC:
    """First Ctrl-C cancels cleanly through `token` (finished lines kept), a second stops
    at once. Leaving the block closes the progress bars; a cancel or a failure inside it
    becomes one line on stderr and the exit code in `code` (None: the work finished).

        guard = CtrlC(bars, cancelled="demo cancelled")
        with guard:
            result = run_demo(..., cancel=guard.token)
        if guard.code is not None:
            return guard.code

    `cancelled` is the line said on a cancel (a callable: worked out then; None: say
    nothing). `failed` says what failed and returns the exit code, or None to let the
    exception through. `cancel_errors` are the exceptions that mean "cancelled" besides
    KeyboardInterrupt (default: core.lines.render.Cancelled).
    """

    def __init__(
        self,
        bars: Any = None,
        *,
        cancelled: str | Callable[[], str] | None,
        failed: Callable[[Exception], int | None] = report_failure,
        cancel_errors: tuple[type[BaseException], ...] | None = None,
    ) -> None:
        from core.lines.render import Cancelled, CancelToken

        self.token = CancelToken()
        self.bars = bars
        self.cancelled = cancelled
        self.failed = failed
        self.cancel_errors = (Cancelled,) if cancel_errors is None else cancel_errors
        self.code: int | None = None

    def __enter__(self) -> CtrlC:
        self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        signal.signal(signal.SIGINT, self.previous)
        if self.bars is not None:
            self.bars.close()
        if exc is None:
            return False
        if isinstance(exc, (KeyboardInterrupt, *self.cancel_errors)):
            message = self.cancelled() if callable(self.cancelled) else self.cancelled
            if message:
                err(message)
            self.code = EXIT_CANCELLED
            return True
        if isinstance(exc, Exception):
            self.code = self.failed(exc)
            return self.code is not None
        return False

    def _handler(self, signum, frame) -> None:
        if self.token.cancelled:
            raise KeyboardInterrupt
        self.token.cancel()
        err("cancelling after the lines being rendered... (Ctrl-C again to stop at once)")
