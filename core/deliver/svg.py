"""Small inline SVG charts for the QC report, drawn here so the report needs no plotting
library and stays one self-contained file."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#3b6fb6", "#c8553d", "#4f9d69", "#8e6bb8", "#d19a2a", "#2a9d9d", "#b5477d")
OK, WARN, BAD, MUTED = "#4f9d69", "#d19a2a", "#c8553d", "#9aa3ad"


@dataclass(frozen=True)
class Bar:
    row: int  # which lane
    start_s: float
    end_s: float
    color: str
    title: str  # the tooltip
    inner: tuple[float, float] | None = None  # the rendered part, drawn darker


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}" '
        f'font-family="sans-serif" font-size="11">' + "".join(body) + "</svg>"
    )


def _nice_step(span: float, ticks: int = 8) -> float:
    raw = max(span / ticks, 1e-9)
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def _time_axis(x0: float, width: float, duration_s: float, y: float) -> list[str]:
    out = [f'<line x1="{x0}" y1="{y}" x2="{x0 + width}" y2="{y}" stroke="#555"/>']
    step = _nice_step(duration_s)
    t = 0.0
    while t <= duration_s + 1e-9:
        x = x0 + width * t / max(duration_s, 1e-9)
        out.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" stroke="#555"/>')
        out.append(f'<text x="{x:.1f}" y="{y + 15}" text-anchor="middle">{t:g} s</text>')
        t += step
    return out


def timeline_chart(
    lanes: Sequence[str], bars: Sequence[Bar], duration_s: float, width: int = 960
) -> str:
    """Lines as bars on one lane per speaker over the video's length."""
    left, row_h, top = 110, 26, 8
    plot_w = width - left - 16
    height = top + row_h * max(len(lanes), 1) + 30
    body = []
    for i, name in enumerate(lanes):
        y = top + i * row_h
        fill = "#f4f6f8" if i % 2 == 0 else "#ffffff"
        body.append(f'<rect x="{left}" y="{y}" width="{plot_w}" height="{row_h}" fill="{fill}"/>')
        body.append(f'<text x="{left - 6}" y="{y + 17}" text-anchor="end">{escape(name)}</text>')
    scale = plot_w / max(duration_s, 1e-9)
    for b in bars:
        y = top + b.row * row_h + 4
        x, w = left + b.start_s * scale, max((b.end_s - b.start_s) * scale, 1.5)
        body.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 8}" rx="2" '
            f'fill="{b.color}" fill-opacity="0.35" stroke="{b.color}">'
            f"<title>{escape(b.title)}</title></rect>"
        )
        if b.inner is not None:
            ix, iw = left + b.inner[0] * scale, max((b.inner[1] - b.inner[0]) * scale, 1.0)
            body.append(
                f'<rect x="{ix:.1f}" y="{y + 5}" width="{iw:.1f}" height="{row_h - 18}" '
                f'fill="{b.color}"><title>{escape(b.title)}</title></rect>'
            )
    body += _time_axis(left, plot_w, duration_s, top + row_h * max(len(lanes), 1) + 2)
    return _svg(width, height, body, "timeline of the dubbed lines")


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    colors: Sequence[str],
    *,
    limit: float | None = None,
    top_value: float = 1.0,
    unit: str = "",
    width: int = 960,
    height: int = 150,
    label: str = "bars",
) -> str:
    """One bar per item (None: a grey tick), with an optional limit line."""
    left, bottom, top = 44, 22, 8
    plot_w, plot_h = width - left - 10, height - top - bottom
    n = max(len(values), 1)
    slot = plot_w / n
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
            f'stroke="#555"/>']  # fmt: skip
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        body.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{frac * top_value:g}{unit}</text>"
        )
    for i, (name, v, c) in enumerate(zip(labels, values, colors, strict=True)):
        x = left + i * slot + slot * 0.15
        w = max(slot * 0.7, 1.0)
        if v is None:
            body.append(f'<rect x="{x:.1f}" y="{top + plot_h - 2}" width="{w:.1f}" height="2" '
                        f'fill="{MUTED}"><title>{escape(name)}: not measured</title></rect>')  # fmt: skip
            continue
        h = plot_h * min(max(v / top_value, 0.0), 1.0)
        body.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
            f'fill="{c}"><title>{escape(name)}: {v:.3g}{unit}</title></rect>'
        )
        if n <= 40:
            body.append(f'<text x="{x + w / 2:.1f}" y="{top + plot_h + 14}" '
                        f'text-anchor="middle">{escape(name)}</text>')  # fmt: skip
    if limit is not None:
        y = top + plot_h * (1 - min(limit / top_value, 1.0))
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                    f'stroke="{BAD}" stroke-dasharray="5 4"/>')  # fmt: skip
    return _svg(width, height, body, label)


def curve_chart(
    series: Sequence[tuple[str, Sequence[float], str]],
    step_s: float,
    duration_s: float,
    *,
    target: float | None = None,
    floor: float = -60.0,
    ceiling: float = 0.0,
    width: int = 960,
    height: int = 220,
) -> str:
    """Loudness curves (LUFS against time), silence drawn at the floor, a target line."""
    left, bottom, top = 56, 24, 10
    plot_w, plot_h = width - left - 130, height - top - bottom

    def y_of(v: float) -> float:
        v = min(max(v if math.isfinite(v) else floor, floor), ceiling)
        return top + plot_h * (ceiling - v) / (ceiling - floor)

    body = []
    for v in range(int(ceiling), int(floor) - 1, -10):
        y = y_of(v)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                    f'stroke="#e3e6ea"/><text x="{left - 4}" y="{y + 4:.1f}" '
                    f'text-anchor="end">{v}</text>')  # fmt: skip
    body.append(f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
                f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">LUFS (3 s)</text>')  # fmt: skip
    scale = plot_w / max(duration_s, 1e-9)
    for k, (name, values, color) in enumerate(series):
        pts = " ".join(
            f"{left + (i * step_s + 3.0) * scale:.1f},{y_of(v):.1f}"  # a 3 s window ends here
            for i, v in enumerate(values)
            if i * step_s + 3.0 <= duration_s + 1e-6
        )
        if pts:
            body.append(f'<polyline points="{pts}" fill="none" stroke="{color}" '
                        f'stroke-width="1.5"/>')  # fmt: skip
        ly = top + 14 + 16 * k
        body.append(f'<line x1="{left + plot_w + 10}" y1="{ly - 4}" x2="{left + plot_w + 28}" '
                    f'y2="{ly - 4}" stroke="{color}" stroke-width="2"/><text '
                    f'x="{left + plot_w + 32}" y="{ly}">{escape(name)}</text>')  # fmt: skip
    if target is not None and math.isfinite(target):
        y = y_of(target)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                    f'stroke="{BAD}" stroke-dasharray="6 4"><title>target {target:g} LUFS'
                    f"</title></line>")  # fmt: skip
    body += _time_axis(left, plot_w, duration_s, top + plot_h)
    return _svg(width, height, body, "short-term loudness over time")
