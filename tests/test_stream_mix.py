"""core.audio.mix_stream: the block mix from and to disk equals the whole-array mix."""

from __future__ import annotations

import numpy as np
import pytest

from core.audio.mix_stream import mix_to_file
from core.audio.mixdown import Background, Clip, MixSettings, mixdown
from core.audio.samples import read_wav, write_wav

SR = 22050


def tone(freq: float, seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def film_clips() -> list[Clip]:
    # Awkward starts; with 1 s blocks most clips cross a block edge, two overlap, one
    # starts before the film and one runs past its end.
    spans = [(-300.0, 0.9), (1234.567, 1.3), (2010.02, 2.2), (2500.5, 1.0), (6123.4, 3.0)]
    return [Clip(s, tone(300 + 150 * i, d), line_id=i) for i, (s, d) in enumerate(spans)]


def bed(n: int, channels: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 0.05 * rng.standard_normal((n, channels))
    return x.astype(np.float32)


@pytest.mark.parametrize(
    ("channels", "layout", "mode"),
    [
        (2, "stereo", Background.DUCK),
        (6, "5.1", Background.DUCK),
        (6, "5.1", Background.REPLACE),
        (6, "5.1", Background.SEPARATE),
        (8, "7.1", Background.DUCK),
        (1, "mono", Background.DUCK),
        (None, None, Background.DUCK),
    ],
)
def test_block_mix_equals_whole_array_mix(tmp_path, channels, layout, mode):
    duration = 7.3  # the bed file is shorter than the film: zeros past its end
    n = round(duration * 48000)
    original = None if channels is None else bed(n - 4000, channels)
    if original is not None and channels == 1:
        original = original[:, 0]
    bed_path = None if original is None else write_wav(tmp_path / "bed.wav", original, 48000)
    settings = MixSettings(background=mode)
    whole = mixdown(film_clips(), duration, original, settings, layout)
    streamed = mix_to_file(
        film_clips(), duration, bed_path, tmp_path / "mix.wav", settings, layout,
        dub_path=tmp_path / "out" / "dub.wav", block_s=1,
    )  # fmt: skip
    mix, rate = read_wav(streamed.path)
    mix = mix[:, None] if mix.ndim == 1 else mix
    want = whole.audio
    assert rate == 48000 and mix.shape == want.shape
    np.testing.assert_array_equal(mix, want)  # sample for sample, not approximately
    dub, _ = read_wav(streamed.dub_path)
    np.testing.assert_array_equal(dub, whole.dub)
    assert streamed.placements == whole.placements
    assert streamed.gain_db == whole.gain_db
    assert streamed.true_peak_dbtp == whole.true_peak_dbtp
    assert streamed.loudness_lufs == whole.loudness_lufs
    assert sorted(p.name for p in tmp_path.rglob("*.part")) == []


@pytest.mark.parametrize("mode", [Background.DUCK, Background.REPLACE, Background.SEPARATE])
def test_surround_keeps_layout_with_the_dub_on_the_centre(tmp_path, mode):
    duration, n = 4.0, 4 * 48000
    original = bed(n, 6)
    bed_path = write_wav(tmp_path / "bed.wav", original, 48000)
    settings = MixSettings(background=mode, normalize=False)
    clip = Clip(1000.0, tone(440, 1.5))
    res = mix_to_file([clip], duration, bed_path, tmp_path / "mix.wav", settings, "5.1")
    mix, _ = read_wav(res.path)
    assert mix.shape == (n, 6) and res.channels == 6
    (p,) = res.placements
    inside = slice(p.start_sample, p.end_sample)
    others = [0, 1, 3, 4, 5]
    # The dub is on the centre alone: the other channels hold only the original.
    centre_minus_bed = mix[inside, 2] - (0 if mode is Background.REPLACE else original[inside, 2])
    assert np.abs(centre_minus_bed).max() > 0.2
    if mode is Background.REPLACE:
        assert not mix[:, others].any()
    elif mode is Background.SEPARATE:
        np.testing.assert_array_equal(mix[:, others], original[:, others])
    else:  # ducked under the line, untouched elsewhere
        np.testing.assert_array_equal(
            mix[: p.start_sample, others], original[: p.start_sample, others]
        )
        mid = slice(p.start_sample + 4800, p.end_sample - 4800)
        ratio = np.abs(mix[mid, 0]).mean() / np.abs(original[mid, 0]).mean()
        assert ratio == pytest.approx(10 ** (-12 / 20), rel=1e-3)


def test_a_mix_past_4_gb_is_written_as_rf64_with_the_same_samples(tmp_path, monkeypatch):
    import soundfile as sf

    from core.audio import stream as audio_stream

    monkeypatch.setattr(audio_stream, "_WAV_LIMIT", 0)  # every file counts as big
    duration, n = 3.0, 3 * 48000
    original = bed(n, 6)
    bed_path = write_wav(tmp_path / "bed.wav", original, 48000)
    whole = mixdown(film_clips(), duration, original, MixSettings(), "5.1")
    res = mix_to_file(film_clips(), duration, bed_path, tmp_path / "mix.wav", None, "5.1")
    assert sf.info(str(res.path)).format == "RF64"
    mix, _ = read_wav(res.path)
    np.testing.assert_array_equal(mix, whole.audio)
