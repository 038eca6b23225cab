"""Issue 26, item 14: VoxCPM2 honours the steps, guidance and prompt length asked, says it
ignores --precision, asks a take cut short by its text bound for a slower pace, and says
"even at the fastest pace" only when that pace was tried.

The engine is the real `voxcpm` package on random-weight folders (tests/voxcpm2_fixture.py).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import voxcpm  # noqa: F401 - installed by installer/install.sh: a missing one must fail here

from core.lines.limits import line_problem
from core.settings import PRESET_SAMPLING, QualityPreset
from models.contract import DurationMode, Sampling, SynthesisRequest
from models.units import samples_for
from models.voxcpm2 import fit
from models.voxcpm2.engine import VoxCPM2Engine
from tests.voxcpm2_fixture import make_voxcpm2_folder

SLOWER = {"slightly slower", "slow pace", "very slow pace"}


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> dict[str, VoxCPM2Engine]:
    out = {}
    for rule in ("random", "never"):
        root = tmp_path_factory.mktemp(f"vox26-{rule}")
        make_voxcpm2_folder(root / "voxcpm2", stop=rule)
        out[rule] = VoxCPM2Engine.load(root, "cpu")
    return out


def _prompt(seconds: float = 3.0, rate: int = 22050) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)


def _spy(engine, monkeypatch) -> list[dict]:
    seen: list[dict] = []
    real = engine.model.generate_with_prompt_cache

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.model, "generate_with_prompt_cache", spy)
    return seen


def _draft() -> Sampling:
    steps, prompt_s, guidance = PRESET_SAMPLING[QualityPreset.DRAFT]
    return dataclasses.replace(
        Sampling(), diffusion_steps=steps, flow_prompt_s=prompt_s, cfg_rate=guidance
    )


def test_steps_guidance_and_prompt_length_are_the_ones_asked(engines, monkeypatch):
    engine = engines["random"]
    seen = _spy(engine, monkeypatch)
    voice = engine.prepare_voice(_prompt(6.0), 22050)
    full_rows = voice.data.cache["ref_audio_feat"].shape[0]
    asked = {
        "final": Sampling(),  # the final preset: the sampling as given
        "--flow-steps 25": Sampling(diffusion_steps=25),
        "--flow-steps 12": Sampling(diffusion_steps=12),
        "draft": _draft(),
    }
    for sampling in asked.values():
        req = SynthesisRequest(text="Hallo.", voice=voice, duration_s=None, sampling=sampling)
        assert engine.synthesize([req])[0].ok
    final, steps25, steps12, draft = seen
    assert final["inference_timesteps"] == 25 and steps25["inference_timesteps"] == 25
    assert steps12["inference_timesteps"] == 12 and draft["inference_timesteps"] == 10
    # Guidance: the default is VoxCPM2's own (2.0); the draft's none is none (1.0).
    assert final["cfg_value"] == pytest.approx(2.0)
    assert draft["cfg_value"] == pytest.approx(1.0)
    # The draft's 3 s prompt: the first 3 s of the reference (0.16 s a row), not all 6 s.
    rows = draft["prompt_cache"]["ref_audio_feat"].shape[0]
    assert rows == math.ceil(3.0 / 0.16) < full_rows
    assert final["prompt_cache"]["ref_audio_feat"].shape[0] == full_rows


def test_precision_asked_is_said_to_be_ignored(engines):
    engine = engines["random"]
    assert engine.use_precision("auto") is None and engine.use_precision(None) is None
    said = engine.use_precision("fp16")
    assert said and "fp16" in said and "ignored" in said


def test_a_take_its_text_bound_cuts_short_is_asked_slower(engines, monkeypatch):
    # "Hi." is 3 tokens: the package stops the run after 6 x 3 + 10 = 28 steps, under the
    # 37 steps a 12 s slot may not stop before. The take is short: a slower pace is asked.
    engine = engines["never"]
    voice = engine.prepare_voice(_prompt(), 22050)
    bounds = fit.step_bounds(samples_for(12.0, 48000), engine.step_samples)
    assert len(engine.model.text_tokenizer("Hi.")) * 6 + 10 < bounds.min_steps
    req = SynthesisRequest(text="Hi.", voice=voice, duration_s=12.0)
    res = engine.synthesize([req])[0]
    assert res.ok and len(res.audio) == samples_for(12.0, 48000)
    assert res.fit["tried"][0] is None and res.fit["candidates"] >= 2
    assert res.fit["tried"][1] in SLOWER, res.fit["tried"]


def test_the_fastest_pace_is_named_only_when_tried():
    rate, target = 48000, 48000
    long_take = np.full(3 * rate, 0.3, np.float32)  # 3x the slot: cut even stretched

    def candidate(pace: int) -> fit.Candidate:
        return fit.Candidate(audio=long_take, pace=pace, stopped=True, start=0, end=len(long_take))

    limits = fit.stretch_limits(False)
    as_it_comes = fit.fit_take([candidate(fit.NATURAL_PACE)], target, rate, limits)
    assert "cut" in as_it_comes.flag and "fastest" not in as_it_comes.flag
    assert "as it comes" in as_it_comes.flag
    fastest = fit.fit_take(
        [candidate(fit.NATURAL_PACE), candidate(len(fit.PACES) - 1)], target, rate, limits
    )
    assert "even at the fastest pace" in fastest.flag


def test_a_line_overflowing_the_models_positions_is_refused_before_decoding(engines, monkeypatch):
    # Issue 26, item 11: the tiny model holds 1024 positions (its config's max_length);
    # 200 one-token characters may run 6 x 200 + 10 steps: 1411 positions.
    engine = engines["random"]
    seen = _spy(engine, monkeypatch)
    text = "Ja " * 66 + "ok"
    said = engine.line_limit(text, None)
    assert said and "positions" in said and "1024" in said and "split the line" in said
    assert line_problem(text, 30.0, mode=DurationMode.FREE, engine=engine) == said
    # A 2 s span bounds the steps (1.35 x 12.5 + 1): the same line then fits.
    assert engine.line_limit(text, 2.0) is None
    assert engine.line_limit("Hallo.", None) is None
    assert seen == []  # judged without decoding anything


def test_the_engine_itself_refuses_such_a_line(engines, monkeypatch):
    # Today such a line (200 characters, free pace) ran past 10 minutes on the tiny model.
    engine = engines["random"]
    seen = _spy(engine, monkeypatch)
    voice = engine.prepare_voice(_prompt(), 22050)
    req = SynthesisRequest(text="Ja " * 66 + "ok", voice=voice, duration_s=None)
    res = engine.synthesize([req])[0]
    assert not res.ok and "positions" in res.error and seen == []
