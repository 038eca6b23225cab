"""One line of the dub as the job's stages fill it in."""

from __future__ import annotations

from dataclasses import dataclass

from core.lines.listening import TakeCheck
from core.lines.render import Take
from core.lines.timing import Timing
from core.subtitles.read import Cue
from models.contract import DurationMode, SynthesisRequest

RETAKE_SEED_STEP = 7919  # a retake's seed: far from every line's own (a prime step)


@dataclass
class LinePlan:
    """One line of the dub, filled in stage by stage."""

    cue: Cue
    speaker: str
    seed: int
    # The line's own duration mode, else the dub's: what its request, its take, the take
    # cache key and its report carry.
    mode: DurationMode = DurationMode.EXACT
    timing: Timing | None = None
    request: SynthesisRequest | None = None
    take: Take | None = None
    error: str | None = None
    check: TakeCheck | None = None  # the listening check of `take`
    similarity: float | None = None  # the take's voice against its speaker's prompt
    takes_tried: int = 1

    @property
    def index(self) -> int:
        return self.cue.index
