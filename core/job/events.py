"""What a running job tells its listener, and the stages it tells of."""

from __future__ import annotations

from collections.abc import Callable

from core.lines.render import Take
from core.notices import Notice

ProgressFn = Callable[[str, int, int], None]

STAGES = (
    "read",
    "engine",
    "extract",
    "analyze",
    "plan",
    "voices",
    "render",
    "mix",
    "export",
    "deliver",
    "report",
)
STEPS = STAGES
# Rough shares of a dub's time on a CPU (rendering is nearly all of it), so one progress
# bar moves with the work instead of jumping to half before the first line renders.
STAGE_WEIGHTS = {
    "read": 1,
    "engine": 5,
    "extract": 3,
    "analyze": 1,
    "plan": 1,
    "voices": 3,
    "render": 80,
    "mix": 3,
    "export": 3,
    "deliver": 0,  # without --deliver it only measures the mix
    "report": 0,
}


class JobEvents:
    """What a running job tells its listener. Subclass and override what you need; every
    method is called on the thread that runs the job."""

    def stage(self, name: str, done: int, total: int) -> None:
        pass

    def line_rendered(self, index: int, take: Take) -> None:
        pass

    def warning(self, notice: Notice) -> None:
        pass


class ProgressEvents(JobEvents):
    """The older `progress(step, done, total)` callback as a listener."""

    def __init__(self, progress: ProgressFn) -> None:
        self.progress = progress

    def stage(self, name: str, done: int, total: int) -> None:
        self.progress(name, done, total)
