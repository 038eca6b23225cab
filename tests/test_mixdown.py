"""core.audio.mixdown: sample-exact placement, ducking, loudness, replace mode, stems."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import resample_poly

from core.audio.mixdown import (
    Background,
    Clip,
    MixSettings,
    mixdown,
    true_peak_dbtp,
    write_dub,
    write_mix,
    write_stems,
)
from core.audio.samples import read_wav

SR = 22050
# (start_ms, tone Hz, seconds): awkward starts on purpose (not multiples of 1/48 ms).
LINES = [(1234.567, 440.0, 1.3), (3010.02, 700.0, 0.9), (5555.5, 1100.0, 1.71)]


def tone(freq: float, seconds: float, amp: float = 0.3, rate: int = SR) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def tone_clips(amp: float = 0.3) -> list[Clip]:
    return [Clip(s, tone(f, d, amp), line_id=f"L{i}") for i, (s, f, d) in enumerate(LINES)]


def pink(n: int, channels: int = 2, seed: int = 3, rms: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal((channels, n)), axis=1)
    f = np.maximum(np.arange(spec.shape[1]), 1)
    x = np.fft.irfft(spec / np.sqrt(f), n, axis=1).T
    return (x / np.sqrt((x**2).mean()) * rms).astype(np.float32)


def onset(x: np.ndarray, frm: int, to: int, frac: float = 0.05) -> int:
    seg = np.abs(x[frm:to])
    return frm + int(np.argmax(seg > frac * seg.max()))


def dominant_hz(x: np.ndarray, rate: int = 48000) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2)))


def reference_true_peak_db(x: np.ndarray) -> float:
    """Independent of core.audio.mixdown: polyphase FIR 4x oversampling (scipy)."""
    return float(20 * np.log10(np.abs(resample_poly(x, 4, 1, axis=0)).max()))


def test_clips_start_at_their_span_within_1ms_and_have_rule_length():
    duration = 8.0
    res = mixdown(tone_clips(), duration, original=None)
    assert res.audio.shape == (round(duration * 48000), 2)
    dub = res.audio[:, 0]
    for (start_ms, freq, secs), p in zip(LINES, res.placements, strict=True):
        want_start = round(start_ms * 48)
        want_len = round(round(secs * SR) * 48000 / SR)
        assert (p.start_sample, p.length, p.clip_length) == (want_start, want_len, want_len)
        assert not p.truncated
        got = onset(dub, want_start - 4800, want_start + 4800)
        assert abs(got - start_ms * 48) <= 48  # 1 ms
        assert dominant_hz(dub[p.start_sample : p.end_sample]) == pytest.approx(freq, abs=2)
        # Nothing of the clip before its start or after its end.
        assert np.abs(dub[want_start - 480 : want_start - 48]).max() < 1e-3
        assert np.abs(dub[p.end_sample + 48 : p.end_sample + 480]).max() < 1e-3


@pytest.mark.parametrize("duration", [7.0, 7.00001, 6.123456, 10 / 3])
def test_output_length_is_exactly_the_video_duration(duration):
    original = pink(round(duration * 48000) + 777)  # a master a little too long
    res = mixdown(tone_clips(), duration, original=original)
    assert res.audio.shape[0] == round(duration * 48000) == res.dub.shape[0]


def test_clip_past_the_end_is_cut_and_flagged():
    res = mixdown([Clip(4500.0, tone(500, 1.0))], 5.0)
    (p,) = res.placements
    assert p.truncated and p.end_sample == res.num_samples and p.length < p.clip_length


def test_duck_lowers_original_by_duck_db_under_lines_only():
    duration, duck_db, ramp_ms = 8.0, -12.0, 50.0
    original = pink(round(duration * 48000))
    silent = [Clip(s, np.zeros(round(d * SR), np.float32)) for s, _, d in LINES]
    settings = MixSettings(duck_db=duck_db, ramp_ms=ramp_ms, normalize=False)
    res = mixdown(silent, duration, original=original, settings=settings)
    ramp = round(ramp_ms * 48)
    inside = np.zeros(res.num_samples, bool)
    for p in res.placements:
        a, b = p.start_sample + ramp, p.end_sample - ramp
        drop = rms_db(res.audio[a:b]) - rms_db(original[a:b])
        assert drop == pytest.approx(duck_db, abs=0.05)
        inside[p.start_sample : p.end_sample] = True
    # Outside every span the original is bit-identical; ramps stay within the span.
    np.testing.assert_array_equal(res.audio[~inside], original[~inside])
    for p in res.placements:
        head = (
            res.audio[p.start_sample : p.start_sample + ramp, 0]
            / original[p.start_sample : p.start_sample + ramp, 0]
        )
        assert head[0] == pytest.approx(1.0, abs=1e-3) and head[-1] < 10 ** (duck_db / 20) * 1.1


def test_duck_with_audible_dub_mix_minus_dub_is_ducked_original():
    duration = 8.0
    original = pink(round(duration * 48000))
    res = mixdown(tone_clips(), duration, original=original)  # normalised
    gain = 10 ** (res.gain_db / 20)
    bed = res.audio - res.dub[:, None]  # what the original contributes, after gain
    for p in res.placements:
        a, b = p.start_sample + 2400, p.end_sample - 2400
        assert rms_db(bed[a:b] / gain) - rms_db(original[a:b]) == pytest.approx(-12.0, abs=0.05)
    free = slice(0, res.placements[0].start_sample)
    np.testing.assert_allclose(bed[free] / gain, original[free], atol=1e-6)


def test_loudness_target_and_true_peak():
    duration = 10.0
    original = pink(round(duration * 48000), rms=0.02)
    res = mixdown(tone_clips(amp=0.05), duration, original=original)
    measured = pyloudnorm.Meter(48000).integrated_loudness(res.audio)
    assert measured == pytest.approx(-16.0, abs=0.5)
    assert reference_true_peak_db(res.audio) <= -1.0 + 0.05
    assert res.true_peak_dbtp <= -1.0
    assert np.abs(res.audio).max() < 1.0


def test_peaky_mix_is_scaled_down_to_true_peak_limit():
    # Sparse full-scale clicks: reaching -16 LUFS would need peaks far above 0 dBFS.
    clicks = np.zeros(round(4.0 * SR), np.float32)
    clicks[:: SR // 2] = 1.0
    res = mixdown([Clip(500.0, clicks)], 6.0, original=None)
    assert reference_true_peak_db(res.audio) <= -1.0 + 0.05
    assert res.true_peak_dbtp < -1.0
    assert pyloudnorm.Meter(48000).integrated_loudness(res.audio) < -16.5


def test_replace_mode_and_no_original_have_only_the_dub():
    duration = 8.0
    original = pink(round(duration * 48000), rms=0.2)
    replaced = mixdown(
        tone_clips(),
        duration,
        original=original,
        settings=MixSettings(background=Background.REPLACE),
    )
    alone = mixdown(tone_clips(), duration, original=None)
    for res in (replaced, alone):
        np.testing.assert_array_equal(res.audio[:, 0], res.dub)
        np.testing.assert_array_equal(res.audio[:, 1], res.dub)
        assert np.all(res.audio[: res.placements[0].start_sample] == 0)  # no original anywhere
    np.testing.assert_allclose(replaced.audio, alone.audio, atol=1e-6)


def test_mono_and_surround_originals_are_accepted():
    duration = 4.0
    for ch in (1, 6):
        original = pink(round(duration * 48000), channels=ch)
        if ch == 1:
            original = original[:, 0]
        res = mixdown(
            [Clip(1000.0, tone(300, 1.0))], duration, original=original, original_layout="5.1"
        )
        # The original's layout is kept: mono stays mono, 5.1 stays 5.1.
        assert res.audio.shape == (round(duration * 48000), ch)
        assert np.abs(res.audio[:48000]).max() > 0  # the bed is there before the line


def test_stems_and_dub_files(tmp_path):
    duration = 8.0
    clips = tone_clips()
    res = mixdown(clips, duration, original=pink(round(duration * 48000)))
    paths = write_stems(res, clips, tmp_path / "stems", name="{index:02d}_{line_id}.wav")
    assert [p.name for p in paths] == ["00_L0.wav", "01_L1.wav", "02_L2.wav"]
    rebuilt = np.zeros(res.num_samples, np.float32)
    for path, p in zip(paths, res.placements, strict=True):
        stem, rate = read_wav(path)
        assert rate == 48000 and len(stem) == p.clip_length
        rebuilt[p.start_sample : p.end_sample] += stem[: p.length]
    np.testing.assert_allclose(rebuilt, res.dub, atol=1e-6)
    dub, _ = read_wav(write_dub(res, tmp_path / "dub.wav"))
    np.testing.assert_array_equal(dub, res.dub)
    mix, rate = read_wav(write_mix(res, tmp_path / "mix.wav"))
    assert rate == 48000
    np.testing.assert_array_equal(mix, res.audio)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dub.wav", "mix.wav", "stems"]


def test_true_peak_finds_inter_sample_peaks():
    # A 12 kHz sine sampled at 48 kHz with a 45 degree phase: every sample sits at
    # +-0.707, the waveform between them reaches 1.0 (+3 dB over the sample peak).
    n = 48000 * 3
    x = np.sin(2 * np.pi * 12000 * np.arange(n) / 48000 + np.pi / 4).astype(np.float32)
    x[: 48000 * 2] *= 0.1  # quieter blocks that the search may skip
    sample_peak_db = 20 * np.log10(np.abs(x).max())
    assert sample_peak_db == pytest.approx(-3.01, abs=0.01)
    assert true_peak_dbtp(x) == pytest.approx(
        reference_true_peak_db(x[48000 * 2 + 2000 : -2000]), abs=0.05
    )
    assert true_peak_dbtp(x) == pytest.approx(0.0, abs=0.1)
    # Stereo input, peak in the second channel only.
    st = np.stack([x * 0.5, x], axis=1)
    assert true_peak_dbtp(st) == pytest.approx(true_peak_dbtp(x), abs=1e-6)
