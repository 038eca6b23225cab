"""The IndexTTS-2.5 engine on the tiny 2.5 reference checkpoints: Japanese and Spanish lines
land at exactly their target sample counts, with the forced code count at 25/s; natural
mode reports the natural length; languages 2.5 does not speak fail alone."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from models.contract import DurationMode, EmotionSource, EmotionSpec, Sampling, SynthesisRequest
from models.indextts25.duration import codes_for
from models.indextts25.engine import IndexTTS25Engine
from tests.test_indextts25 import ref25  # noqa: F401  (the fixture)

FAST = Sampling(diffusion_steps=3)


@pytest.fixture(scope="module")
def engine(ref25) -> IndexTTS25Engine:  # noqa: F811
    return IndexTTS25Engine.load(ref25 / "checkpoints")


@pytest.fixture(scope="module")
def voice(engine, ref25):  # noqa: F811
    audio, rate = soundfile.read(ref25 / "e2e" / "prompt.wav", dtype="float32")
    return engine.prepare_voice(audio, rate)


@pytest.mark.slow
def test_japanese_and_spanish_lines_fill_their_slots_exactly(engine, voice) -> None:
    lines = [
        ("今日は良い天気ですね。", "ja", 1.37),
        ("La niña comió paella en Valencia.", "es", 2.013),
        ("東京タワーの高さは333メートルです。", "ja", 0.9),
    ]
    requests = [
        SynthesisRequest(text, voice, duration_s=d, sampling=FAST, seed=i, language=lang)
        for i, (text, lang, d) in enumerate(lines)
    ]
    arrived = []
    results = engine.synthesize(requests, on_result=lambda i, r: arrived.append(i))
    assert sorted(arrived) == [0, 1, 2]
    for (text, _lang, d), req, res in zip(lines, requests, results, strict=True):
        assert res.ok, res.error
        assert res.audio.dtype == np.float32 and np.isfinite(res.audio).all()
        assert len(res.audio) == req.target_samples() == round(d * 22050)
        assert res.tokens == codes_for(d), text  # the forced code count at 25 per second
        assert float(np.abs(res.audio).max()) > 0


@pytest.mark.slow
def test_natural_mode_reports_the_natural_length(engine, voice) -> None:
    req = SynthesisRequest(
        "¡Qué bonito día!",
        voice,
        duration_s=1.0,
        mode=DurationMode.NATURAL,
        sampling=FAST,
        language="es",
        emotion=EmotionSpec(EmotionSource.VECTOR, vector=(0, 0.4, 0, 0, 0, 0, 0, 0.2)),
    )
    (res,) = engine.synthesize([req])
    assert res.ok, res.error
    assert len(res.audio) == 22050
    assert any(n.startswith("natural length") and "x the slot" in n for n in res.notes), res.notes


def test_a_language_25_does_not_speak_fails_alone(engine, voice) -> None:
    bad = SynthesisRequest("Guten Tag", voice, duration_s=1.0, sampling=FAST, language="de")
    empty = SynthesisRequest("   ", voice, duration_s=1.0, sampling=FAST, language="es")
    results = engine.synthesize([bad, empty])
    assert "does not speak 'de'" in results[0].error and "ja, es, ar" in results[0].error
    assert results[1].error and "no text" in results[1].error


def test_language_codes_are_read_in_their_usual_spellings(engine, voice) -> None:
    for code, want in (("jpn", "ja"), ("es-419", "es"), ("zh_Hans", "zh"), ("ARA", "ar")):
        req = SynthesisRequest("hola", voice, duration_s=1.0, sampling=FAST, language=code)
        assert engine.language_of(req) == (want, False)


def test_language_is_guessed_from_the_script_when_not_given(engine, voice) -> None:
    job = engine.make_job(0, SynthesisRequest("こんにちは", voice, duration_s=1.0, sampling=FAST))
    assert job.lang == "ja" and job.code_targets == [25]
    assert any("no language given" in n for n in job.notes)


def test_every_emotion_input_gives_its_own_vector(engine, voice, ref25) -> None:  # noqa: F811
    clip, rate = soundfile.read(ref25 / "e2e" / "prompt.wav", dtype="float32")
    specs = [
        EmotionSpec(),
        EmotionSpec(
            EmotionSource.REFERENCE, reference_audio=clip[::-1].copy(), reference_rate=rate
        ),
        EmotionSpec(EmotionSource.VECTOR, vector=(0.5, 0, 0, 0, 0, 0, 0, 0)),
    ]
    vectors = [
        engine.make_job(0, SynthesisRequest("hola", voice, e, 1.0, language="es")).emovec
        for e in specs
    ]
    assert all(v.shape == (1, engine.parts.t2s.dim) for v in vectors)
    assert not torch.allclose(vectors[0], vectors[1]) and not torch.allclose(vectors[0], vectors[2])
    text = EmotionSpec(EmotionSource.TEXT, text="angry")
    (res,) = engine.synthesize([SynthesisRequest("hola", voice, text, 1.0, language="es")])
    assert res.error and "text-emotion model" in res.error


@pytest.mark.slow
def test_a_line_renders_the_same_alone_and_in_a_mixed_language_batch(engine, voice) -> None:
    reqs = [
        SynthesisRequest(
            "今日は良い天気ですね。", voice, duration_s=1.1, sampling=FAST, seed=5, language="ja"
        ),
        SynthesisRequest(
            "¡Qué bonito día!", voice, duration_s=0.8, sampling=FAST, seed=6, language="es"
        ),
        SynthesisRequest(
            "مرحبا بالعالم", voice, duration_s=0.9, sampling=FAST, seed=7, language="ar"
        ),
    ]
    together = engine.synthesize(reqs)
    for req, res in zip(reqs, together, strict=True):
        (alone,) = engine.synthesize([req])
        assert res.ok and alone.ok
        # observed ~1e-7 (float sums in padded attention); the audio peaks near 0.15
        assert float(np.abs(res.audio - alone.audio).max()) < 1e-5, req.language
