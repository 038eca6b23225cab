"""The IndexTTS2 engine on the tiny reference models: loading, voices, emotions, durations,
batching, failures, and a whole dub through core.pipeline with the default engine factory."""

from __future__ import annotations

import dataclasses
import os
import shutil

import numpy as np
import pytest
import torch

from models.contract import (
    SAMPLE_RATE,
    DurationMode,
    EmotionSource,
    EmotionSpec,
    ModelFilesMissing,
    Sampling,
    SynthesisRequest,
    VoiceHandle,
)
from models.duration import LengthPlan, fit_to_samples, split_exact
from models.s2m import official_target_frames
from tests import mediagen

# Few diffusion steps: the chain is the same, the tests stay fast on two cores.
FAST = Sampling(diffusion_steps=3)
GREEDY = dataclasses.replace(Sampling.greedy(), diffusion_steps=3)
STAGE_KEYS = {"text", "t2s", "latent", "s2m", "vocoder"}


@pytest.fixture(scope="module", autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    from models.engine import IndexTTS2Engine

    return IndexTTS2Engine.load(tiny_model_dir, device="cpu")


@pytest.fixture(scope="module")
def prompts() -> dict[str, tuple[np.ndarray, int]]:
    a = mediagen.speak("Good evening, I am the first voice of this test.", "en-us")
    b = mediagen.speak("And this is somebody else entirely speaking.", "en-gb+f3")
    return {"a": (a, mediagen.RATE), "b": (b, mediagen.RATE)}


@pytest.fixture(scope="module")
def voices(engine, prompts):
    return {k: engine.prepare_voice(audio, rate) for k, (audio, rate) in prompts.items()}


# ---- length arithmetic --------------------------------------------------------------------
@pytest.mark.parametrize(
    "total,weights", [(125, [40, 12]), (7, [1, 1, 1]), (100, [3, 0, 97]), (5, [120, 1, 1, 1, 1])]
)
def test_split_exact_sums_and_is_proportional(total, weights):
    shares = split_exact(total, weights)
    assert sum(shares) == total
    assert all(s >= 1 for s in shares)
    spare = total - len(weights)
    for s, w in zip(shares, weights, strict=True):
        assert abs((s - 1) - spare * w / sum(weights)) < 1.0


def test_split_exact_refuses_too_little():
    with pytest.raises(ValueError):
        split_exact(2, [5, 5, 5])


def test_length_plan_and_fitting():
    plan = LengthPlan.for_duration(2.5)
    assert (plan.tokens, plan.frames, plan.samples) == (125, 215, 55125)
    wave = np.ones(1000, np.float32)
    assert len(fit_to_samples(wave, 900)) == 900
    padded = fit_to_samples(wave, 1100)
    assert len(padded) == 1100 and not padded[1000:].any()


# ---- loading ------------------------------------------------------------------------------
def test_engine_loads_from_the_tiny_model_dir(engine):
    assert engine.name == "indextts2"
    assert engine.dtype == torch.float32  # CPU runs in float32
    assert engine.parts.device.type == "cpu"


def test_missing_files_are_all_named(tiny_model_dir, tmp_path):
    from models.engine import IndexTTS2Engine

    broken = tmp_path / "models"
    shutil.copytree(tiny_model_dir, broken, symlinks=True)
    root = broken / "indextts2"
    for rel in ("gpt.pth", "feat2.pt", "hf_cache/campplus_cn_common.bin", "hf_cache/bigvgan"):
        (root / rel).unlink()
    with pytest.raises(ModelFilesMissing) as info:
        IndexTTS2Engine.load(broken)
    missing = info.value.missing
    for rel in (
        "gpt.pth",
        "feat2.pt",
        "hf_cache/campplus_cn_common.bin",
        "hf_cache/bigvgan/config.json",
        "hf_cache/bigvgan/bigvgan_generator.pt",
    ):
        assert f"indextts2/{rel}" in missing
        assert rel in str(info.value)
    assert len(missing) == 5
    assert "download_models.py" in str(info.value)


# ---- voices and emotions ------------------------------------------------------------------
def test_voice_is_cached_by_audio(engine, prompts, voices):
    audio, rate = prompts["a"]
    again = engine.prepare_voice(audio.copy(), rate)
    assert again.key == voices["a"].key and again.data is voices["a"].data
    assert voices["a"].key != voices["b"].key
    v = voices["a"].data
    # 15 s cut and the official rates
    assert len(v.audio_22k) == min(round(len(audio) * 22050 / rate), 15 * 22050)
    assert v.ref_mel.shape[-1] == v.prompt_cond.shape[0]


def test_reference_emotion_alpha_interpolates(engine, voices, prompts):
    v = voices["a"].data
    clip, rate = prompts["b"]
    at = {
        alpha: engine.emotion_vector(
            v,
            EmotionSpec(
                EmotionSource.REFERENCE, reference_audio=clip, reference_rate=rate, alpha=alpha
            ),
        )
        for alpha in (0.0, 0.5, 1.0)
    }
    torch.testing.assert_close(at[0.0], v.base_emovec)
    torch.testing.assert_close(at[0.5], (at[0.0] + at[1.0]) / 2, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(at[1.0], at[0.0])


def test_vector_emotion_at_zero_weights_is_the_voice(engine, voices):
    v = voices["a"].data
    zero = engine.emotion_vector(v, EmotionSpec(EmotionSource.VECTOR, vector=(0.0,) * 8))
    torch.testing.assert_close(zero, v.own_emovec)
    angry = engine.emotion_vector(
        v, EmotionSpec(EmotionSource.VECTOR, vector=(0, 0.8, 0, 0, 0, 0, 0, 0), alpha=0.6)
    )
    assert not torch.allclose(angry, v.own_emovec)


# ---- synthesis ----------------------------------------------------------------------------
def _mixed_requests(voices, prompts) -> list[SynthesisRequest]:
    ref, rate = prompts["b"]
    return [
        SynthesisRequest(
            "Where have you been all this time?", voices["a"], duration_s=1.3, sampling=FAST, seed=1
        ),
        SynthesisRequest(
            "I was waiting for the train.",
            voices["b"],
            EmotionSpec(
                EmotionSource.REFERENCE,
                reference_audio=ref[: rate * 2],
                reference_rate=rate,
                alpha=0.7,
            ),
            duration_s=0.9,
            sampling=FAST,
            seed=2,
        ),
        SynthesisRequest(
            "It never came.",
            voices["a"],
            EmotionSpec(EmotionSource.VECTOR, vector=(0, 0.35, 0, 0.1, 0, 0.2, 0, 0.15), alpha=0.6),
            duration_s=0.71,
            sampling=GREEDY,
            seed=3,
        ),
        SynthesisRequest(
            "So I walked home.",
            voices["b"],
            duration_s=1.07,
            mode=DurationMode.NATURAL,
            sampling=FAST,
            seed=4,
        ),
    ]


@pytest.fixture(scope="module")
def batch_run(engine, voices, prompts):
    requests = _mixed_requests(voices, prompts)
    requests.insert(
        2,
        SynthesisRequest(
            "Say it with feeling.",
            voices["a"],
            EmotionSpec(EmotionSource.TEXT, text="furious and scared"),
            duration_s=1.0,
            sampling=FAST,
            seed=5,
        ),
    )
    requests.append(SynthesisRequest("Free pace.", voices["a"], sampling=GREEDY, seed=6))
    calls: list[tuple[int, int]] = []
    results = engine.synthesize(requests, progress=lambda d, t: calls.append((d, t)))
    return requests, results, calls


def test_batch_renders_exact_sample_counts(batch_run):
    requests, results, calls = batch_run
    assert len(results) == len(requests)
    for req, res in zip(requests, results, strict=True):
        if req.emotion.source is EmotionSource.TEXT:
            continue
        assert res.ok, res.error
        assert res.audio.dtype == np.float32 and res.audio.ndim == 1
        assert np.isfinite(res.audio).all() and np.abs(res.audio).max() <= 1.0
        assert STAGE_KEYS <= set(res.timings)
        assert res.tokens > 0
        if req.duration_s is not None:
            assert len(res.audio) == round(req.duration_s * SAMPLE_RATE) == res.target_samples
    # exact mode: exactly T tokens
    assert results[0].tokens == round(1.3 * 50)
    # free mode: the official (codes * 1.72) frames, 256 samples each
    free = results[-1]
    assert free.target_samples is None
    assert len(free.audio) == official_target_frames(free.tokens) * 256
    assert calls[-1] == (len(requests), len(requests))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_emotion_text_without_qwen_fails_alone(batch_run):
    requests, results, _ = batch_run
    failed = [
        r for q, r in zip(requests, results, strict=True) if q.emotion.source is EmotionSource.TEXT
    ]
    assert len(failed) == 1 and not failed[0].ok and failed[0].audio is None
    msg = failed[0].error
    assert "qwen0.6bemo4-merge" in msg and "download" in msg.lower()
    assert sum(r.ok for r in results) == len(results) - 1


def test_natural_mode_fits_or_flags(batch_run):
    requests, results, _ = batch_run
    for req, res in zip(requests, results, strict=True):
        if req.mode is DurationMode.NATURAL:
            natural = official_target_frames(res.tokens)
            ratio = natural / LengthPlan.for_duration(req.duration_s).frames
            assert (res.flagged is not None) == (not 0.8 <= ratio <= 1.25)
            assert len(res.audio) == req.target_samples()


def test_batch_equals_one_at_a_time(engine, voices, prompts, batch_run):
    requests, results, _ = batch_run
    for i, req in enumerate(_mixed_requests(voices, prompts)):
        alone = engine.synthesize([req])[0]
        batched = results[i if i < 2 else i + 1]  # the TEXT request sits at index 2
        assert batched.tokens > 0 and requests[i if i < 2 else i + 1].seed == req.seed
        assert alone.ok and batched.ok
        assert alone.tokens == batched.tokens
        np.testing.assert_allclose(alone.audio, batched.audio, atol=1e-5)  # float rounding only


def test_seed_changes_sampled_output(engine, voices):
    req = SynthesisRequest("Where have you been?", voices["a"], duration_s=0.8, sampling=FAST)
    a, b = engine.synthesize([req, dataclasses.replace(req, seed=99)])
    assert a.ok and b.ok and len(a.audio) == len(b.audio)
    assert not np.allclose(a.audio, b.audio)


def test_long_text_is_split_and_stays_exact(engine, voices):
    text = " ".join(["This sentence keeps going so that the line needs more than one segment."] * 6)
    segments = engine.text_segments(text)
    assert len(segments) >= 2
    assert all(len(s) <= min(120, engine.parts.cfg.gpt.max_text_tokens) for s in segments)
    req = SynthesisRequest(text, voices["b"], duration_s=2.9, sampling=GREEDY, seed=7)
    job = engine.make_job(0, req)
    assert sum(job.token_targets) == round(2.9 * 50)
    res = engine.synthesize([req])[0]
    assert res.ok, res.error
    assert res.tokens == round(2.9 * 50)
    assert len(res.audio) == req.target_samples()


def test_out_of_memory_halves_the_batch(engine, voices, monkeypatch):
    sizes: list[int] = []
    real = engine._render

    def flaky(jobs):
        sizes.append(len(jobs))
        if len(jobs) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(jobs)

    monkeypatch.setattr(engine, "_render", flaky)
    reqs = [
        SynthesisRequest(t, voices["a"], duration_s=0.5, sampling=GREEDY, seed=i)
        for i, t in enumerate(["One.", "Two.", "Three."])
    ]
    results = engine.synthesize(reqs)
    assert all(r.ok for r in results)
    assert sizes[0] == 3 and sizes.count(1) == 3


def test_a_request_that_cannot_render_fails_alone(engine, voices):
    reqs = [
        SynthesisRequest("Fine.", voices["a"], duration_s=0.5, sampling=GREEDY),
        SynthesisRequest("Whose voice?", VoiceHandle(key="never-prepared"), duration_s=0.5),
        SynthesisRequest("   ", voices["a"], duration_s=0.5, sampling=GREEDY),
    ]
    ok, stranger, empty = engine.synthesize(reqs)
    assert ok.ok and len(ok.audio) == reqs[0].target_samples()
    assert not stranger.ok and "not prepared" in stranger.error
    assert not empty.ok and "no text" in empty.error


def test_slot_longer_than_the_position_table_is_stretched_and_flagged(engine, voices):
    # 4 s is 200 tokens in one segment; the tiny model's position table holds 100.
    limit = engine.parts.cfg.gpt.max_mel_tokens
    req = SynthesisRequest("Too long.", voices["a"], duration_s=4.0, sampling=GREEDY)
    res = engine.synthesize([req])[0]
    assert res.ok, res.error
    assert res.tokens == limit and len(res.audio) == req.target_samples()
    assert res.flagged and "stretched" in res.flagged


def test_text_outside_the_vocabulary_is_reported_with_the_line(engine, voices):
    req = SynthesisRequest("Hello привет.", voices["a"], duration_s=0.6, sampling=GREEDY)
    plain = SynthesisRequest("Hello.", voices["a"], duration_s=0.6, sampling=GREEDY)
    res, ok = engine.synthesize([req, plain])
    assert res.ok and len(res.audio) == req.target_samples()
    assert len(res.notes) == 1 and "ПРИВЕТ" in res.notes[0]
    assert ok.notes == []


# ---- the whole dub ------------------------------------------------------------------------
def test_pipeline_dubs_a_video_with_the_default_engine(tiny_model_dir, tmp_path, monkeypatch):
    from core.pipeline import DubOptions, dub

    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    lines = (
        (0.5, "Where have you been?", "en-us"),
        (3.0, "Waiting for the train.", "en-gb+f3"),
        (5.2, "It never came.", "en-us"),
    )
    video = mediagen.make_test_video(
        tmp_path / "clip.mp4", duration_s=7, lines=lines, srt_path=tmp_path / "clip.srt"
    )
    opts = DubOptions(
        output=tmp_path / "dubbed.mp4",
        subtitles=tmp_path / "clip.srt",
        model_dir=tiny_model_dir,
        sampling=FAST,
        work_dir=tmp_path / "work",
        report_path=tmp_path / "report.json",
        save_project=False,
    )
    report = dub(video, opts)  # engine_factory: the default (IndexTTS2Engine.load)
    assert (tmp_path / "dubbed.mp4").exists()
    assert len(report.lines) == len(lines)
    for line in report.lines:
        assert line.error is None
        assert line.target_samples_22k is not None
        assert line.rendered_samples_22k == line.target_samples_22k
        assert STAGE_KEYS <= set(line.timings)
    assert os.path.getsize(tmp_path / "report.json") > 0


def test_identity_changes_with_the_model_files_and_settings(engine, tiny_model_dir):
    from models.engine import files_fingerprint
    from models.layout import locate

    files = locate(tiny_model_dir)
    assert engine.files_digest == files_fingerprint(files)
    before = engine.identity
    engine.duration_embedding = "speed"
    try:
        assert engine.identity != before
    finally:
        engine.duration_embedding = "paper"
    other = dataclasses.replace(files, gpt=files.gpt.parent / "feat1.pt")  # another file
    assert files_fingerprint(other) != engine.files_digest
