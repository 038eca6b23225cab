"""The IndexTTS2 engine on the tiny reference models: loading, voices, emotions, durations,
batching, failures, and a whole dub through core.job.pipeline with the default engine factory."""

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
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    from models.indextts2.engine import IndexTTS2Engine

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
    from models.indextts2.engine import IndexTTS2Engine

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

    def flaky(jobs, stop=lambda: False):
        sizes.append(len(jobs))
        if len(jobs) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(jobs, stop)

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
    from core.job.pipeline import DubOptions, dub

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
    from models.common import files_fingerprint
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


# ---- review fixes: memory on retry, validation, precision, widths, notes, seeds -------------
def test_out_of_memory_retry_frees_the_failed_batch_first(engine, voices, monkeypatch):
    """The failed batch's frames (stand-in: a tensor allocated in S2M) are gone before the
    halves render, so emptying the CUDA cache can actually give the memory back."""
    import weakref

    s2m = engine.parts.s2m
    real = s2m.synthesize
    held: list[weakref.ref] = []
    alive_at_call: list[int] = []

    def fake(*args, **kwargs):
        alive_at_call.append(sum(r() is not None for r in held))
        activations = torch.empty(1_000_000)  # what a failed frame would keep alive
        held.append(weakref.ref(activations))
        if len(args[3]) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(s2m, "synthesize", fake)
    decodes: list[int] = []
    real_decode = __import__("models.indextts2.engine", fromlist=["decode"]).decode

    def counting_decode(model, conds, *a, **k):
        decodes.append(len(conds))
        return real_decode(model, conds, *a, **k)

    monkeypatch.setattr("models.indextts2.engine.decode", counting_decode)
    reqs = [
        SynthesisRequest(f"Line number {i}.", voices["a"], duration_s=0.6, sampling=GREEDY, seed=i)
        for i in range(4)
    ]
    results = engine.synthesize(reqs)
    assert all(r.ok for r in results), [r.error for r in results]
    assert len(alive_at_call) == 1 + 2 + 4  # 4 -> 2 + 2 -> 1 + 1 + 1 + 1
    assert alive_at_call == [0] * len(alive_at_call)
    # the T2S results of the failed batch are kept: decoded once, as one batch
    assert decodes == [4]


def test_a_failing_stage_after_t2s_does_not_decode_again(engine, voices, monkeypatch):
    """A non-OOM failure in a later stage splits the batch, but the halves reuse the codes."""
    decodes: list[int] = []
    real_decode = __import__("models.indextts2.engine", fromlist=["decode"]).decode

    def counting_decode(model, conds, *a, **k):
        decodes.append(len(conds))
        return real_decode(model, conds, *a, **k)

    def failing_vocoder(mels):
        raise RuntimeError("vocoder exploded")

    monkeypatch.setattr("models.indextts2.engine.decode", counting_decode)
    monkeypatch.setattr(engine.parts, "vocoder", failing_vocoder)
    reqs = [
        SynthesisRequest(t, voices["a"], duration_s=0.5, sampling=GREEDY, seed=i)
        for i, t in enumerate(["Line one.", "Line two.", "Line three."])
    ]
    results = engine.synthesize(reqs)
    assert all(not r.ok and "vocoder exploded" in r.error for r in results)
    assert decodes == [3]


@pytest.mark.parametrize(
    "change,word",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"repetition_penalty": 0.0}, "repetition_penalty"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"num_beams": 0}, "num_beams"),
        ({"diffusion_steps": 0}, "diffusion_steps"),
    ],
)
def test_invalid_settings_fail_that_request_alone_before_decoding(
    engine, voices, monkeypatch, change, word
):
    decodes: list[int] = []
    real_decode = __import__("models.indextts2.engine", fromlist=["decode"]).decode

    def counting_decode(model, conds, *a, **k):
        decodes.append(len(conds))
        return real_decode(model, conds, *a, **k)

    monkeypatch.setattr("models.indextts2.engine.decode", counting_decode)
    good = SynthesisRequest("Fine.", voices["a"], duration_s=0.5, sampling=GREEDY, seed=1)
    bad = dataclasses.replace(good, sampling=dataclasses.replace(FAST, **change))
    res_good, res_bad = engine.synthesize([good, bad])
    assert res_good.ok and not res_bad.ok
    assert word in res_bad.error
    assert decodes == [1]  # only the good request reached T2S, once


def test_greedy_with_zero_temperature_is_accepted(engine, voices):
    s = dataclasses.replace(GREEDY, temperature=0.0)
    engine._validate(SynthesisRequest("Fine.", voices["a"], duration_s=0.5, sampling=s))


