"""The progress bar's figures and words, as pure functions (unit-tested without a window)."""

from __future__ import annotations

from collections.abc import Sequence

from core.job.pipeline import STAGE_WEIGHTS, STEPS

MIN_LINES_FOR_ESTIMATE = 2  # the first lines include warm-up: no estimate before this many


def overall_fraction(
    step: str, done: int, total: int, steps: Sequence[str] = STEPS
) -> float | None:
    """How far the whole dub is, in [0, 1], when `step` has done `done` of `total`; None for a
    step that is not one of the dub's. Each step counts by its share of the work (the core's
    STAGE_WEIGHTS: rendering is nearly all of it; equal shares showed 57 % before the first
    line was rendered); a step without a weight counts 1."""
    if step not in steps:
        return None
    weights = [STAGE_WEIGHTS.get(s, 1) for s in steps]
    i = steps.index(step)
    part = min(1.0, max(0.0, done / total)) if total > 0 else 1.0
    return (sum(weights[:i]) + weights[i] * part) / sum(weights)


def time_left_s(first_done: int, done: int, total: int, elapsed_s: float) -> float | None:
    """Seconds left at the pace since the step started (when `first_done` were already done,
    e.g. taken from the cache); None until MIN_LINES_FOR_ESTIMATE more are done."""
    new = done - first_done
    if new < MIN_LINES_FOR_ESTIMATE or elapsed_s <= 0 or done >= total:
        return None
    return (total - done) * elapsed_s / new


def describe_left(seconds: float) -> str:
    """A rough, calm estimate: "about 40 s left", "about 3 min left", "about 1 h 5 min left"."""
    s = round(seconds)
    if s < 60:
        return f"about {max(5, round(s / 5) * 5)} s left"
    m = round(s / 60)
    if m < 60:
        return f"about {m} min left"
    return f"about {m // 60} h {m % 60} min left"


def step_text(step: str, done: int, total: int, left_s: float | None = None) -> str:
    """The label beside the bar: the line being rendered, and the time left once known."""
    if step == "render" and total and done < total:
        text = f"render: line {done + 1} of {total}"
    else:
        text = f"{step} {done}/{total}"
    if left_s is not None:
        text += f", {describe_left(left_s)}"
    return text
