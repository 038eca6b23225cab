"""Streamed audio: the loudness meter fed in blocks, slices of mapped WAVs, the extraction's
files written by ffmpeg."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from core.audio.loudness import LoudnessMeter, integrated_loudness
from core.audio.original_audio import extract_audio
from core.audio.stream import blocks, read_slice, wav_memmap


def _speechy(n: int, channels: int, rate: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    gate = (np.sin(np.arange(n) / rate * 2 * np.pi * 0.6) > 0.1).astype(np.float32)
    return (0.2 * rng.standard_normal((n, channels)) * gate[:, None]).astype(np.float32)


@pytest.mark.parametrize("block", [4801, 48000, 10 * 48000])
def test_meter_fed_in_blocks_is_the_whole_arrays_figure_and_pyloudnorms(block):
    x = _speechy(48000 * 13 + 123, 2, 48000)
    meter = LoudnessMeter(48000, 2)
    for a in range(0, x.shape[0], block):
        meter.add(x[a : a + block])
    assert meter.integrated() == integrated_loudness(x)  # bit for bit, whatever the cut
    assert meter.integrated() == pytest.approx(
        pyloudnorm.Meter(48000).integrated_loudness(x), abs=0.05
    )


def test_surround_channels_weigh_as_bs1770_says():
    # pyloudnorm weighs five channels L R C Ls Rs as 1, 1, 1, 1.41, 1.41: ffmpeg's 5.0.
    x = _speechy(48000 * 8, 5, 48000, seed=4)
    x[:, 3:] *= 3.0  # loud surrounds: the weights matter
    ours = integrated_loudness(x, 48000, "5.0")
    assert ours == pytest.approx(pyloudnorm.Meter(48000).integrated_loudness(x), abs=0.05)
    assert ours > integrated_loudness(x, 48000) + 0.5
    # The LFE of a 5.1 mix does not count at all.
    y = np.concatenate([x[:, :3], 0.9 * np.ones((x.shape[0], 1), np.float32), x[:, 3:]], axis=1)
    assert integrated_loudness(y, 48000, "5.1") == pytest.approx(ours, abs=1e-9)


def test_mapped_wav_gives_slices_without_reading_the_file(tmp_path):
    x = _speechy(48000 * 3, 1, 48000)[:, 0]
    path = tmp_path / "copy.wav"
    sf.write(str(path), x, 48000, subtype="FLOAT", format="RF64")  # the big-file format
    mapped = wav_memmap(path)
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped[1000:2000], x[1000:2000])
    mapped[:10] = 9.0  # a reader scribbling on its slice never changes the file
    np.testing.assert_array_equal(sf.read(str(path), dtype="float32")[0][:10], x[:10])
    mapped = wav_memmap(path)
    np.testing.assert_array_equal(read_slice(path, 143990, 144010)[:10], x[143990:])
    assert not read_slice(path, 143990, 144010)[10:].any()  # zeros past the end
    rebuilt = np.concatenate([b for _, b in blocks(mapped, 7000)])
    np.testing.assert_array_equal(rebuilt, x)


def test_extraction_writes_exact_lengths_and_surround_copies_leave_the_lfe_out(tmp_path):
    import subprocess

    rate, seconds = 48000, 3.0
    n = int(rate * seconds)
    t = np.arange(n) / rate
    track = np.zeros((n, 6), np.float32)
    track[:, 3] = 0.5 * np.sin(2 * np.pi * 50 * t)  # LFE hum only
    track[:, 2] = 0.3 * np.sin(2 * np.pi * 1000 * t)  # the centre's voice
    wav = tmp_path / "track.wav"
    sf.write(str(wav), track, rate, subtype="FLOAT", format="WAVEX")
    video = tmp_path / "film.mkv"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
         f"color=c=black:size=64x48:rate=5:duration={seconds}", "-i", str(wav),
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "flac", "-t", str(seconds),
         str(video)],
        check=True,
    )  # fmt: skip
    ex = extract_audio(video, tmp_path / "work")
    assert ex.channel_layout == "5.1" and ex.channels == 6
    assert sf.info(str(ex.master_path)).frames == ex.num_samples == round(ex.duration_s * rate)
    mono = ex.load_mono16k()
    assert isinstance(mono, np.memmap) and len(mono) == round(ex.duration_s * 16000)
    spec = np.abs(np.fft.rfft(np.asarray(mono[8000:24000])))
    hz = np.fft.rfftfreq(16000, 1 / 16000)
    assert spec[np.argmin(np.abs(hz - 1000))] > 100 * spec[np.argmin(np.abs(hz - 50))]
    assert not list((tmp_path / "work").glob("*.part"))
