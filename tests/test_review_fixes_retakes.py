"""Issue 26, items 13 and 15: which retake is kept, and why voice similarity is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import core.job.pipeline as pipeline
from core.job.pipeline import DubJob, DubOptions, LinePlan
from core.lines.listening import TakeCheck
from core.lines.render import Take
from core.subtitles.read import Cue


class ToneVoices:
    """Scores each take by the tone it holds (a test double for the CAMPPlus check)."""

    def __init__(self, scores: dict[float, float]) -> None:
        self.scores = scores
        self.asked: list[float] = []

    def similarity(self, speaker, audio, rate=22050) -> float:
        tone = round(float(audio[0]), 3)
        self.asked.append(tone)
        return self.scores[tone]


def _take(tone: float) -> Take:
    return Take(key=f"k{tone}", audio=np.full(22050, tone, np.float32), target_samples=None,
                cached=False)  # fmt: skip


def _job(tmp_path: Path, model_dir: Path | None = None) -> DubJob:
    options = DubOptions(output=tmp_path / "out.mp4", model_dir=model_dir or tmp_path / "models",
                         device="cpu", save_project=False)  # fmt: skip
    return DubJob(tmp_path / "in.mp4", options)


def _keep_if_better(job: DubJob, line: LinePlan, take: Take, check: TakeCheck) -> bool:
    """What the retake loop does with each retake."""
    won = job._better_take(line, take, check)
    if won:
        line.take, line.check = take, check
    return won


def test_a_retake_that_wins_on_error_rate_brings_its_own_similarity(tmp_path):
    job = _job(tmp_path)
    voices = ToneVoices({0.1: 0.3, 0.2: 0.8, 0.3: 0.4, 0.4: 0.6})
    job._voice_check = voices
    line = LinePlan(Cue(1, 0, 1000, "Hello there.", None, "Hello there."), "s1", seed=1)
    line.take, line.check = _take(0.1), TakeCheck(0.5, "hello")
    # A tie at 50 %: the closer voice (0.8) is kept.
    assert _keep_if_better(job, line, _take(0.2), TakeCheck(0.5, "hello"))
    assert line.similarity == 0.8
    # A lower error rate wins whatever its voice: 0.8 was the discarded take's figure.
    assert _keep_if_better(job, line, _take(0.3), TakeCheck(0.0, "hello there"))
    assert line.similarity != 0.8
    # A tie with the kept take (0.4) is weighed against it, not against 0.8: 0.6 wins.
    assert _keep_if_better(job, line, _take(0.4), TakeCheck(0.0, "hello there"))
    assert float(line.take.audio[0]) == pytest.approx(0.4)
    assert line.similarity == 0.6


def test_a_missing_speaker_model_is_said_with_its_reason(tmp_path):
    # A real model folder without CAMPPlus: the real loader fails; the dub says why.
    (tmp_path / "models").mkdir()
    job = _job(tmp_path)
    assert job._voice_checker() is None
    said = [n for n in job.warnings if n.kind == "voice-check-off"]
    assert len(said) == 1, job.warnings
    assert "missing" in said[0].message and "CAMPPlus" in said[0].message
    # Asked again: not loaded again, not said again.
    assert job._voice_checker() is None and len(job.warnings) == 1


def test_a_defect_in_the_speaker_model_is_not_swallowed(tmp_path, monkeypatch):
    def broken(model_dir, device):
        raise TypeError("embed() takes 1 positional argument but 2 were given")

    monkeypatch.setattr(pipeline, "load_line_embedder", broken)
    job = _job(tmp_path)
    with pytest.raises(TypeError, match="positional argument"):
        job._voice_checker()
