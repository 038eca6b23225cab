"""The listening check after rendering: each take heard and scored against its text,
the failing ones rendered again with new seeds (core/lines/retakes.py keeps the better)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from core.job.events import JobEvents
from core.job.lines import RETAKE_SEED_STEP, LinePlan
from core.job.project_keeper import ProjectKeeper
from core.lines.cut_check import cut_note, needs_retake, retake_first
from core.lines.listening import Listener, TakeCheck, check_take
from core.lines.render import CancelToken, Take, TakeCache, render
from core.notices import Notice
from core.settings import DubSettings
from models.contract import Engine


def check_and_retake(
    lines: list[LinePlan],
    listener: Listener,
    settings: DubSettings,
    language: str | None,
    engine: Engine,
    cache: TakeCache,
    cancel: CancelToken,
    keeper: ProjectKeeper | None,
    events: JobEvents,
    better: Callable[[LinePlan, Take, TakeCheck], bool],
) -> list[LinePlan]:
    """Each take checked; with `retakes`, the failing rendered again, keeping the better
    take (`better`). Returns the lines still failing after the last retake."""
    for line in lines:
        if line.take is not None:
            line.check = check_take(
                listener, line.take.audio, line.take.sample_rate, line.cue.text, language
            )
    # Suspected cuts whose last words are not heard come first (core/lines/cut_check.py).
    failing = retake_first(lines, settings.max_error_rate, language)
    for attempt in range(1, settings.retakes + 1):
        if not failing:
            break
        cancel.check()
        requests = [
            dataclasses.replace(ln.request, seed=ln.seed + RETAKE_SEED_STEP * attempt)
            for ln in failing
        ]
        outcome = render(engine, requests, cache, cancel=cancel)
        still = []
        for line, take in zip(failing, outcome.takes, strict=True):
            line.takes_tried += 1
            if take is None:
                still.append(line)
                continue
            check = check_take(listener, take.audio, take.sample_rate, line.cue.text, language)
            if better(line, take, check):  # the better take is kept
                line.take, line.check = take, check
                if keeper:
                    keeper.record_take(
                        line.index,
                        take,
                        cache.path(take.key),
                        line.mode,
                        line.seed + RETAKE_SEED_STEP * attempt,
                    )
                events.line_rendered(line.index, take)
            if needs_retake(line, settings.max_error_rate, language):
                still.append(line)
        failing = still
    return failing


def failing_notice(line: LinePlan, language: str | None) -> Notice:
    """What the user is told of a take that still fails the check."""
    return Notice(
        line.index,
        "listening",
        f'the take says "{line.check.transcript[:60]}" '
        f"({line.check.error_rate:.0%} off its text, after {line.takes_tried} "
        f"take(s)){cut_note(line, language)}; listen to it",
    )
