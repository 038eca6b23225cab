"""What a dub did, line by line: for the CLI's --report, the GUI's table and the tests."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.notices import Notice
from models.contract import SAMPLE_RATE


@dataclass
class LineReport:
    index: int  # the line's cue number: the table's, the warnings' and its stem's
    speaker: str
    text: str
    span_start_ms: int
    span_end_ms: int
    duration_mode: str  # the mode the line rendered in: its own, else the dub's
    target_samples_22k: int | None
    rendered_samples_22k: int | None
    placed_at_48k: int | None
    cached: bool = False
    pace: float | None = None
    flag: str | None = None  # what rendering noticed (stretched, fitted, cut...)
    pace_flag: str | None = None  # what planning noticed (text too long/short for the span)
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # The listening check (when a whisper model is installed): what the take says, and how
    # far that is from the line's text (word or character error rate).
    error_rate: float | None = None
    heard: str | None = None
    check_flag: str | None = None
    takes_tried: int = 1
    voice_similarity: float | None = None  # cosine of the take's and the prompt's voice
    # Which engine rendered the line, at which rate, and exactly how many samples there.
    engine: str | None = None
    sample_rate: int | None = None
    rendered_samples: int | None = None
    # How a fitted engine (VoxCPM2: no duration input) landed the line in its span:
    # "natural" (its first take fit), "paced" (a faster/slower retake did), "closest" (the
    # best of the candidates, stretched to the limit, then padded or cut); the stretch
    # applied (+0.03: 3 % longer), how many candidates were rendered, the pace asked.
    fit_method: str | None = None
    fit_stretch: float | None = None
    fit_candidates: int | None = None
    fit_pace: str | None = None
    # The fit report of IndexTTS lines (models/guided.py): the slot's token count, what was
    # decoded, the stop (natural: the model chose it; forced: T, the window's end or the
    # bound did), where the model first wished to stop (None: never), the stop window, and
    # a forced stop without that wish: a suspected cut (retaken first by --retakes).
    tokens_target: int | None = None
    tokens_decoded: int | None = None
    stop: str | None = None
    stop_wish: int | None = None
    stop_window: list[int] | None = None
    suspected_cut: bool = False


# LineReport field <- the take's fit record key (models.contract.SynthesisResult.fit).
FIT_FIELDS = {
    "fit_method": "method",
    "fit_stretch": "stretch",
    "fit_candidates": "candidates",
    "fit_pace": "pace",
    "tokens_target": "tokens_target",
    "tokens_decoded": "tokens_decoded",
    "stop": "stop",
    "stop_wish": "stop_wish",
    "stop_window": "window",
    "suspected_cut": "suspected_cut",
}


def fit_fields(fit: dict | None) -> dict:
    """A take's fit record as LineReport fields (those it lacks keep their defaults)."""
    fit = fit or {}
    return {name: fit[key] for name, key in FIT_FIELDS.items() if fit.get(key) is not None}


@dataclass
class DubReport:
    video: Path
    output: Path | None
    lines: list[LineReport]
    warnings: list[Notice]  # all of them; the CLI prints them grouped by kind
    wall_s: float = 0.0
    step_s: dict[str, float] = field(default_factory=dict)
    # The mix's loudness against its preset, and with --deliver what was delivered
    # (core/deliver/stage.py).
    delivery: dict | None = None

    @property
    def failed(self) -> list[LineReport]:
        return [r for r in self.lines if r.error]

    def to_json(self) -> dict:
        audio_s = sum((r.rendered_samples_22k or 0) for r in self.lines) / SAMPLE_RATE
        return {
            "video": str(self.video),
            "output": str(self.output) if self.output else None,
            "lines": [asdict(r) for r in self.lines],
            "warnings": [str(w) for w in self.warnings],
            "warning_counts": dict(Counter(w.kind for w in self.warnings)),
            "delivery": self.delivery,
            "totals": {
                "lines": len(self.lines),
                "rendered": sum(1 for r in self.lines if r.rendered_samples_22k and not r.cached),
                "cached": sum(1 for r in self.lines if r.cached),
                "failed": len(self.failed),
                "wall_s": round(self.wall_s, 3),
                "audio_s": round(audio_s, 3),
                "steps_s": {k: round(v, 3) for k, v in self.step_s.items()},
            },
        }


def write_report(report: DubReport, path: Path) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    tmp.replace(path)
    return path
