"""Issue 22, items 1 and 2: guided mode and the fit report on the tiny IndexTTS checkpoints.

The tiny models' weights are random; to know where the model "wants" to stop, the stop
code's output bias is edited here (never in product code): a large positive bias makes the
stop the likeliest code from the first step on (it wins early), a large negative one makes
it never win (the random model is left to run on).
"""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import pytest
import soundfile
import torch

from models.contract import DurationMode, Sampling, SynthesisRequest
from models.duration import LengthPlan
from models.s2m import official_target_frames
from models.t2s import StopWindow, decode
from tests import mediagen
from tests.test_indextts25 import ref25  # noqa: F401  (the fixture)

FAST = Sampling(diffusion_steps=3)
SECONDS = 1.5  # T = 75 tokens, window [64, 86] (the tiny table holds 100)
WIN, LOSE = 40.0, -40.0  # added to the stop code's logit


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    from models.indextts2.engine import IndexTTS2Engine

    return IndexTTS2Engine.load(tiny_model_dir, device="cpu")


@pytest.fixture(scope="module")
def voice(engine):
    audio = mediagen.speak("Good evening, I am the first voice of this test.", "en-us")
    return engine.prepare_voice(audio, mediagen.RATE)


@contextlib.contextmanager
def stop_bias(t2s, bias: float):
    """The stop code's logit shifted by `bias` while inside (the weights restored after)."""
    head, stop = t2s.mel_head, t2s.cfg.stop_mel_token
    saved = head.bias.detach().clone()
    with torch.no_grad():
        head.bias[stop] += bias
    try:
        yield
    finally:
        with torch.no_grad():
            head.bias.copy_(saved)


def render(engine, voice, mode, bias=0.0, sampling=FAST, seconds=SECONDS, seed=0):
    req = SynthesisRequest(
        "Hello there, how are you today?",
        voice,
        duration_s=seconds,
        mode=mode,
        sampling=sampling,
        seed=seed,
    )
    with stop_bias(engine.parts.t2s, bias):
        (result,) = engine.synthesize([req])
    assert result.ok, result.error
    return req, result


def window(tokens: int, spread: float = 0.15) -> tuple[int, int]:
    return round(tokens * (1 - spread)), round(tokens * (1 + spread))


def test_a_stop_that_wins_early_ends_naturally_at_the_windows_start(engine, voice):
    req, result = render(engine, voice, DurationMode.GUIDED, WIN)
    plan = LengthPlan.for_duration(SECONDS)
    lo, hi = window(plan.tokens)
    fit = result.fit
    assert fit["method"] == "guided" and fit["tokens_target"] == plan.tokens == 75
    assert fit["window"] == [lo, hi]
    # The stop is forbidden before the window, then the model's own wish is granted.
    assert fit["stop_wish"] == 0
    assert fit["stop"] == "natural" and fit["tokens_decoded"] == lo == result.tokens
    assert fit["suspected_cut"] is False
    # The flow model regulated the decoded count to the slot's frames: stretch measured.
    assert fit["stretch"] == pytest.approx(plan.frames / official_target_frames(lo) - 1, abs=1e-4)
    assert len(result.audio) == req.target_samples() == plan.samples


def test_a_stop_that_never_wins_is_forced_at_the_windows_end_and_suspected(engine, voice):
    req, result = render(engine, voice, DurationMode.GUIDED, LOSE)
    lo, hi = window(75)
    fit = result.fit
    assert fit["stop"] == "forced" and fit["tokens_decoded"] == hi == 86
    assert fit["stop_wish"] is None
    assert fit["suspected_cut"] is True
    assert fit["stretch"] == pytest.approx(
        LengthPlan.for_duration(SECONDS).frames / official_target_frames(hi) - 1, abs=1e-4
    )
    assert len(result.audio) == req.target_samples()


def test_the_random_model_stops_inside_the_window_with_exact_samples(engine, voice):
    lo, hi = window(75)
    for seed in range(3):
        req, result = render(engine, voice, DurationMode.GUIDED, seed=seed)
        fit = result.fit
        assert lo <= fit["tokens_decoded"] <= hi
        assert fit["stop"] in ("natural", "forced")
        assert fit["stop"] == "forced" or fit["tokens_decoded"] < hi or fit["stop_wish"] is not None
        assert len(result.audio) == req.target_samples()


def test_the_stop_window_is_a_setting(engine, voice):
    wide = dataclasses.replace(FAST, stop_window=0.3)
    _, result = render(engine, voice, DurationMode.GUIDED, LOSE, sampling=wide)
    assert result.fit["window"] == list(window(75, 0.3))
    assert result.fit["tokens_decoded"] == round(75 * 1.3)
    _, early = render(engine, voice, DurationMode.GUIDED, WIN, sampling=wide)
    assert early.fit["tokens_decoded"] == round(75 * 0.7)


