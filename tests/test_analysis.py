"""Who speaks each line of a plain SRT, end to end: `analyze` on generated three-voice media,
the speakers and prompts kept in the project and used by the dub."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.cli import EXIT_OK, main
from core import project as proj
from core.job.pipeline import DubJob, DubOptions, dub
from tests import mediagen
from tests.subfixtures import srt_time
from tests.test_speaker_clustering import RATE, accuracy, soundtrack
from tests.test_speaker_clustering import resemblyzer as resemblyzer  # noqa: F401  (a fixture)
from tests.tone_engine import ToneEngine


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """A video of 18 lines in three voices (six each, shuffled) with a plain SRT."""
    folder = tmp_path_factory.mktemp("three-voices")
    truth = list(np.random.default_rng(1).permutation(np.repeat([0, 1, 2], 6)))
    audio, spans = soundtrack(truth)
    wav = folder / "track.wav"
    sf.write(wav, audio, RATE, subtype="FLOAT")
    video = folder / "film.mp4"
    seconds = len(audio) / RATE + 0.5
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=25:duration={seconds}",
         "-i", str(wav), *mediagen.video_encoder(), "-c:a", "aac", "-ar", "48000", "-ac", "2",
         "-t", str(seconds), str(video)],
        check=True,
    )  # fmt: skip
    cues = [
        f"{i}\n{srt_time(a)} --> {srt_time(b)}\nLine {i}.\n"
        for i, (a, b) in enumerate(spans, start=1)
    ]
    (folder / "film.srt").write_text("\n".join(cues), encoding="utf-8")
    return video, truth


@pytest.mark.slow
def test_three_voices_of_a_plain_srt_are_told_apart(film, resemblyzer, tmp_path):
    video, truth = film
    options = DubOptions(output=tmp_path / "unused.mp4", work_dir=tmp_path / "w")
    job = DubJob(video, options, embedder_factory=lambda model_dir, device: resemblyzer)
    prompts = job.analyze()
    project = proj.load_project(job.keeper.path)
    assert project.analysis["method"] == "clustering"
    assert (
        "pyannote" in project.analysis["detail"]
        and "3 speakers estimated" in project.analysis["detail"]
    )
    labels = [ln.speaker_id for ln in sorted(project.lines, key=lambda ln: ln.index)]
    assert len(set(labels)) == 3
    as_numbers = np.array([int(sid[1:]) - 1 for sid in labels])
    assert accuracy(as_numbers, np.array(truth)) >= 0.95
    assert all(ln.speaker_source == "clustering" for ln in project.lines)
    assert len(prompts) == 3 and all(5.0 <= p.duration_s <= 15.0 for p in prompts.values())
    for speaker in project.speakers:
        if speaker.id in prompts:
            assert speaker.prompt_parts and speaker.prompt_score is not None
            assert all("nobody else speaks" in part.reason for part in speaker.prompt_parts)

    # the dub uses the analysis: three voices, no second analysis
    engine = ToneEngine()
    report = dub(
        video,
        DubOptions(output=tmp_path / "o.mp4", work_dir=tmp_path / "w"),
        engine_factory=lambda m, d: engine,
    )
    assert len(engine.voices) == 3
    assert [r.speaker for r in sorted(report.lines, key=lambda r: r.index)] == labels

    # the editor moves one line to another speaker: a new analysis keeps that
    project = proj.load_project(job.keeper.path)
    first = min(project.lines, key=lambda ln: ln.index)
    other = next(s for s in labels if s != first.speaker_id)
    first.speaker_id, first.speaker_source = other, "user"
    project.save()
    DubJob(video, options, embedder_factory=lambda m, d: resemblyzer).analyze()
    again = proj.load_project(job.keeper.path)
    kept = min(again.lines, key=lambda ln: ln.index)
    assert kept.speaker_id == other and kept.speaker_source == "user"


def test_analyze_command_says_which_method_ran(film, tiny_model_dir, tmp_path, capsys):
    video, _ = film
    copy = tmp_path / "film.mp4"
    copy.write_bytes(video.read_bytes())
    (tmp_path / "film.srt").write_bytes(video.with_suffix(".srt").read_bytes())
    code = main(
        ["analyze", str(copy), "--model-dir", str(tiny_model_dir), "--speakers", "3",
         "--work-dir", str(tmp_path / "w"), "--no-progress"]
    )  # fmt: skip
    captured = capsys.readouterr()
    out = captured.out
    assert code == EXIT_OK, captured.err
    assert "pyannote's model folder (pyannote/) is not in the model directory" in out
    assert "3 speakers given" in out or "3 speaker" in out
    table = [ln for ln in out.splitlines() if ln[:1] == "s" and ln[1:2].isdigit()]
    assert len(table) == 3  # one row per speaker: lines, speech s, prompt s, score
    assert (tmp_path / "film.dubsmith.json").exists()
    saved = proj.load_project(tmp_path / "film.dubsmith.json")
    assert saved.settings.speakers == 3 and len({ln.speaker_id for ln in saved.lines}) == 3


def test_hints_in_the_subtitles_win_and_need_no_model(tmp_path):
    video = mediagen.make_test_video(
        tmp_path / "v.mp4", duration_s=12, lines=mediagen.DEFAULT_LINES[:2]
    )
    (tmp_path / "v.vtt").write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.400\n<v Ann>Where have you been all this time?\n\n"
        "00:00:05.000 --> 00:00:07.400\n<v Bob>I was waiting for the morning train.\n"
    )
    job = DubJob(video, DubOptions(output=tmp_path / "o.mp4", work_dir=tmp_path / "w"))
    job.analyze()
    project = proj.load_project(job.keeper.path)
    assert project.analysis["method"] == "hint"
    assert {ln.speaker_id: ln.speaker_source for ln in project.lines} == {
        "ann": "hint",
        "bob": "hint",
    }


def test_no_embedder_means_one_voice_and_says_why(tmp_path):
    video = mediagen.make_test_video(
        tmp_path / "v.mp4", duration_s=12, lines=mediagen.DEFAULT_LINES[:2]
    )
    mediagen.write_srt(tmp_path / "v.srt", mediagen.DEFAULT_LINES[:2], 12)
    options = DubOptions(
        output=tmp_path / "o.mp4", work_dir=tmp_path / "w", model_dir=tmp_path / "none"
    )
    job = DubJob(video, options)
    job.analyze()
    detail = proj.load_project(job.keeper.path).analysis["detail"]
    assert detail.startswith("one voice for every line: pyannote") and "no speaker model" in detail
    assert Path(job.keeper.path).exists()


def test_with_a_pyannote_folder_the_analysis_runs_it_offline(tmp_path, monkeypatch):
    """pyannote's pipeline (random weights, real architecture) in the model directory:
    `analyze` runs it and says so; every line gets one of the speakers it found."""
    from tests.pyannote_fixture import build_pipeline_folder

    model_dir = tmp_path / "models"
    build_pipeline_folder(model_dir / "pyannote")
    calls = []
    import socket

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: calls.append(a))
    video = mediagen.make_test_video(
        tmp_path / "v.mp4", duration_s=12, lines=mediagen.DEFAULT_LINES[:2]
    )
    mediagen.write_srt(tmp_path / "v.srt", mediagen.DEFAULT_LINES[:2], 12)
    options = DubOptions(output=tmp_path / "o.mp4", work_dir=tmp_path / "w", model_dir=model_dir)
    job = DubJob(video, options)
    try:
        job.analyze()
    except Exception as exc:  # random weights may find no speech: a clear voice error
        assert "usable audio" in str(exc)
    project = proj.load_project(tmp_path / "v.dubsmith.json")
    assert project.analysis["method"] == "diarization"
    assert "pyannote diarization (offline" in project.analysis["detail"]
    assert all(ln.speaker_source == "diarization" and ln.speaker_id for ln in project.lines)
    assert calls == []


def test_a_damaged_pyannote_folder_falls_back_and_says_why(tmp_path):
    from tests.pyannote_fixture import build_pipeline_folder

    model_dir = tmp_path / "models"
    build_pipeline_folder(model_dir / "pyannote")
    weights = model_dir / "pyannote" / "segmentation" / "pytorch_model.bin"
    weights.write_bytes(weights.read_bytes()[:1000])
    video = mediagen.make_test_video(
        tmp_path / "v.mp4", duration_s=12, lines=mediagen.DEFAULT_LINES[:2]
    )
    mediagen.write_srt(tmp_path / "v.srt", mediagen.DEFAULT_LINES[:2], 12)
    options = DubOptions(output=tmp_path / "o.mp4", work_dir=tmp_path / "w", model_dir=model_dir)
    DubJob(video, options).analyze()
    detail = proj.load_project(tmp_path / "v.dubsmith.json").analysis["detail"]
    assert "pytorch_model.bin" in detail or "segmentation" in detail
    assert detail.startswith("one voice for every line")  # no CAMPPlus in this folder either


def test_the_editor_can_choose_the_lines_a_prompt_is_cut_from(tmp_path):
    video = mediagen.make_test_video(tmp_path / "v.mp4", duration_s=24)
    mediagen.write_srt(tmp_path / "v.srt", mediagen.DEFAULT_LINES, 24)
    options = DubOptions(
        output=tmp_path / "o.mp4", work_dir=tmp_path / "w", model_dir=tmp_path / "none"
    )
    job = DubJob(video, options)
    job.analyze()
    project = proj.load_project(job.keeper.path)
    assert len(project.speakers[0].prompt_parts) == 5  # every line (one voice, no model)
    third = next(ln for ln in project.lines if ln.index == 3)
    project.speakers[0].prompt_lines = [third.id]
    project.save()
    prompts = DubJob(video, options).analyze()
    (prompt,) = prompts.values()
    assert prompt.segments == [(third.start_ms + 30, third.end_ms - 30)]
