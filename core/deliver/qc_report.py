"""The QC report: one self-contained HTML page (inline SVG, inline CSS, no script, no
link out) that a reviewer opens in any browser, from any folder, offline.

It shows the delivered mix's loudness against the preset (integrated, range, true peak,
and the short-term curve over time), the timeline of every line on its speaker's lane
coloured by its state (fits; flagged by planning, rendering or the listening check;
failed), each line's listening error and voice similarity, per speaker figures, and the
delivered files. Each picture has its table beside it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from core.atomic_files import atomic_write_bytes
from core.audio.loudness_presets import LoudnessFigures, LoudnessPreset
from core.deliver import svg

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1d232a;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2e7}
.row{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}
table{border-collapse:collapse;font-size:12px} td,th{padding:3px 8px;border-bottom:1px solid #e8ebee;text-align:left}
th{background:#f4f6f8} .num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#2e7d4f;font-weight:600} .fail{color:#b3412e;font-weight:600}
.lines{max-height:420px;overflow:auto;display:block} .key span{display:inline-block;margin-right:14px}
.note{color:#6b7580;font-style:italic}
.sw{display:inline-block;width:12px;height:12px;vertical-align:-1px;margin-right:4px}
"""


@dataclass(frozen=True)
class LoudnessSummary:
    preset: LoudnessPreset
    target_lufs: float | None  # the target the gain aimed at (match-original: the original's)
    mix: LoudnessFigures
    mix_curve: Sequence[float] = ()
    original: LoudnessFigures | None = None
    original_curve: Sequence[float] = ()
    step_s: float = 0.1

    def passes(self) -> bool:
        tp_ok = self.mix.true_peak_dbtp <= self.preset.true_peak_dbtp + 1e-6
        if self.target_lufs is None or not self.preset.normalize or self.preset.dialogue_gated:
            return tp_ok  # only the ceiling is ours to hold (gated: measured on dialogue)
        return tp_ok and abs(self.mix.integrated_lufs - self.target_lufs) <= 0.5


@dataclass(frozen=True)
class QcInput:
    name: str
    duration_s: float
    lines: Sequence[dict]  # core.deliver.dub_report.LineReport as dicts
    loudness: LoudnessSummary
    max_error_rate: float = 0.3
    files: dict[str, Path] = field(default_factory=dict)


def _fmt(v: float | None, spec: str = ".2f", unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:{spec}}{unit}"


def line_state(line: dict, max_error_rate: float) -> tuple[str, str]:
    """(colour, words) of a line: failed, flagged (and why), or fits."""
    if line.get("error"):
        return svg.BAD, f"failed: {line['error']}"
    reasons = [line.get(k) for k in ("flag", "pace_flag", "check_flag") if line.get(k)]
    err = line.get("error_rate")
    if err is not None and err > max_error_rate and not line.get("check_flag"):
        reasons.append(f"{err:.0%} off its text")
    if line.get("suspected_cut"):
        reasons.append("suspected cut")
    if reasons:
        return svg.WARN, "; ".join(str(r) for r in reasons)
    return svg.OK, "fits"


def _rendered_s(line: dict) -> float | None:
    n, rate = line.get("rendered_samples"), line.get("sample_rate")
    return n / rate if n and rate else None


_NUMBER = re.compile(r"^(–|[-+]?[\d.]+ ?(%|s|LU|LUFS|dBTP)?)$")  # right-aligned cells


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(c)}</td>' if _NUMBER.match(c) else f"<td>{escape(c)}</td>"
            for c in r
        )
        + "</tr>"  # fmt: skip
        for r in rows
    )
    return f'<table class="{cls}"><tr>{th}</tr>{body}</table>'


def _loudness_section(q: QcInput) -> str:
    lo = q.loudness
    verdict = "pass" if lo.passes() else "fail"
    target = "–" if lo.target_lufs is None else f"{lo.target_lufs:.1f} LUFS"
    if lo.preset.dialogue_gated:
        target += " (dialogue-gated)"
    rows = [
        ("preset", lo.preset.name),
        ("target", target),
        ("true-peak ceiling", f"{lo.preset.true_peak_dbtp:.1f} dBTP"),
        ("integrated", _fmt(lo.mix.integrated_lufs, ".1f", " LUFS")),
        ("loudness range", _fmt(lo.mix.range_lu, ".1f", " LU")),
        ("true peak", _fmt(lo.mix.true_peak_dbtp, ".1f", " dBTP")),
    ]
    if lo.original is not None:
        rows.append(("original integrated", _fmt(lo.original.integrated_lufs, ".1f", " LUFS")))
    series = [("dub mix", list(lo.mix_curve), svg.PALETTE[0])]
    if lo.original_curve is not None and len(lo.original_curve):
        series.append(("original", list(lo.original_curve), svg.MUTED))
    chart = svg.curve_chart(series, lo.step_s, q.duration_s, target=lo.target_lufs, width=720)
    return (
        f'<h2>Loudness <span class="{verdict}">{verdict.upper()}</span></h2>'
        f'<div class="row"><div>{chart}</div>{_table(("measure", "value"), rows)}</div>'
    )


