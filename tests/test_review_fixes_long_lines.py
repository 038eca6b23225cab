"""Issue 26, item 11: a line no engine can speak in its span is refused at planning, with
a message naming the line and what to do, and never reaches the engine. A file whose only
line is absurdly long stops before any model loads.

The dub runs on the tone test double (tests/tone_engine.py): what matters here is which
requests reach an engine, not how they sound. VoxCPM2's own limit is tested in
tests/test_review_fixes_voxcpm2.py on the real package.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InputError
from core.job.pipeline import DubJob, DubOptions
from core.lines.limits import FASTEST_PACE, MAX_LINE_CHARS, line_problem
from models.contract import DurationMode
from tests import mediagen
from tests.tone_engine import ToneEngine

LINES = (
    (0.5, "Where have you been all this time?", "en-us"),
    (3.5, "I was waiting for the morning train.", "en-us"),
)
RUSHED = (
    "Listen carefully because I will only say this once: the train leaves at seven, the "
    "tickets are in the blue envelope under the lamp, and nobody, absolutely nobody, may "
    "know where we are going tonight or why."
)
WALL = "and then it went on and on without a break " * 60  # 2,580 characters


def _srt(path: Path, cues: list[tuple[float, float, str]]) -> Path:
    def ts(t: float) -> str:
        ms = round(t * 1000)
        return f"00:{ms // 60000:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    blocks = [f"{i}\n{ts(a)} --> {ts(b)}\n{text}\n" for i, (a, b, text) in enumerate(cues, 1)]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("long-lines")
    return mediagen.make_test_video(folder / "scene.mp4", duration_s=10, lines=LINES)


def _job(video: Path, srt: Path, tmp_path: Path, engine: ToneEngine, loads: list) -> DubJob:
    def factory(model_dir, device):
        loads.append(model_dir)
        return engine

    options = DubOptions(
        output=tmp_path / "out.mp4",
        subtitles=srt,
        model_dir=tmp_path / "no-models",
        device="cpu",
        work_dir=tmp_path / "work",
        save_project=False,
        changes={"speakers": 1, "background": "duck"},
    )
    return DubJob(video, options, engine_factory=factory)


def test_the_limits_name_the_cause_and_the_cure():
    huge = "word " * 400_000  # 2 MB: judged on its length alone
    said = line_problem(huge, 60.0)
    assert said and f"{len(huge):,} characters" in said and "split" in said
    assert f"{MAX_LINE_CHARS:,}" in said
    fast = line_problem(RUSHED, 1.0)
    assert fast and "shorten the line or widen its span" in fast
    assert f"{FASTEST_PACE:g}x at most" in fast
    # Guided and exact takes fill their span; free and natural ones keep their own pace.
    assert line_problem(RUSHED, 1.0, mode=DurationMode.EXACT) == fast
    assert line_problem(RUSHED, 1.0, mode=DurationMode.FREE) is None
    assert line_problem(RUSHED, 1.0, mode=DurationMode.NATURAL) is None
    assert line_problem(LINES[0][1], 2.5) is None
    assert line_problem(RUSHED, 12.0) is None  # fast, not impossible: flagged, not refused


def test_lines_no_one_can_say_in_their_span_never_reach_the_engine(video, tmp_path):
    srt = _srt(
        tmp_path / "scene.en.srt",
        [(0.5, 3.0, LINES[0][1]), (3.5, 6.0, LINES[1][1]), (6.5, 7.5, RUSHED), (8.0, 9.5, WALL)],
    )
    engine, loads = ToneEngine(), []
    job = _job(video, srt, tmp_path, engine, loads)
    report = job.run()
    assert [r.text for r in engine.requests] == [LINES[0][1], LINES[1][1]]
    refused = {n.cue: n for n in job.warnings if n.kind == "too-long"}
    assert sorted(refused) == [3, 4]
    assert str(refused[3]).startswith("cue 3: not dubbed:")
    assert "widen its span" in refused[3].message
    assert "split it into cues" in refused[4].message
    by_cue = {r.index: r for r in report.lines}
    assert by_cue[3].error and by_cue[4].error and by_cue[3].rendered_samples is None
    assert by_cue[1].error is None and by_cue[1].rendered_samples
    assert not [n for n in job.warnings if n.kind == "not-rendered"]  # said once, at planning
    assert (tmp_path / "out.mp4").is_file()


def test_a_file_of_one_absurd_line_stops_before_any_model_loads(video, tmp_path):
    srt = _srt(tmp_path / "scene.en.srt", [(0.5, 9.5, "x" + "ab cd " * 90_000)])  # 540 kB
    engine, loads = ToneEngine(), []
    job = _job(video, srt, tmp_path, engine, loads)
    with pytest.raises(InputError, match=r"cue 1 is not dubbed: .*split it into cues"):
        job.run()
    assert loads == [] and engine.requests == []
    assert not (tmp_path / "out.mp4").exists()
