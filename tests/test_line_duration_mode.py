"""Each line's own duration mode (issue 11, item 5): None follows the dub's; the dub renders,
caches and reports every line in its effective mode; projects of schema 1 (every line
stamped with the dub's mode) load as following the dub; the inspector's choice is an
undoable edit that marks a rendered line stale."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from core import project as proj
from core.desk import status as desk
from core.desk.status import LineStatus
from core.job.options import DubOptions
from core.job.pipeline import DubJob
from core.job.project_keeper import project_file_for
from core.lines.timing import plan_line
from core.subtitles.read import load_subtitles
from models.contract import SAMPLE_RATE, DurationMode, SynthesisRequest, SynthesisResult
from tests import mediagen
from tests.tone_engine import ToneEngine, tone_frequency

LINES = mediagen.DEFAULT_LINES[:3]  # cues 1, 2, 3 at 1, 5 and 10 s, 2.5 s each
NATURAL_S_PER_CHAR = 0.1  # the double's natural pace: far from every 2.5 s slot


class NaturalToneEngine(ToneEngine):
    """The tone double, with a natural mode shaped like IndexTTS2's: the line is first made
    at its own length (NATURAL_S_PER_CHAR a character), then time-fitted to the slot, so the
    take still has the slot's exact length but its pitch shows the stretch."""

    def synthesize(self, requests, progress=None, *, on_result=None, should_stop=None):
        self.calls.append(len(requests))
        out = []
        for r in requests:
            self.requests.append(r)
            self.rendered.append(r.text)
            made = natural_take(r) if r.mode is DurationMode.NATURAL else exact_take(r)
            out.append(SynthesisResult(made, r.target_samples()))
            if on_result:
                on_result(len(out) - 1, out[-1])
        return out


def exact_take(r: SynthesisRequest) -> np.ndarray:
    t = np.arange(r.target_samples()) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * tone_frequency(r.seed) * t)).astype(np.float32)


def natural_samples(text: str) -> int:
    return round(len(text) * NATURAL_S_PER_CHAR * SAMPLE_RATE)


def natural_take(r: SynthesisRequest) -> np.ndarray:
    n_nat, n = natural_samples(r.text), r.target_samples()
    t = np.arange(n_nat) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * tone_frequency(r.seed) * t)
    fitted = np.interp(np.linspace(0, n_nat - 1, n), np.arange(n_nat), tone)
    return (0.3 * fitted).astype(np.float32)


def pitch(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum)) * SAMPLE_RATE / len(audio)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("linemodes")
    video = folder / "clip.mp4"
    mediagen.make_test_video(video, duration_s=13, lines=LINES, srt_path=folder / "clip.srt")
    return video


