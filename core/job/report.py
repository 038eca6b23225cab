"""The report stage's parts: each line's report (core/deliver/dub_report.py holds the report)."""

from __future__ import annotations

import numpy as np

from core.deliver.dub_report import LineReport, fit_fields
from core.job.lines import LinePlan
from models.contract import SAMPLE_RATE


def line_report(
    line: LinePlan, max_error_rate: float, engine: str | None, placed_at_48k: int | None
) -> LineReport:
    t, take = line.timing, line.take
    assert t is not None  # a line refused at planning has no request
    check = line.check
    flagged = check is not None and check.error_rate > max_error_rate
    return LineReport(
        error_rate=None if check is None else round(check.error_rate, 3),
        heard=None if check is None else check.transcript,
        check_flag=f"{check.error_rate:.0%} off its text" if flagged else None,
        takes_tried=line.takes_tried,
        voice_similarity=line.similarity,
        index=line.index,
        speaker=line.speaker,
        text=line.cue.text,
        span_start_ms=t.span.start_ms,
        span_end_ms=t.span.end_ms,
        duration_mode=line.mode.value,
        target_samples_22k=line.request.target_samples() if line.request else t.samples_22k,
        rendered_samples_22k=(
            round(len(take.audio) * SAMPLE_RATE / take.sample_rate) if take else None
        ),
        engine=engine,
        sample_rate=take.sample_rate if take else None,
        rendered_samples=len(take.audio) if take else None,
        **fit_fields(take.fit if take else None),  # core/deliver/dub_report.py
        placed_at_48k=placed_at_48k,
        cached=bool(take and take.cached),
        pace=round(t.pace, 3) if np.isfinite(t.pace) else None,
        flag=take.flagged if take else None,
        pace_flag=t.flag,
        error=line.error,
        timings=dict(take.timings) if take else {},
    )
