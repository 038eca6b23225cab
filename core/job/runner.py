"""The stage runner: every stage of a job is run, timed and reported the same way."""

from __future__ import annotations

import time
from collections.abc import Callable

from core.job.events import JobEvents
from core.lines.render import CancelToken

Tick = Callable[[int, int], None]


class StageRunner:
    """Runs named stages: cancel checked before each, progress reported, time measured."""

    def __init__(self, events: JobEvents, cancel: CancelToken) -> None:
        self.events = events
        self.cancel = cancel
        self.seconds: dict[str, float] = {}

    def run(self, name: str, stage: Callable[[Tick], None]) -> None:
        if name != "report":  # once the output is written, the report is part of it
            self.cancel.check()
        self.events.stage(name, 0, 1)
        t0 = time.perf_counter()
        last_total = [1]

        def tick(done: int, total: int) -> None:
            last_total[0] = max(total, 1)
            self.events.stage(name, done, total)

        stage(tick)
        self.seconds[name] = time.perf_counter() - t0
        self.events.stage(name, last_total[0], last_total[0])  # done, in its own units