@pytest.fixture
def clip(source, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    return mediagen.private_copy(source, tmp_path)


def project_with_modes(clip: Path, modes: dict[int, DurationMode]) -> proj.Project:
    """The clip's project file with these lines' own modes (the rest follow the dub)."""
    cues = load_subtitles(clip.with_suffix(".srt")).usable_cues()
    lines = [
        proj.Line(c.index, c.start_ms, c.end_ms, c.text, duration_mode=modes.get(c.index))
        for c in cues
    ]
    project = proj.Project(lines=lines)
    project.save(project_file_for(clip))
    return project


def run_dub(clip: Path, out: Path, engine: ToneEngine) -> DubJob:
    job = DubJob(clip, DubOptions(output=out), engine_factory=lambda d, dev: engine)
    job.run()
    return job


def set_mode(clip: Path, index: int, mode: DurationMode | None) -> None:
    project = proj.load_project(project_file_for(clip))
    next(ln for ln in project.lines if ln.index == index).duration_mode = mode
    project.save()


# --- the dub ----------------------------------------------------------------------------------


def test_a_dub_renders_each_line_in_its_own_mode(clip, tmp_path):
    project_with_modes(clip, {2: DurationMode.NATURAL})  # the dub's own: guided (the default)
    engine = NaturalToneEngine()
    job = run_dub(clip, tmp_path / "out.mp4", engine)
    assert [(r.text, r.mode) for r in engine.requests] == [
        (LINES[0][1], DurationMode.GUIDED),
        (LINES[1][1], DurationMode.NATURAL),
        (LINES[2][1], DurationMode.GUIDED),
    ]
    for plan, report in zip(job.lines, job.result.lines, strict=True):
        span = round((report.span_end_ms - report.span_start_ms) / 1000 * SAMPLE_RATE)
        audio, seed = plan.take.audio, plan.seed
        assert len(audio) == span == report.rendered_samples  # natural is fitted too
        if plan.index == 2:
            assert report.duration_mode == "natural"
            stretch = natural_samples(plan.cue.text) / span
            assert abs(stretch - 1) > 0.2  # the natural length is not the slot's
            assert pitch(audio) == pytest.approx(tone_frequency(seed) * stretch, rel=0.01)
        else:
            assert report.duration_mode == "guided"
            assert pitch(audio) == pytest.approx(tone_frequency(seed), abs=2.0)
    saved = proj.load_project(project_file_for(clip))
    assert [ln.duration_mode for ln in saved.lines] == [None, DurationMode.NATURAL, None]
    assert [ln.takes[-1].duration_mode for ln in saved.lines] == [
        DurationMode.GUIDED,
        DurationMode.NATURAL,
        DurationMode.GUIDED,
    ]


def test_changing_one_lines_mode_re_renders_only_that_line(clip, tmp_path):
    project_with_modes(clip, {})
    engine = NaturalToneEngine()
    run_dub(clip, tmp_path / "a.mp4", engine)
    assert len(engine.requests) == 3
    set_mode(clip, 2, DurationMode.NATURAL)
    job = run_dub(clip, tmp_path / "b.mp4", engine)
    # The guided take of line 2 is in the cache, but is not served for natural.
    assert [(r.text, r.mode) for r in engine.requests[3:]] == [(LINES[1][1], DurationMode.NATURAL)]
    assert [r.cached for r in job.result.lines] == [True, False, True]
    set_mode(clip, 2, None)  # back to the dub's guided: that take is still cached
    job = run_dub(clip, tmp_path / "c.mp4", engine)
    assert len(engine.requests) == 4
    assert [(r.cached, r.duration_mode) for r in job.result.lines] == [(True, "guided")] * 3


def test_a_project_without_a_file_renders_in_the_dubs_mode(clip, tmp_path):
    engine = NaturalToneEngine()
    options = DubOptions(
        output=tmp_path / "o.mp4",
        save_project=False,
        changes={"duration_mode": DurationMode.NATURAL},
    )
    job = DubJob(clip, options, engine_factory=lambda d, dev: engine)
    job.run()
    assert {r.mode for r in engine.requests} == {DurationMode.NATURAL}
    assert {r.duration_mode for r in job.result.lines} == {"natural"}


# --- the project file -------------------------------------------------------------------------


def old_fingerprint(line: dict, mode: str) -> str:
    """The fingerprint schema 1's desk stored: its mode was the line's stamped one."""
    blob = {
        "text": line["text"],
        "span": [line["start_ms"], line["end_ms"]],
        "speaker": line["speaker_id"],
        "emotion": proj.Emotion().to_dict(None),
        "mode": mode,
        "seed": None,
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def old_line(n: int, mode: str | None, **more) -> dict:
    line = {"id": f"L{n}", "speaker_source": "", "speaker_flag": None, "index": n,
            "start_ms": 1000 * n, "end_ms": 1000 * n + 800, "text": f"Line {n}.",
            "speaker_id": None, "takes": [], **more}  # fmt: skip
    if mode is not None:  # a file from before lines had a mode has no key at all
        line["duration_mode"] = mode
    return line


def test_an_old_project_loads_with_lines_following_the_dub(tmp_path):
    wav = tmp_path / "take.wav"
    wav.write_bytes(b"RIFF")  # only its presence counts
    take = {"when": datetime(2026, 1, 1).isoformat(), "key": "k1", "cache_path": str(wav),
            "requested_samples": 17640, "rendered_samples": 17640,
            "duration_mode": "natural", "flag": None, "seed": 1}  # fmt: skip
    rendered = old_line(1, "natural", takes=[take])
    rendered["rendered_as"] = old_fingerprint(rendered, "natural")
    lines = [rendered, old_line(2, "exact"), old_line(3, None)]
    detached = old_line(4, "natural", emotion={"mode": "voice"})
    path = tmp_path / "movie.dubsmith.json"
    path.write_text(json.dumps({
        "format": "dubsmith-project", "schema": 1, "video_path": None, "subtitle_path": None,
        "language": None, "output_path": None, "settings": {"duration_mode": "natural"},
        "speakers": [], "lines": lines, "detached_lines": [detached], "analysis": None,
    }))  # fmt: skip
    project = proj.load_project(path)
    dub_mode = project.settings.duration_mode
    assert [ln.duration_mode for ln in project.lines] == [None, DurationMode.EXACT, None]
    assert project.detached_lines[0].duration_mode is None
    assert [proj.effective_mode(ln, dub_mode) for ln in project.lines] == [
        DurationMode.NATURAL,
        DurationMode.EXACT,
        DurationMode.NATURAL,
    ]
    # its take was rendered as the line now is: not stale after the migration
    assert desk.line_status(project.lines[0], dub_mode=dub_mode)[0] is LineStatus.RENDERED
    project.save()
    raw = json.loads(path.read_text())
    assert raw["schema"] == proj.SCHEMA_VERSION >= proj.LINE_MODES_SCHEMA
    assert [ln["duration_mode"] for ln in raw["lines"]] == [None, "exact", None]
    # Written by this version, a line's own mode equal to the dub's stays the line's own.
    project.settings.duration_mode = DurationMode.EXACT
    project.save()
    again = proj.load_project(path)
    assert [ln.duration_mode for ln in again.lines] == [None, DurationMode.EXACT, None]


def test_a_line_with_its_own_mode_is_kept_when_its_cue_goes(tmp_path):
    line = proj.Line(1, 0, 900, "Gone.", duration_mode=DurationMode.NATURAL)
    assert line.has_editor_settings
    assert not proj.Line(2, 0, 900, "Plain.").has_editor_settings


# --- the desk and the window ------------------------------------------------------------------


def rendered_line(tmp_path: Path, mode: DurationMode) -> proj.Line:
    wav = tmp_path / f"take-{mode.value}.wav"
    wav.write_bytes(b"RIFF")
    line = proj.Line(1, 1000, 3500, "Where have you been all this time?", id="L1")
    line.takes.append(proj.Take(datetime.now(), "k", wav, 55125, 55125, mode, seed=1))
    desk.mark_rendered(line)  # as the window does when a take lands
    return line


def test_a_line_following_the_dub_goes_stale_when_the_dubs_mode_changes(tmp_path):
    line = rendered_line(tmp_path, DurationMode.EXACT)
    assert desk.line_status(line, dub_mode=DurationMode.EXACT)[0] is LineStatus.RENDERED
    assert desk.line_status(line, dub_mode=DurationMode.NATURAL) == (
        LineStatus.STALE,
        "rendered exact, now natural",
    )
    line.duration_mode = DurationMode.EXACT  # its own: the dub's mode no longer matters
    assert desk.line_status(line, dub_mode=DurationMode.NATURAL)[0] is LineStatus.RENDERED
    assert desk.mode_text(line, DurationMode.NATURAL) == "exact (own)"
    line.duration_mode = None
    assert desk.mode_text(line, DurationMode.NATURAL) == "natural"


def test_the_inspector_sets_a_lines_mode_undoably_and_the_line_goes_stale(qtbot, tmp_path):
    from PySide6.QtGui import QUndoStack

    from app.gui.edits import StateEdit
    from app.gui.inspector import LineInspector
    from app.gui.lines_model import COL_MODE, COL_STATUS, LinesModel

    line = rendered_line(tmp_path, DurationMode.GUIDED)  # the dub's default mode
    project = proj.Project(lines=[line])
    model = LinesModel()
    model.reset(project, [line], [plan_line(line.start_ms, line.end_ms, line.text)], ["S1"])
    inspector = LineInspector()
    qtbot.addWidget(inspector)
    stack = QUndoStack()

    def show() -> None:
        inspector.show_line(line, model.status(0)[0].value, project.settings.duration_mode)

    def apply(mode: DurationMode | None) -> None:  # what the window's edit does
        line.duration_mode = mode
        model.refresh_row(0)
        show()

    inspector.duration_mode_chosen.connect(
        lambda mode: stack.push(StateEdit("duration mode", apply, line.duration_mode, mode))
    )
    show()
    assert [inspector.mode_box.itemText(i) for i in range(inspector.mode_box.count())] == [
        "As the dub (guided)",
        "Guided",
        "Exact",
        "Natural",
        "Free",
    ]
    assert inspector.mode_box.currentIndex() == 0 and inspector.mode_box.isEnabled()
    assert model.text(0, COL_STATUS) == "rendered" and model.text(0, COL_MODE) == "guided"

    natural = inspector.mode_choices.index(DurationMode.NATURAL)
    inspector.mode_box.setCurrentIndex(natural)
    inspector.mode_box.activated.emit(natural)  # what a click on the entry sends
    assert line.duration_mode is DurationMode.NATURAL and stack.count() == 1
    assert model.status(0) == (LineStatus.STALE, "rendered guided, now natural")
    assert model.text(0, COL_MODE) == "natural (own)"
    assert inspector.mode_box.currentText() == "Natural"
    assert "Renders natural" in inspector.duration.text()

    stack.undo()
    assert line.duration_mode is None and model.text(0, COL_STATUS) == "rendered"
    assert inspector.mode_box.currentIndex() == 0 and model.text(0, COL_MODE) == "guided"
    stack.redo()
    assert line.duration_mode is DurationMode.NATURAL and model.text(0, COL_STATUS) == "stale"

    inspector.mode_box.activated.emit(natural)  # the mode it has already: no edit
    assert stack.count() == 1
    inspector.mode_box.activated.emit(0)  # as the dub: an edit, and current again
    assert line.duration_mode is None and stack.count() == 2
    assert model.text(0, COL_STATUS) == "rendered"