def _timeline_section(q: QcInput) -> str:
    speakers = sorted({str(ln["speaker"]) for ln in q.lines})
    bars = []
    rows = []
    for ln in q.lines:
        color, words = line_state(ln, q.max_error_rate)
        a, b = ln["span_start_ms"] / 1000, ln["span_end_ms"] / 1000
        rendered = _rendered_s(ln)
        placed = ln.get("placed_at_48k")
        inner = (
            (placed / 48000, placed / 48000 + rendered) if placed is not None and rendered else None
        )
        fit = rendered / (b - a) if rendered and b > a else None
        title = (f"#{ln['index']} {ln['speaker']}: {ln['text']}\n{words}\nfit {_fmt(fit, '.0%')}, "
                 f"error {_fmt(ln.get('error_rate'), '.0%')}, "
                 f"similarity {_fmt(ln.get('voice_similarity'))}")  # fmt: skip
        bars.append(svg.Bar(speakers.index(str(ln["speaker"])), a, b, color, title, inner))
        rows.append((
            str(ln["index"]), str(ln["speaker"]), f"{a:.2f}", f"{b - a:.2f}",
            _fmt(fit, ".0%"), _fmt(ln.get("error_rate"), ".0%"),
            _fmt(ln.get("voice_similarity")), words, ln["text"][:60],
        ))  # fmt: skip
    key = "".join(
        f'<span><i class="sw" style="background:{c}"></i>{w}</span>'
        for c, w in ((svg.OK, "fits"), (svg.WARN, "flagged"), (svg.BAD, "failed"))
    )
    labels = [str(ln["index"]) for ln in q.lines]
    colors = [line_state(ln, q.max_error_rate)[0] for ln in q.lines]
    errors = svg.bar_chart(labels, [ln.get("error_rate") for ln in q.lines], colors,
                           limit=q.max_error_rate, top_value=1.0, label="listening error")  # fmt: skip
    sims = svg.bar_chart(labels, [ln.get("voice_similarity") for ln in q.lines],
                         [svg.PALETTE[0]] * len(labels), label="voice similarity")  # fmt: skip
    head = ("#", "speaker", "start s", "span s", "fit", "error", "similarity", "state", "text")
    return (
        "<h2>Timeline</h2>"
        f'<div class="key">{key} (the darker bar: the rendered take where the mix put it)</div>'
        f"{svg.timeline_chart(speakers, bars, q.duration_s)}"
        "<h2>Listening error per line</h2>"
        f"{_or_note(errors, q.lines, 'error_rate', _NO_LISTENING)}"
        "<h2>Voice similarity per line</h2>"
        f"{_or_note(sims, q.lines, 'voice_similarity', _NO_LISTENING)}"
        f"<h2>Lines</h2>{_table(head, rows, 'lines')}"
    )


_NO_LISTENING = "not measured: the listening check needs the whisper/ model"


def _or_note(chart: str, lines: Sequence[dict], key: str, note: str) -> str:
    """The chart, or a plain note where no line has the figure (an empty chart reads as
    all zeros)."""
    if any(ln.get(key) is not None for ln in lines):
        return chart
    return f'<p class="note">{escape(note)}</p>'


def _speaker_section(q: QcInput) -> str:
    speakers = sorted({str(ln["speaker"]) for ln in q.lines})
    rows, seconds, sims = [], [], []
    for s in speakers:
        own = [ln for ln in q.lines if str(ln["speaker"]) == s]
        secs = sum(_rendered_s(ln) or 0.0 for ln in own)
        sim = [ln["voice_similarity"] for ln in own if ln.get("voice_similarity") is not None]
        err = [ln["error_rate"] for ln in own if ln.get("error_rate") is not None]
        flagged = sum(line_state(ln, q.max_error_rate)[0] != svg.OK for ln in own)
        seconds.append(secs)
        sims.append(sum(sim) / len(sim) if sim else None)
        rows.append((
            s, str(len(own)), f"{secs:.1f}", str(flagged),
            _fmt(sum(err) / len(err) if err else None, ".0%"), _fmt(sims[-1]),
        ))  # fmt: skip
    colors = [svg.PALETTE[i % len(svg.PALETTE)] for i in range(len(speakers))]
    top = max(seconds, default=1.0) or 1.0
    chart = svg.bar_chart(speakers, seconds, colors, top_value=top, unit=" s", width=420,
                          height=180, label="dubbed seconds per speaker")  # fmt: skip
    simchart = svg.bar_chart(speakers, sims, colors, width=420, height=180,
                             label="mean voice similarity per speaker")  # fmt: skip
    head = ("speaker", "lines", "dubbed s", "flagged", "mean error", "mean similarity")
    return (
        "<h2>Speakers</h2>"
        f'<div class="row"><div><div>dubbed seconds</div>{chart}<div>mean voice similarity'
        f"</div>{_or_note(simchart, q.lines, 'voice_similarity', _NO_LISTENING)}</div>"
        f"{_table(head, rows)}</div>"
    )


def render_html(q: QcInput) -> str:
    files = "".join(
        f"<li>{escape(role)}: {escape(Path(p).name)}</li>" for role, p in q.files.items()
    )
    failed = sum(1 for ln in q.lines if ln.get("error"))
    flagged = sum(line_state(ln, q.max_error_rate)[0] == svg.WARN for ln in q.lines)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>QC: {escape(q.name)}</title><style>{_CSS}</style></head><body>"
        f"<h1>QC report: {escape(q.name)}</h1>"
        f"<div>{len(q.lines)} lines, {flagged} flagged, {failed} failed; "
        f"{q.duration_s:.2f} s of video</div>"
        f"{_loudness_section(q)}{_timeline_section(q)}{_speaker_section(q)}"
        f"<h2>Delivered files</h2><ul>{files}</ul></body></html>"
    )


def write_qc_report(q: QcInput, path: Path) -> Path:
    atomic_write_bytes(Path(path), render_html(q).encode("utf-8"))
    return Path(path)
