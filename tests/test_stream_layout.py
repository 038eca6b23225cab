"""A 5.1 film dubbed in every background mode gets a 5.1 dub track, the dub on its centre.

The job runs whole (extract, analyze, render with the tone test double, the block mix from
disk, export); the exported dub track is read back with ffprobe and decoded channel by
channel.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.job.pipeline import DubJob, DubOptions
from core.settings import BackgroundMode
from tests import mediagen
from tests.test_separation import save_model
from tests.tone_engine import ToneEngine

RATE = 48000
LINES = ((0.5, "Where have you been?", "en-us"), (2.4, "Waiting for the train.", "en-us"))
DURATION = 5.0
CENTRE, OTHERS = 2, (0, 1, 4, 5)  # FL FR FC LFE BL BR; the LFE is band-limited by AAC


@pytest.fixture(scope="module")
def surround_movie(tmp_path_factory) -> Path:
    """A 5.1 film: the actors on the centre, a different noise bed on every other channel."""
    folder = tmp_path_factory.mktemp("surround")
    speech = mediagen.render_lines(DURATION, LINES)[:, 0]
    rng = np.random.default_rng(7)
    track = 0.05 * rng.standard_normal((speech.shape[0], 6)).astype(np.float32)
    track[:, CENTRE] = speech
    wav = folder / "track.wav"
    sf.write(str(wav), track, RATE, subtype="FLOAT", format="WAVEX")  # read as 5.1
    video = folder / "movie.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
         "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=25:duration={DURATION}",
         "-i", str(wav),
         "-map", "0:v:0", "-c:v", "libx264", "-preset", "ultrafast",
         "-map", "1:a:0", "-c:a", "aac", "-b:a", "384k", "-t", str(DURATION), str(video)],
        check=True,
    )  # fmt: skip
    mediagen.write_srt(folder / "movie.srt", LINES, DURATION)
    return video


@pytest.fixture(scope="module")
def separation_models(tmp_path_factory) -> Path:
    import torch
    from demucs.pretrained import demucs_unittest

    torch.manual_seed(0)
    return save_model(demucs_unittest(), tmp_path_factory.mktemp("models"))


def _dub_track(path: Path) -> tuple[dict, np.ndarray]:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_streams", "-of", "json",
         str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    stream = json.loads(probe.stdout)["streams"][0]
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
         "-f", "f32le", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return stream, np.frombuffer(raw, dtype=np.float32).reshape(-1, stream["channels"])


def _level_at(x: np.ndarray, hz: float) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(round(hz * len(x) / RATE))
    return float(spec[k - 2 : k + 3].max() / (spec.mean() + 1e-12))


@pytest.mark.parametrize("mode", ["duck", "replace", "separate"])
def test_surround_film_gets_a_surround_dub_with_the_dub_on_the_centre(
    surround_movie, separation_models, tmp_path, mode
):
    options = DubOptions(
        output=tmp_path / "out.mp4",
        model_dir=separation_models,
        device="cpu",
        work_dir=tmp_path / "work",
        save_project=False,
        changes={"speakers": 1, "background": mode},
    )
    engine = ToneEngine()
    job = DubJob(surround_movie, options, engine_factory=lambda _dir, _device: engine)
    job.run()
    assert job.background is BackgroundMode(mode)  # separate ran, not fell back to ducking
    stream, audio = _dub_track(tmp_path / "out.mp4")
    assert stream["channels"] == 6 and stream["channel_layout"].startswith("5.1")
    assert sf.info(str(job.mix_path)).channels == 6
    line = next(ln for ln in job.lines if ln.take is not None)
    start = round(line.timing.span.start_ms * RATE / 1000)
    inside = audio[start + 2400 : start + 2400 + 24000]
    hz = float(np.argmax(np.abs(np.fft.rfft(inside[:, CENTRE] * np.hanning(len(inside))))))
    hz *= RATE / len(inside)
    assert _level_at(inside[:, CENTRE], hz) > 50  # a pure tone: the dub is on the centre
    for c in OTHERS:
        assert _level_at(inside[:, c], hz) < 10, f"the dub leaked onto channel {c}"
    side = np.sqrt(np.mean(audio[:, OTHERS] ** 2))
    if mode == "replace":
        assert side < 1e-3  # the original is gone, the other channels are silent
        return
    assert side > 1e-3
    # Before the first line the other channels are the bed (the master, or its background
    # stem) at the mix gain, channel for channel.
    bed_path = job.stems.background_path if mode == "separate" else job.extracted.master_path
    bed, _ = sf.read(str(bed_path), dtype="float32")
    mix, _ = sf.read(str(job.mix_path), dtype="float32")
    first = min(p for p in job.placements.values())
    want, got = bed[:first, list(OTHERS)], mix[:first, list(OTHERS)]
    gain = float(np.sum(want * got) / np.sum(want * want))
    assert gain > 0
    np.testing.assert_allclose(got, want * gain, atol=1e-6)