def test_slot_beyond_the_s2m_block_fails_alone(engine, voices, monkeypatch):
    from models.batching import RequestError

    v = voices["a"].data
    block = engine.parts.s2m.cfg.dit.block_size
    ok_s = (block - v.prompt_frames) * 256 / SAMPLE_RATE - 0.01  # just fits
    too_long = (block - v.prompt_frames + 2) * 256 / SAMPLE_RATE
    assert LengthPlan.for_duration(ok_s).frames + v.prompt_frames <= block
    engine.make_job(0, SynthesisRequest("Fits.", voices["a"], duration_s=ok_s))
    for mode in (DurationMode.EXACT, DurationMode.NATURAL):
        req = SynthesisRequest("Too long.", voices["a"], duration_s=too_long, mode=mode)
        with pytest.raises(RequestError, match="S2M"):
            engine.make_job(0, req)
    # free pace is only known after T2S: a shrunken block fails that line, not its batch
    small = dataclasses.replace(engine.parts.s2m.cfg.dit, block_size=v.prompt_frames + 5)
    monkeypatch.setattr(
        engine.parts.s2m, "cfg", dataclasses.replace(engine.parts.s2m.cfg, dit=small)
    )
    free = SynthesisRequest("A free line that is long.", voices["a"], sampling=GREEDY)
    res = engine.synthesize([free])[0]
    assert not res.ok and "S2M" in res.error


class _Recorder:
    """Wraps a callable and records whether CPU autocast was on at each call."""

    def __init__(self, fn, log, name):
        self.fn, self.log, self.name = fn, log, name

    def __call__(self, *a, **k):
        self.log.append((self.name, torch.is_autocast_enabled("cpu")))
        return self.fn(*a, **k)


def test_autocast_covers_the_t2s_stage_only(engine, voices, prompts, monkeypatch):
    """CPU bf16 autocast stands in for CUDA's: the prompt path (w2v-BERT, codec, mel,
    CAMPPlus), S2M and the vocoder run outside it, in float32 and with the same numbers as
    without it; the GPT conditioning runs inside."""
    from models import voice as voice_mod

    seen: list[tuple[str, bool]] = []
    p = engine.parts
    for obj, attr in (
        (p.semantic, "hidden17"),
        (p.codec, "quantize"),
        (p.codec, "vq2emb"),
        (p.s2m, "gpt_latent_to_cond"),
        (p.s2m, "synthesize"),
        (p.t2s, "speaker_latents"),
    ):
        monkeypatch.setattr(obj, attr, _Recorder(getattr(obj, attr), seen, attr))
    monkeypatch.setattr(p, "style", _Recorder(p.style, seen, "style"))
    monkeypatch.setattr(p, "vocoder", _Recorder(p.vocoder, seen, "vocoder"))
    monkeypatch.setattr(
        voice_mod, "mel_spectrogram", _Recorder(voice_mod.mel_spectrogram, seen, "mel")
    )

    req = SynthesisRequest("Where have you been?", voices["a"], duration_s=0.8, sampling=GREEDY)
    jobs = [engine.make_job(0, req), engine.make_job(0, req)]
    engine._run_t2s(jobs)  # the same codes for both; then the later stages with and without
    with monkeypatch.context() as m:
        m.setattr(engine, "_autocast", lambda: torch.autocast("cpu", dtype=torch.bfloat16))
        audio, rate = prompts["b"]
        engine.prepare_voice(audio[: rate * 2], rate)  # a new prompt: not cached
        engine._render([jobs[0]])
    engine._render([jobs[1]])

    flags: dict[str, set[bool]] = {}
    for name, on in seen:
        flags.setdefault(name, set()).add(on)
    for name in ("hidden17", "quantize", "vq2emb", "mel", "style", "gpt_latent_to_cond"):
        assert flags[name] == {False}, name
    for name in ("synthesize", "vocoder"):
        assert flags[name] == {False}, name
    assert flags["speaker_latents"] == {True}
    a, b = jobs
    assert a.mel.dtype == torch.float32 and a.audio.dtype == np.float32
    torch.testing.assert_close(a.mel, b.mel, rtol=0, atol=0)
    np.testing.assert_array_equal(a.audio, b.audio)


