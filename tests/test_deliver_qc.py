"""The QC report (core/deliver/qc_report.py): one self-contained HTML page whose pictures
are well-formed inline SVG, each line drawn in its state's colour, text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np

from core.audio.loudness_presets import PRESETS, LoudnessFigures
from core.deliver import svg
from core.deliver.qc_report import LoudnessSummary, QcInput, render_html, write_qc_report


def _line(index, speaker, start, **extra):
    base = dict(index=index, speaker=speaker, text=f"line {index}", span_start_ms=start,
                span_end_ms=start + 1500, placed_at_48k=start * 48, rendered_samples=33075,
                sample_rate=22050, error_rate=0.05, voice_similarity=0.8)  # fmt: skip
    return {**base, **extra}


LINES = [
    _line(1, "Ann", 500),
    _line(2, "Bob", 2500, error_rate=0.7),  # over the limit: flagged by the check
    _line(3, "Ann", 4500, error="engine crashed", rendered_samples=None),
    _line(4, "Bob <&>", 6500, text='He said "<b>stop</b>" & left', pace_flag="too fast"),
]


def make(integrated=-23.1, peak=-3.0, preset="ebu-r128") -> QcInput:
    curve = np.full(60, -24.0)
    curve[:5] = -np.inf  # silence: drawn at the floor, not a broken path
    return QcInput(
        name="film",
        duration_s=8.0,
        lines=LINES,
        loudness=LoudnessSummary(
            PRESETS[preset],
            PRESETS[preset].target_lufs,
            LoudnessFigures(integrated, 4.2, peak),
            curve.tolist(),
            LoudnessFigures(-19.0, 6.0, -0.5),
            (curve + 3).tolist(),
        ),  # fmt: skip
        max_error_rate=0.4,
    )


def test_every_picture_is_well_formed_svg_and_nothing_is_fetched():
    html = render_html(make())
    pictures = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(pictures) >= 5
    for picture in pictures:
        ET.fromstring(picture)  # raises on a broken picture
    assert not re.search(r"""(src|href)\s*=""", html)  # no image, font or style fetched
    assert "<script" not in html


def test_each_line_is_drawn_in_its_state_and_its_text_is_escaped():
    html = render_html(make())
    timeline = re.findall(r"<svg.*?</svg>", html, flags=re.S)[1]
    root = ET.fromstring(timeline)
    ns = "{http://www.w3.org/2000/svg}"
    spans = [r for r in root.iter(f"{ns}rect") if r.get("fill-opacity") == "0.35"]
    assert [r.get("fill") for r in spans] == [svg.OK, svg.WARN, svg.BAD, svg.WARN]
    assert "engine crashed" in spans[2].find(f"{ns}title").text
    assert "<b>stop</b>" not in html and "&lt;b&gt;stop&lt;/b&gt;" in html
    assert "Bob &lt;&amp;&gt;" in html


def test_the_verdict_follows_the_measured_loudness(tmp_path):
    assert "PASS" in render_html(make())
    assert "FAIL" in render_html(make(integrated=-20.0))  # 3 LU too loud
    assert "FAIL" in render_html(make(peak=-0.5))  # over the ceiling
    path = write_qc_report(make(), tmp_path / "film.qc.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_without_the_listening_check_the_charts_say_so():
    lines = [{**ln, "error_rate": None, "voice_similarity": None} for ln in LINES]
    q = make()
    html = render_html(QcInput(q.name, q.duration_s, lines, q.loudness))
    assert html.count("not measured: the listening check") == 3