def test_exact_mode_still_decodes_exactly_t_and_records_where_the_model_wished_to_stop(
    engine, voice
):
    req, result = render(engine, voice, DurationMode.EXACT, WIN)
    fit = result.fit
    assert fit["method"] == "exact"
    assert fit["tokens_decoded"] == fit["tokens_target"] == 75 == result.tokens
    assert fit["stop"] == "forced"  # T forced it, though the model wished to stop at once
    assert fit["stop_wish"] == 0 and fit["suspected_cut"] is False
    assert fit["stretch"] == pytest.approx(
        LengthPlan.for_duration(SECONDS).frames / official_target_frames(75) - 1, abs=1e-4
    )
    assert len(result.audio) == req.target_samples()
    _, cut = render(engine, voice, DurationMode.EXACT, LOSE)
    assert cut.fit["tokens_decoded"] == 75 and cut.fit["suspected_cut"] is True


def test_exact_mode_decodes_the_same_codes_as_before_the_window_existed(engine, voice):
    """Exact T is StopWindow(T, T): the same constraint, the same codes."""
    t2s = engine.parts.t2s
    conds = engine._conds(engine.make_job(0, render_request(voice, DurationMode.EXACT)))
    text = [torch.tensor(engine.text_segments("Hello there.")[0])]
    settings = Sampling(max_tokens=100)
    as_int = decode(t2s, conds, text, settings, targets=[40], seeds=[3])[0]
    as_window = decode(t2s, conds, text, settings, targets=[StopWindow(40, 40)], seeds=[3])[0]
    assert torch.equal(as_int.codes, as_window.codes) and len(as_int.codes) == 40
    assert as_int.forced and as_window.forced


def render_request(voice, mode):
    return SynthesisRequest("Hello there.", voice, duration_s=0.8, mode=mode, sampling=FAST)


@pytest.mark.parametrize("beams", [1, 3])
def test_the_decoder_honours_the_window_with_samples_and_beams(engine, voice, beams):
    t2s = engine.parts.t2s
    conds = engine._conds(engine.make_job(0, render_request(voice, DurationMode.GUIDED)))
    text = [torch.tensor(engine.text_segments("Hello there.")[0])]
    settings = Sampling(num_beams=beams, max_tokens=100)
    with stop_bias(t2s, WIN):
        (early,) = decode(t2s, conds, text, settings, targets=[StopWindow(30, 50)], seeds=[1])
    with stop_bias(t2s, LOSE):
        (late,) = decode(t2s, conds, text, settings, targets=[StopWindow(30, 50)], seeds=[1])
    assert len(early.codes) == 30 and not early.forced and early.stop_wish == 0
    assert len(late.codes) == 50 and late.forced and late.stop_wish is None


def test_natural_mode_reports_its_free_count_against_the_slot(engine, voice):
    req, result = render(engine, voice, DurationMode.NATURAL)
    fit = result.fit
    assert fit["method"] == "natural" and fit["tokens_target"] == 75 and fit["window"] is None
    assert fit["tokens_decoded"] == result.tokens and fit["stop"] in ("natural", "forced")
    assert len(result.audio) == req.target_samples()
    plan = LengthPlan.for_duration(SECONDS)
    official = official_target_frames(result.tokens)
    assert fit["stretch"] == pytest.approx(plan.frames / official - 1, abs=1e-4)


def test_a_stop_at_the_first_step_fails_the_line_with_a_clear_error(engine, voice):
    req = SynthesisRequest("Hello.", voice, duration_s=1.0, mode=DurationMode.NATURAL)
    with stop_bias(engine.parts.t2s, WIN):
        (result,) = engine.synthesize([dataclasses.replace(req, sampling=FAST)])
    assert result.error == "the T2S model produced no speech tokens for this line"


def test_free_pace_has_no_fit_report(engine, voice):
    _, result = render(engine, voice, DurationMode.FREE)
    assert result.fit is None


def test_the_capabilities_say_which_fits_an_engine_does(engine):
    assert engine.capabilities.fit_methods == ("guided", "exact", "natural")


# ---- IndexTTS-2.5: no duration slot, the same window on its codes -------------------------
def test_indextts25_guided_fits_codes_in_the_window_and_samples_exactly(ref25):  # noqa: F811
    from models.indextts25.engine import IndexTTS25Engine

    engine = IndexTTS25Engine.load(ref25 / "checkpoints")
    audio, rate = soundfile.read(ref25 / "e2e" / "prompt.wav", dtype="float32")
    voice = engine.prepare_voice(audio, rate)
    assert engine.capabilities.fit_methods == ("guided", "exact", "natural")
    req = SynthesisRequest(
        "Hello there, how are you?", voice, duration_s=1.6, mode=DurationMode.GUIDED,
        sampling=FAST, language="en",
    )  # fmt: skip
    head, stop = engine.parts.t2s.mel_head, engine.parts.t2s.cfg.stop_mel_token
    with torch.no_grad():
        head.bias[stop] -= 40.0  # never wins: forced at the window's end
    (result,) = engine.synthesize([req])
    assert result.ok, result.error
    fit = result.fit
    assert fit["method"] == "guided" and fit["tokens_target"] == 40  # 25 codes/s
    assert fit["window"] == [34, 46] and fit["tokens_decoded"] == 46
    assert fit["stop"] == "forced" and fit["suspected_cut"] is True
    assert len(result.audio) == req.target_samples()
    assert np.isfinite(fit["stretch"])
