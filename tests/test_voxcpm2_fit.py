"""Fitting a free-paced take to its span (models/voxcpm2/fit.py) and the style text
(models/voxcpm2/style.py), on plain arrays: no model needed."""

from __future__ import annotations

import numpy as np
import pytest

from models.contract import EmotionSource, EmotionSpec
from models.voxcpm2 import fit
from models.voxcpm2.style import styled_text, vector_words

RATE = 48000


def _speech(seconds: float, tail_silence_s: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(
        np.float32
    )
    return np.concatenate([tone, np.zeros(int(tail_silence_s * RATE), np.float32)])


def test_step_bounds_follow_the_slot():
    b = fit.step_bounds(samples_for_s(2.0), 7680)  # 0.16 s steps: 12.5 steps fill 2 s
    assert b.slot_steps == pytest.approx(12.5)
    assert b.min_steps == 6 and b.max_steps == 18


def samples_for_s(seconds: float) -> int:
    return round(seconds * RATE)


def test_speech_length_drops_trailing_silence():
    audio = _speech(1.0, tail_silence_s=0.5)
    n = fit.speech_length(audio, RATE)
    assert abs(n - (RATE + fit.TAIL_KEEP_S * RATE)) <= RATE // 100


@pytest.mark.parametrize("factor", [0.94, 0.97, 1.03, 1.06])
def test_time_stretch_changes_length_not_pitch(factor):
    audio = _speech(1.5)
    out = fit.time_stretch(audio, RATE, factor)
    assert abs(len(out) - len(audio) * factor) <= 2
    # The pitch stays: the spectrum's peak is still at 220 Hz.
    spec = np.abs(np.fft.rfft(out[RATE // 10 : -RATE // 10]))
    peak_hz = np.argmax(spec) * RATE / (len(out) - RATE // 5)
    assert abs(peak_hz - 220) < 3


def test_exact_length_pads_with_silence_and_fades_a_cut():
    audio = _speech(1.0)
    padded = fit.exact_length(audio, RATE + 4800, RATE)
    assert len(padded) == RATE + 4800 and not padded[RATE:].any()
    cut = fit.exact_length(audio, RATE // 2, RATE)
    assert len(cut) == RATE // 2 and cut[-1] == 0.0


def test_next_pace_goes_the_right_way_and_ends():
    natural = fit.NATURAL_PACE
    assert fit.PACES[fit.next_pace(natural, 1.1, {natural})] == "slightly faster"
    assert fit.PACES[fit.next_pace(natural, 1.3, {natural})] == "fast pace"
    assert fit.PACES[fit.next_pace(natural, 0.5, {natural})] == "very slow pace"
    # Nothing slower than the slowest is left to ask.
    assert fit.next_pace(0, 0.5, {natural, 0}) is None


def _cand(seconds: float, pace: int = fit.NATURAL_PACE, stopped: bool = True) -> fit.Candidate:
    audio = _speech(seconds)
    return fit.Candidate(audio=audio, pace=pace, stopped=stopped, end=len(audio))


def test_fit_keeps_the_closest_and_stretches_within_the_limit():
    target = samples_for_s(2.0)
    limits = fit.stretch_limits(natural_mode=False)
    # 2.5 s (too long), then 2.06 s after "slightly faster": that one is kept.
    result = fit.fit_take([_cand(2.5), _cand(2.06, pace=4)], target, RATE, limits)
    assert len(result.audio) == target
    assert result.method == "paced" and result.pace == "slightly faster"
    assert result.stretch == pytest.approx(2.0 / 2.06 - 1, abs=2e-3)
    assert result.candidates == 2 and result.flag is None and result.cut_ms == 0


def test_a_first_take_within_the_limit_is_natural():
    result = fit.fit_take([_cand(1.95)], samples_for_s(2.0), RATE, fit.stretch_limits(False))
    assert result.method == "natural" and result.stretch == pytest.approx(2 / 1.95 - 1, abs=2e-3)
    assert len(result.audio) == samples_for_s(2.0)


def test_a_take_that_never_stopped_loses_to_one_that_did():
    result = fit.fit_take(
        [_cand(2.0, stopped=False), _cand(1.5, pace=2)],
        samples_for_s(2.0),
        RATE,
        fit.stretch_limits(False),
    )
    assert result.pace == "slightly slower"  # the stopped one, though further off


def test_too_long_even_stretched_is_cut_and_flagged():
    result = fit.fit_take([_cand(3.0)], samples_for_s(2.0), RATE, fit.stretch_limits(False))
    assert result.method == "closest" and len(result.audio) == samples_for_s(2.0)
    assert result.stretch == pytest.approx(-fit.STRETCH_LIMIT, abs=2e-3)
    assert result.cut_ms > 800 and "cut" in result.flag


def test_style_text():
    assert styled_text("Hallo (leise) Welt", EmotionSpec()) == "Hallo, leise, Welt"
    angry = EmotionSpec(EmotionSource.VECTOR, vector=(0, 0.7, 0, 0, 0, 0, 0, 0.2))
    assert styled_text("Raus!", angry, "fast pace") == "(very angry, slightly calm, fast pace)Raus!"
    assert vector_words((0.1,) * 8, 1.0) == []  # nothing strong enough to name
    weak = EmotionSpec(EmotionSource.TEXT, text="(sarcastic)", alpha=0.3)
    assert styled_text("Toll.", weak) == "(a hint of sarcastic)Toll."


def test_silence_before_the_speech_is_not_kept():
    # A take that starts with 0.3 s of silence: the fitted line starts at its speech (less
    # the short onset), so the lips and the voice start together.
    lead = np.zeros(int(0.3 * RATE), np.float32)
    audio = np.concatenate([lead, _speech(1.0)])
    start, end = fit.speech_bounds(audio, RATE)
    assert abs(start - (0.3 - fit.LEAD_KEEP_S) * RATE) <= RATE // 100
    cand = fit.Candidate(audio=audio, pace=fit.NATURAL_PACE, stopped=True, start=start, end=end)
    result = fit.fit_take([cand], samples_for_s(1.05), RATE, fit.stretch_limits(False))
    onset = np.flatnonzero(np.abs(result.audio) > 1e-3)[0]
    assert onset < 0.05 * RATE and result.method == "natural"
