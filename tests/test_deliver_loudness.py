"""--loudness presets (core/audio/loudness_presets.py): every preset's mix, measured by ffmpeg's
ebur128 meter (an independent implementation), lands on its target and under its ceiling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from core.audio.loudness_presets import (
    PRESETS,
    loudness_range,
    measure_file,
    mix_settings_for,
    preset_named,
    short_term,
)
from core.audio.mix_stream import mix_to_file
from core.audio.mixdown import Background, Clip, MixSettings
from core.errors import OptionError
from core.job.options import DubOptions
from tests.deliver_meter import ffmpeg_loudness

RATE = 48000
DURATION = 12.0


def _voice(seconds: float, f0: float, seed: int) -> np.ndarray:
    """A line: a few harmonics with a syllable-rate envelope, at 22.05 kHz."""
    t = np.arange(int(seconds * 22050)) / 22050
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3, 4))
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t + seed)
    return (0.25 * tone * env).astype(np.float32)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A stereo bed (music-like: chords with a slow swell) and three lines over it."""
    folder = tmp_path_factory.mktemp("loud")
    t = np.arange(int(DURATION * RATE)) / RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 164.8, 220.0, 277.2))
    swell = 0.5 + 0.5 * np.sin(2 * np.pi * t / DURATION)
    rng = np.random.default_rng(0)
    bed = 0.03 * chord * swell + 0.005 * rng.standard_normal(t.size)
    bed_path = folder / "bed.wav"
    sf.write(bed_path, np.stack([bed, 0.9 * bed], axis=1).astype(np.float32), RATE, "FLOAT")
    clips = [
        Clip(1000.0, _voice(2.0, 180.0, 0), line_id=1),
        Clip(4500.0, _voice(2.5, 120.0, 1), line_id=2),
        Clip(8200.0, _voice(1.8, 210.0, 2), line_id=3),
    ]
    return folder, bed_path, clips


def _mix(scene, name: str):
    folder, bed_path, clips = scene
    settings = mix_settings_for(
        preset_named(name), MixSettings(background=Background.DUCK), bed_path, None
    )
    out = folder / f"{name}.wav"
    return mix_to_file(clips, DURATION, bed_path, out, settings), settings


@pytest.mark.parametrize("name", ["streaming", "ebu-r128", "atsc-a85"])
def test_a_preset_lands_its_mix_on_target_by_ffmpegs_meter(scene, name):
    mix, _ = _mix(scene, name)
    preset = PRESETS[name]
    got = ffmpeg_loudness(mix.path)
    assert got["I"] == pytest.approx(preset.target_lufs, abs=0.5)
    assert got["TP"] <= preset.true_peak_dbtp
    # What the report says (the mix's own figures, and a re-measure) agrees with ffmpeg.
    ours = measure_file(mix.path).figures
    for integrated, peak, lra in (
        (ours.integrated_lufs, ours.true_peak_dbtp, ours.range_lu),
        (mix.loudness_lufs, mix.true_peak_dbtp, mix.range_lu),
    ):
        assert integrated == pytest.approx(got["I"], abs=0.2)
        assert peak == pytest.approx(got["TP"], abs=0.3)
        assert lra == pytest.approx(got["LRA"], abs=1.0)
    assert got["LRA"] > 1.0  # the bed swells: a range worth comparing


def test_netflix_sets_the_dialogue_gated_loudness_not_the_whole_mix(scene, tmp_path):
    folder, bed_path, clips = scene
    mix, settings = _mix(scene, "netflix")
    assert settings.dialogue_gated and settings.true_peak_dbtp == -2.0
    audio, _ = sf.read(mix.path, dtype="float32")
    gated = np.zeros_like(audio)  # the mix only where a line plays
    for p in mix.placements:
        gated[p.start_sample : p.end_sample] = audio[p.start_sample : p.end_sample]
    sf.write(tmp_path / "gated.wav", gated, RATE, "FLOAT")
    assert ffmpeg_loudness(tmp_path / "gated.wav")["I"] == pytest.approx(-27.0, abs=0.5)
    whole = ffmpeg_loudness(mix.path)
    assert whole["TP"] <= -2.0
    # The dialogue is louder than the bed alone, so the whole mix reads lower than -27.
    assert whole["I"] < -27.5


def test_match_original_aims_at_the_originals_loudness(scene):
    folder, bed_path, clips = scene
    mix, settings = _mix(scene, "match-original")
    original = ffmpeg_loudness(bed_path)["I"]
    assert settings.target_lufs == pytest.approx(original, abs=0.2)
    assert ffmpeg_loudness(mix.path)["I"] == pytest.approx(original, abs=0.5)


def test_off_applies_no_gain(scene):
    folder, bed_path, clips = scene
    mix, settings = _mix(scene, "off")
    assert not settings.normalize
    assert mix.gain_db == 0.0
    raw, _ = _mix(scene, "streaming")
    # The same mix before its gain: streaming's file is off's times one factor.
    a, _ = sf.read(mix.path, dtype="float32")
    b, _ = sf.read(raw.path, dtype="float32")
    k = 10 ** (raw.gain_db / 20)
    np.testing.assert_allclose(a * k, b, atol=1e-5)
    assert not math.isclose(k, 1.0, abs_tol=0.01)


def test_an_unknown_preset_is_refused_before_any_work(tmp_path):
    with pytest.raises(OptionError, match="ebu-r128"):
        preset_named("loud")
    with pytest.raises(OptionError):
        DubOptions(output=tmp_path / "x.mp4", loudness="loud")


def test_loudness_range_of_two_levels_is_their_difference():
    # 10 s at -20 LUFS then 10 s at -30: the short-term curve spends its time at both.
    rate = RATE
    t = np.arange(10 * rate) / rate
    tone = np.sin(2 * np.pi * 1000 * t)
    x = np.concatenate([tone * 10 ** (-20 / 20), tone * 10 ** (-30 / 20)]).astype(np.float32)
    from core.audio.loudness import LoudnessMeter

    meter = LoudnessMeter(rate, 1)
    meter.add(x)
    lra = loudness_range(short_term(meter.energies()))
    assert lra == pytest.approx(10.0, abs=0.6)
