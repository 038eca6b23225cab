"""Saving a project a couple of seconds after its last unsaved change, without timers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class Saveable(Protocol):
    """What an Autosaver saves: a `core.project.Project`."""

    def save(self, path: str | os.PathLike[str] | None = None) -> Path: ...


class Autosaver:
    """Saves a project once it has had unsaved changes for `interval_s` seconds.

    No timers or threads: the GUI calls `maybe_save()` from a timer tick, the CLI after each
    step, and `flush()` before quitting. Measuring from the first unsaved change coalesces a
    burst of edits into one save, yet a steady stream of edits is still saved every
    `interval_s`. A failed save keeps the project dirty and is retried an interval later.
    """

    def __init__(
        self,
        project: Saveable,
        path: str | os.PathLike[str] | None = None,
        *,
        interval_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.project = project
        self.path = None if path is None else Path(path)
        self.interval_s = interval_s
        self.clock = clock
        self.dirty_since: float | None = None
        self.saves = 0

    @property
    def dirty(self) -> bool:
        return self.dirty_since is not None

    def mark_dirty(self, now: float | None = None) -> None:
        if self.dirty_since is None:
            self.dirty_since = self.clock() if now is None else now

    def maybe_save(self, now: float | None = None) -> bool:
        """Save if dirty for at least `interval_s`; True when it saved."""
        if self.dirty_since is None:
            return False
        now = self.clock() if now is None else now
        if now - self.dirty_since < self.interval_s:
            return False
        return self._save(now)

    def flush(self) -> bool:
        """Save now if there are unsaved changes; True when it saved."""
        if self.dirty_since is None:
            return False
        return self._save(self.clock())

    def _save(self, now: float) -> bool:
        try:
            self.project.save(self.path)
        except Exception:
            self.dirty_since = now  # retry after another interval, not on every tick
            raise
        self.dirty_since = None
        self.saves += 1
        return True