def test_autocast_reaches_t2s_decoding(engine, voices, monkeypatch):
    seen: list[tuple[str, bool]] = []
    real_decode = __import__("models.indextts2.engine", fromlist=["decode"]).decode
    monkeypatch.setattr("models.indextts2.engine.decode", _Recorder(real_decode, seen, "decode"))
    monkeypatch.setattr(engine, "_autocast", lambda: torch.autocast("cpu", dtype=torch.bfloat16))
    req = SynthesisRequest("Hi.", voices["a"], duration_s=0.4, sampling=GREEDY)
    job = engine.make_job(0, req)
    engine._render([job])
    assert seen == [("decode", True)]
    assert job.audio is not None and job.audio.dtype == np.float32


def _mixed_dir(tiny_model_dir, tmp_path, reference_dir, names):
    mixed = tmp_path / "mixed"
    shutil.copytree(tiny_model_dir, mixed, symlinks=True)
    for name in names:
        target = mixed / "indextts2" / name
        target.unlink()
        target.symlink_to((reference_dir / "checkpoints" / name).resolve())
    return mixed


@pytest.mark.parametrize(
    "names,files",
    [
        (("gpt.pth", "s2mel.pth"), ("gpt.pth", "s2mel.pth", "wav2vec2bert_stats.pt")),
        (("s2mel.pth",), ("gpt.pth", "s2mel.pth", "semantic_codec")),
        (("gpt.pth",), ("gpt.pth", "wav2vec2bert_stats.pt")),
    ],
)
def test_checkpoints_of_different_widths_are_refused_at_load(
    tiny_model_dir, tmp_path, reference_dir, names, files
):
    from models.indextts2.engine import IndexTTS2Engine
    from models.t2s.loading import CheckpointMismatch

    mixed = _mixed_dir(tiny_model_dir, tmp_path, reference_dir, names)
    with pytest.raises(CheckpointMismatch) as info:
        IndexTTS2Engine.load(mixed)
    msg = str(info.value)
    for name in files:
        assert name in msg, msg
    assert "do not belong together" in msg


def test_a_line_cut_at_max_tokens_says_so(engine, voices):
    s = dataclasses.replace(GREEDY, max_tokens=3)
    cut = SynthesisRequest("This line is far too long for three tokens.", voices["a"], sampling=s)
    natural = dataclasses.replace(cut, duration_s=1.0, mode=DurationMode.NATURAL)
    exact = dataclasses.replace(cut, duration_s=1.0, mode=DurationMode.EXACT)
    res_cut, res_nat, res_exact = engine.synthesize([cut, natural, exact])
    for res in (res_cut, res_nat):
        assert res.ok and res.tokens == 3
        assert any("cut at max_tokens" in n for n in res.notes), res.notes
    assert res_exact.ok and not any("max_tokens" in n for n in res_exact.notes)


def test_seed_streams_are_distinct_and_any_seed_works(engine, voices):
    from models.common import stream_seed

    streams = {
        (seed, stage, seg): stream_seed(seed, stage, seg)
        for seed in range(20)
        for stage in ("t2s", "cfm")
        for seg in range(4)
    }
    assert len(set(streams.values())) == len(streams)  # cue i seg 1 != cue i+1 seg 0, etc.
    assert all(0 <= v < 2**63 for v in streams.values())
    assert stream_seed(5, "t2s", 1) == stream_seed(5, "t2s", 1)
    for seed in (2**64 + 3, -(2**70), -1):
        v = stream_seed(seed, "cfm")
        assert 0 <= v < 2**63
        torch.Generator().manual_seed(v)
    req = SynthesisRequest("Big seed.", voices["a"], duration_s=0.5, sampling=FAST, seed=2**80)
    res = engine.synthesize([req, dataclasses.replace(req, seed=-(2**80))])
    assert all(r.ok for r in res), [r.error for r in res]


def test_an_emotion_text_that_is_not_understood_is_reported(engine, voices, tmp_path, monkeypatch):
    from models.emotion import EmotionReading

    qwen = tmp_path / "qwen"
    qwen.mkdir()
    (qwen / "config.json").write_text("{}")

    class Reader:
        def read(self, text):
            return EmotionReading(
                [0.0] * 7 + [1.0], fallback=True, note="the reply named no emotion"
            )

    monkeypatch.setattr(engine.parts, "qwen_dir", qwen)
    monkeypatch.setattr(engine.parts, "text_emotion", Reader())
    emo = EmotionSpec(EmotionSource.TEXT, text="in a way nobody can describe")
    res = engine.synthesize(
        [SynthesisRequest("Hello.", voices["a"], emotion=emo, duration_s=0.6, sampling=GREEDY)]
    )[0]
    assert res.ok and any("spoken calm" in n and "named no emotion" in n for n in res.notes)
