"""Precision per stage (models/precision.py): the choice per device and CPU, weights stored
once in the chosen dtype, the half paths within a stated error of fp32 on the tiny reference
models, the draft preset's prompt cut, CPU batching by shape, and the KV-cached greedy
decode equal to a decode that recomputes the whole sequence every step."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from models.contract import Sampling, SynthesisRequest
from models.precision import (
    EMULATED_NARROW_ROWS,
    PrecisionPlan,
    cpu_has_fast_bf16,
    linear,
    plan_precision,
    snr_db,
    store_linear_weights,
)
from tests import mediagen

GREEDY = dataclasses.replace(Sampling.greedy(), diffusion_steps=4)
# Error bounds on the tiny reference models, greedy, same codes (measured: bf16 mel 51 dB,
# wave 64 dB; fp16 decoder only: latent 75 dB, mel > 100 dB). The bounds leave ~10 dB.
BF16_MEL_SNR_DB = 40.0
BF16_WAVE_SNR_DB = 50.0
FP16_DECODER_LATENT_SNR_DB = 60.0
FP16_DECODER_MEL_SNR_DB = 60.0


@pytest.fixture(scope="module", autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# ---- the choice -----------------------------------------------------------------------------
def test_cpu_bf16_detection_reads_flags_and_capability():
    assert cpu_has_fast_bf16(frozenset({"avx2", "amx_bf16", "amx_tile"}), "AVX512")
    assert cpu_has_fast_bf16(frozenset({"avx512f", "avx512_bf16"}), "AVX512")
    assert not cpu_has_fast_bf16(frozenset({"avx2", "fma", "f16c"}), "AVX2")
    assert cpu_has_fast_bf16(frozenset(), "AMX_BF16")  # where /proc/cpuinfo is missing


def test_auto_on_a_cpu_with_native_bf16_streams_fp16_decode_steps_and_runs_bf16_wide():
    plan = plan_precision("cpu", "auto", cpu_fast_bf16=True)
    assert (plan.t2s, plan.s2m, plan.vocoder) == (torch.float16, torch.bfloat16, torch.float32)
    # one-row decode products in the stored fp16, wider ones (prefill, latents) in bf16
    assert plan.t2s_narrow_rows == EMULATED_NARROW_ROWS and plan.t2s_wide == torch.bfloat16
    assert "+bf16" in plan.label() and "wide products bf16" in plan.describe()
    assert plan.t2s_conditioning == torch.bfloat16 and "cond=bf16" in plan.label()
    forced = plan_precision("cpu", "bf16", cpu_fast_bf16=True)
    assert forced.t2s == torch.bfloat16 and forced.t2s_narrow_rows is None


def test_wide_products_run_in_the_wide_dtype_and_narrow_ones_in_the_stored(monkeypatch):
    from models.precision import linear

    layer = torch.nn.Linear(64, 32)
    want_wide = layer(torch.ones(40, 64))
    layer.weight.data, layer.bias.data = layer.weight.half(), layer.bias.half()
    seen = []
    real = torch.nn.functional.linear

    def spy(x, w, b=None):
        seen.append((x.shape[0], x.dtype, w.dtype))
        return real(x, w, b)

    monkeypatch.setattr(torch.nn.functional, "linear", spy)
    narrow = linear(torch.ones(1, 64), layer, 16, torch.bfloat16)
    wide = linear(torch.ones(40, 64), layer, 16, torch.bfloat16)
    assert seen == [(1, torch.float16, torch.float16), (40, torch.bfloat16, torch.bfloat16)]
    assert narrow.dtype == wide.dtype == torch.float32  # activations stay fp32
    torch.testing.assert_close(wide, want_wide, atol=0.05, rtol=0.02)


def test_auto_on_an_avx2_cpu_keeps_the_flow_model_fp32():
    plan = plan_precision("cpu", "auto", cpu_fast_bf16=False)
    assert plan.s2m == torch.float32 and plan.vocoder == torch.float32
    assert plan.t2s == torch.float16 and plan.t2s_narrow_rows == EMULATED_NARROW_ROWS


@pytest.mark.parametrize("bf16,want", [(True, torch.bfloat16), (False, torch.float16)])
def test_auto_on_cuda_is_bf16_where_supported_else_fp16(bf16, want):
    plan = plan_precision("cuda", "auto", cuda_bf16=bf16)
    assert (plan.t2s, plan.s2m, plan.vocoder) == (want, want, torch.float32)
    asked = plan_precision("cuda", "bf16", cuda_bf16=bf16)
    assert asked.t2s == want  # bf16 asked on a GPU without it falls back to fp16


def test_fp32_is_fp32_everywhere_and_labels_like_before():
    for device in ("cpu", "cuda"):
        plan = plan_precision(device, "fp32", cpu_fast_bf16=True, cuda_bf16=True)
        assert plan.is_fp32
        assert plan.label() == "torch.float32"  # the engine identity of fp32 is unchanged
    assert plan_precision("mps", "auto").is_fp32


def test_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="auto, fp32, bf16 or fp16"):
        plan_precision("cpu", "int4")


def test_label_differs_between_plans():
    labels = {
        plan_precision("cpu", c, cpu_fast_bf16=f).label()
        for c in ("fp32", "bf16", "fp16", "auto")
        for f in (True, False)
    }
    assert len(labels) >= 4


# ---- weights stored once --------------------------------------------------------------------
def test_weights_are_stored_in_the_dtype_and_products_follow_the_width():
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 32)
    ref_w, ref_b = layer.weight.detach().clone(), layer.bias.detach().clone()
    assert store_linear_weights(torch.nn.Sequential(layer), torch.float16) == 1
    assert layer.weight.dtype == torch.float16 and layer.bias.dtype == torch.float16
    x_narrow, x_wide = torch.randn(2, 64), torch.randn(40, 64)
    with torch.inference_mode():
        narrow = linear(x_narrow, layer, narrow_rows=16)
        wide = linear(x_wide, layer, narrow_rows=16)
    assert narrow.dtype == torch.float32 and wide.dtype == torch.float32
    # Wide products upcast the (rounded) weight: exactly the fp32 product of those weights.
    exact = torch.nn.functional.linear(x_wide, layer.weight.float(), layer.bias.float())
    torch.testing.assert_close(wide, exact, rtol=0, atol=0)
    assert snr_db(torch.nn.functional.linear(x_narrow, ref_w, ref_b), narrow) > 40


def test_snr_of_equal_tensors_is_infinite():
    a = torch.randn(100)
    assert snr_db(a, a.clone()) == float("inf")
    assert 15 < snr_db(a, a + 0.1 * torch.randn(100)) < 25


# ---- the engine on the tiny reference models ---------------------------------------------------
@pytest.fixture(scope="module")
def prompt():
    return mediagen.speak(
        "Good evening, I am the first voice of this test.", "en-us"
    ), mediagen.RATE


def _engine(tiny_model_dir):
    from models.indextts2.engine import IndexTTS2Engine

    return IndexTTS2Engine.load(tiny_model_dir, device="cpu")


def _requests(handle, sampling=GREEDY):
    lines = [("Where have you been?", 1.2), ("I was waiting for the train.", 1.6)]
    return [
        SynthesisRequest(t, handle, duration_s=d, sampling=sampling, seed=i)
        for i, (t, d) in enumerate(lines)
    ]


def test_engine_defaults_to_fp32_on_the_cpu(tiny_model_dir):
    engine = _engine(tiny_model_dir)
    assert engine.precision.is_fp32
    assert engine.parts.t2s.decoder_dtype == torch.float32


@pytest.mark.parametrize(
    "plan",
    [
        plan_precision("cpu", "bf16", cpu_fast_bf16=True),
        plan_precision("cpu", "auto", cpu_fast_bf16=True),
        plan_precision("cpu", "auto", cpu_fast_bf16=False),
    ],
    ids=["bf16-amx", "auto-avx512bf16", "auto-avx2"],
)
def test_half_plans_stay_within_the_stated_error_of_fp32(tiny_model_dir, prompt, plan):
    from models.precision_check import compare_precision

    engine = _engine(tiny_model_dir)
    handle = engine.prepare_voice(*prompt)
    report = compare_precision(engine, plan, _requests(handle))
    assert not [line.nonfinite for line in report.lines if line.nonfinite], report.table()
    gpt = engine.parts.t2s.gpt
    assert gpt.h[0].attn.c_attn.weight.dtype == plan.t2s  # stored once, in place
    assert engine.parts.t2s.mel_head.weight.dtype == plan.t2s
    assert engine.parts.s2m.cfm.estimator.dtype == plan.s2m
    assert engine.parts.t2s.conditioning_encoder is not None
    perceiver = engine.parts.t2s.perceiver_encoder
    stored = {m.weight.dtype for m in perceiver.modules() if isinstance(m, torch.nn.Linear)}
    assert stored == {plan.t2s_conditioning}
    if plan.s2m == torch.bfloat16:  # the flow model in bf16 bounds the error
        assert report.worst("mel_snr") > BF16_MEL_SNR_DB, report.table()
        assert report.worst("wave_snr") > BF16_WAVE_SNR_DB, report.table()
    else:
        assert report.worst("latent_snr") > FP16_DECODER_LATENT_SNR_DB, report.table()
        assert report.worst("mel_snr") > FP16_DECODER_MEL_SNR_DB, report.table()
        assert report.worst("code_match") == 1.0, report.table()
    # ... and not equal either: the plan really ran in half precision.
    assert report.worst("latent_snr") < 200


def test_use_precision_converts_once_and_changes_identity(tiny_model_dir):
    engine = _engine(tiny_model_dir)
    before = engine.identity
    kept = engine.use_precision("fp32")  # already so: nothing converted, the plan said
    assert kept and "T2S fp32" in kept and engine.identity == before
    said = engine.use_precision(PrecisionPlan(t2s=torch.float16, t2s_narrow_rows=16))
    assert said and "fp16" in said
    assert engine.identity != before
    again = engine.use_precision("fp32")
    assert again and "restart" in again  # half weights cannot go back to fp32
    assert engine.parts.t2s.decoder_dtype == torch.float16


# ---- draft preset: the flow model sees the prompt's first seconds ----------------------------
def test_flow_prompt_cut_uses_the_first_frames(tiny_model_dir, prompt):
    engine = _engine(tiny_model_dir)
    handle = engine.prepare_voice(*prompt)
    seen = []
    real = engine.parts.s2m.synthesize

    def spy(prompt_cond, prompt_mel, *args, **kwargs):
        seen.append((prompt_cond[0].shape[0], prompt_mel[0].shape[-1]))
        return real(prompt_cond, prompt_mel, *args, **kwargs)

    engine.parts.s2m.synthesize = spy
    cut = dataclasses.replace(GREEDY, flow_prompt_s=1.0)
    (full,) = engine.synthesize(_requests(handle)[:1])
    (short,) = engine.synthesize(_requests(handle, cut)[:1])
    assert full.ok and short.ok and len(full.audio) == len(short.audio)
    frames = handle.data.prompt_frames
    assert seen == [(frames, frames), (round(22050 / 256), round(22050 / 256))]
    assert not np.array_equal(full.audio, short.audio)


def test_flow_prompt_must_be_positive(tiny_model_dir, prompt):
    engine = _engine(tiny_model_dir)
    handle = engine.prepare_voice(*prompt)
    bad = dataclasses.replace(GREEDY, flow_prompt_s=0.0)
    (res,) = engine.synthesize(_requests(handle, bad)[:1])
    assert not res.ok and "flow_prompt_s" in res.error


# ---- CPU batching: one line at a time unless shapes match ------------------------------------
def test_cpu_batches_only_lines_of_the_same_shape(tiny_model_dir, prompt):
    engine = _engine(tiny_model_dir)
    handle = engine.prepare_voice(*prompt)
    same = [
        SynthesisRequest("Where have you been?", handle, duration_s=1.2, sampling=GREEDY, seed=s)
        for s in range(3)
    ]
    other = _requests(handle)[1]
    jobs = [engine.make_job(i, r) for i, r in enumerate([*same, other])]
    jobs.sort(key=lambda j: (j.voice.key, engine._length_key(j)))
    sizes = sorted(len(b) for b in engine._batches(jobs))
    assert sizes == [1, 3]
    engine.max_batch = 2
    assert sorted(len(b) for b in engine._batches(jobs)) == [1, 1, 2]


# ---- KV cache: equal greedy codes to a decode without a cache ---------------------------------
def _uncached_greedy(model, cond, text, steps: int) -> list[int]:
    """Greedy codes by running the whole sequence every step (no KV cache), with the
    official prompt layout and repetition penalty 10 over prompt ids 1 and the start code."""
    from models.t2s.generate import _prompts, apply_repetition_penalty
    from models.t2s.gpt2 import prefix_mask

    cfg = model.cfg
    prompt_seq = _prompts(model, [cond], [text])[0]
    seen = torch.zeros(cfg.number_mel_codes, dtype=torch.bool)
    seen[1] = seen[cfg.start_mel_token] = True
    codes: list[int] = []
    for _ in range(steps):
        if codes:
            pos = torch.arange(2, 2 + len(codes))
            emb = model.mel_embed(torch.tensor([codes]), pos)[0]
            x = torch.cat((prompt_seq, emb))[None]
        else:
            x = prompt_seq[None]
        valid = torch.ones(1, x.shape[1], dtype=torch.bool)
        hidden = model.gpt(x, prefix_mask(valid, 0, x.shape[1]))
        scores = model.mel_logits(hidden[:, -1]).float()
        scores = apply_repetition_penalty(scores, seen[None], 10.0)
        scores[:, cfg.start_mel_token] = -float("inf")
        scores[:, cfg.stop_mel_token] = -float("inf")  # exact mode: no stop before T
        tok = int(scores.argmax(dim=-1))
        codes.append(tok)
        seen[tok] = True
    return codes


def test_kv_cached_greedy_decode_equals_the_uncached_one(reference_dir):
    from models.config import load_config
    from models.t2s import T2S, decode

    root = reference_dir / "checkpoints"
    model = T2S.load(root / "gpt.pth", load_config(root / "config.yaml").gpt)
    inputs = np.load(reference_dir / "gpt" / "inputs.npz")
    outputs = np.load(reference_dir / "gpt" / "outputs.npz")
    cond_key = next(k for k in outputs.files if "conds" in k)
    text_key = next(k for k in inputs.files if "text" in k)
    cond = torch.from_numpy(outputs[cond_key]).reshape(-1, model.dim)
    text = torch.from_numpy(inputs[text_key]).reshape(-1).long()
    steps = 30
    with torch.inference_mode():
        want = _uncached_greedy(model, cond, text, steps)
        for chunk in (None, 8):  # preallocated whole, and grown in chunks of 8
            (got,) = decode(
                model, [cond], [text], Sampling.greedy(), targets=[steps], cache_chunk=chunk
            )
            assert got.codes.tolist() == want
        model.store_decoder(torch.float16, narrow_rows=EMULATED_NARROW_ROWS)
        (half,) = decode(model, [cond], [text], Sampling.greedy(), targets=[steps])
    agree = sum(a == b for a, b in zip(half.codes.tolist(), want, strict=True))
    assert agree >= steps // 2  # fp16 decoder weights: the same codes for most steps


# ---- the dub: preset and precision reach the engine -------------------------------------------
class _PrecisionTone:
    """The tone double with the precision hook of IndexTTS2Engine."""

    def __init__(self):
        from tests.tone_engine import ToneEngine

        self.inner = ToneEngine()
        self.asked: list[str] = []

    def use_precision(self, choice: str) -> str:
        self.asked.append(choice)
        return f"precision: {choice} (double)"

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    folder = tmp_path_factory.mktemp("movie")
    video = folder / "movie.mp4"
    mediagen.make_test_video(video, duration_s=8, srt_path=folder / "movie.srt")
    return video


@pytest.mark.parametrize(
    "changes,want",
    [
        ({}, (25, None, 0.7)),
        ({"preset": "draft"}, (10, 3.0, 0.0)),
        ({"preset": "draft", "flow_steps": 6}, (6, 3.0, 0.0)),
    ],
)
def test_the_preset_and_precision_reach_the_engine(movie, tmp_path, changes, want):
    from core.job.pipeline import DubOptions, dub

    engine = _PrecisionTone()
    opts = DubOptions(
        output=tmp_path / "o.mp4",
        work_dir=tmp_path / "w",
        save_project=False,
        changes=changes,
        precision="fp16",
    )
    report = dub(movie, opts, engine_factory=lambda model_dir, device: engine)
    assert engine.asked == ["fp16"]
    requests = engine.inner.requests
    assert requests
    got = {
        (r.sampling.diffusion_steps, r.sampling.flow_prompt_s, r.sampling.cfg_rate)
        for r in requests
    }
    assert got == {want}
    said = [n for n in report.warnings if n.kind == "precision"]
    assert len(said) == 1 and "fp16 (double)" in said[0].message


def test_preset_is_a_saved_setting():
    from core.settings import DubSettings, QualityPreset

    s = DubSettings().with_changes(preset="draft")
    assert s.preset is QualityPreset.DRAFT
    assert DubSettings.from_dict(s.to_dict()).preset is QualityPreset.DRAFT
    with pytest.raises(Exception, match="QualityPreset"):
        DubSettings().with_changes(preset="fastest")


# ---- loading straight into the plan (peak memory) ----------------------------------------------
def test_the_registry_loads_each_stage_in_the_plan_before_the_next(tiny_model_dir, monkeypatch):
    """The fp32 GPT must not sit beside the rest: by the time the flow model loads, the
    decoder's weights are already bf16, and the flow model's by the time w2v-BERT loads."""
    from core.models.engines import RegistryFactory
    from models.indextts2 import engine as engine_module

    seen: dict[str, torch.dtype] = {}
    real_s2m, real_w2v = engine_module.S2M.load, engine_module.SemanticEncoder.load
    t2s_holder = {}
    real_t2s = engine_module.T2S.load

    def t2s_load(*args, **kwargs):
        t2s_holder["t2s"] = real_t2s(*args, **kwargs)
        return t2s_holder["t2s"]

    def s2m_checked(*args, **kwargs):
        seen["decoder when the flow model loads"] = t2s_holder["t2s"].decoder_dtype
        t2s_holder["s2m"] = real_s2m(*args, **kwargs)
        return t2s_holder["s2m"]

    def w2v_checked(*args, **kwargs):
        est = t2s_holder["s2m"].cfm.estimator
        seen["flow model when w2v-BERT loads"] = next(est.parameters()).dtype
        return real_w2v(*args, **kwargs)

    monkeypatch.setattr(engine_module.T2S, "load", t2s_load)
    monkeypatch.setattr(engine_module.S2M, "load", s2m_checked)
    monkeypatch.setattr(engine_module.SemanticEncoder, "load", w2v_checked)
    engine = RegistryFactory()(tiny_model_dir, "cpu", precision="bf16")
    assert seen == {
        "decoder when the flow model loads": torch.bfloat16,
        "flow model when w2v-BERT loads": torch.bfloat16,
    }
    assert engine.precision.t2s == engine.precision.s2m == torch.bfloat16
    identity = engine.identity
    said = engine.use_precision("bf16")  # the dub asks again: nothing to convert
    assert said and "T2S bf16" in said and engine.identity == identity


def test_the_engine_cache_passes_the_precision_and_keeps_a_callers_factory(tiny_model_dir):
    from core.models.engines import EngineCache, load_engine

    cache = EngineCache()
    engine = cache(tiny_model_dir, "cpu", precision="bf16")
    assert engine.parts.t2s.decoder_dtype == torch.bfloat16
    assert cache(tiny_model_dir, "cpu", precision="bf16") is engine  # loaded once
    made = []
    plain = load_engine(
        lambda d, dev: made.append((d, dev)) or "engine", tiny_model_dir, "cpu", "fp16"
    )
    assert plain == "engine" and made == [(tiny_model_dir, "cpu")]


def test_strict_gpt_load_moves_the_tensors_out_of_the_state_dict(reference_dir):
    """No tensor is held twice while the GPT loads: the state dict is emptied as it goes."""
    from models.config import load_config
    from models.t2s.loading import load_strict, read_state_dict
    from models.t2s.model import T2S

    ckpt = reference_dir / "checkpoints"
    cfg = load_config(ckpt / "config.yaml").gpt
    sd = read_state_dict(ckpt / "gpt.pth")
    n = len(sd)
    model = load_strict(ckpt / "gpt.pth", sd, lambda: T2S(cfg), "mismatch")
    assert n > 0 and sd == {}
    assert len(model.state_dict()) >= n - 1
