"""Dialogue / background separation (core/audio/separation.py) and the mix over its background.

The models are demucs networks with random weights (the package's own `demucs_unittest`
HDemucs, and a small HTDemucs), saved in the model folder's layout: a bag `NAME.yaml`
and one `SIG.safetensors` whose metadata carries the class and init arguments, as the
demucs 4.1 repositories on the Hugging Face hub do.
"""

from __future__ import annotations

import json
import os
import subprocess
from fractions import Fraction
from pathlib import Path

import demucs.pretrained as demucs_pretrained
import numpy as np
import pytest
import soundfile as sf

from core.audio import separation
from core.audio.mixdown import Background, Clip, MixSettings, mixdown, place_clip
from core.audio.samples import to_stereo
from core.audio.separation import (
    SeparationNotInstalled,
    SeparationUnavailable,
    Separator,
    find_model,
    separate_master,
)
from core.job.pipeline import DubJob, DubOptions
from core.lines.render import Cancelled
from tests import mediagen
from tests.tone_engine import ToneEngine

RATE = 48000


def _encode(value):
    if isinstance(value, Fraction):
        return {"_type": "fraction", "numerator": value.numerator, "denominator": value.denominator}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def save_model(network, model_dir: Path, sig: str = "0a1b2c3d", bag: str = "htdemucs") -> Path:
    """`network` saved as `model_dir/separation/` holds it: bag yaml + safetensors."""
    from safetensors.torch import save_file

    folder = model_dir / "separation"
    folder.mkdir(parents=True, exist_ok=True)
    args, kwargs = network._init_args_kwargs
    klass = type(network)
    save_file(
        {k: v.contiguous() for k, v in network.state_dict().items()},
        str(folder / f"{sig}.safetensors"),
        metadata={
            "klass": f"{klass.__module__}.{klass.__name__}",
            "args": json.dumps(_encode(list(args))),
            "kwargs": json.dumps(_encode(kwargs)),
        },
    )
    (folder / f"{bag}.yaml").write_text(f"models: ['{sig}']\n")
    return model_dir


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    import torch

    torch.manual_seed(0)
    return save_model(demucs_pretrained.demucs_unittest(), tmp_path_factory.mktemp("models"))


def _master(tmp_path: Path, seconds: float = 2.5, channels: int = 2, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    n = int(round(seconds * RATE))
    t = np.arange(n) / RATE
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    audio = np.stack([tone * (1 - 0.2 * c) for c in range(channels)], axis=1)
    audio += 0.05 * rng.standard_normal(audio.shape)
    path = tmp_path / f"master{seed}.wav"
    sf.write(path, audio.astype(np.float32), RATE, subtype="FLOAT")
    return path


class Counting:
    """Counts Separator.blocks calls (one per separation, windows and all) while passing
    them on."""

    def __init__(self, monkeypatch) -> None:
        self.calls = 0
        real = Separator.blocks

        def spy(sep, *args, **kwargs):
            self.calls += 1
            return real(sep, *args, **kwargs)

        monkeypatch.setattr(Separator, "blocks", spy)


def test_stems_keep_the_masters_rate_length_and_channels(model_dir, tmp_path):
    master = _master(tmp_path)
    original, _ = sf.read(master, dtype="float32")
    stems = separate_master(master, find_model(model_dir), tmp_path / "stems", window_s=1.0)
    assert not stems.cached and stems.model == "htdemucs"
    for path in (stems.dialogue_path, stems.background_path):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames) == (RATE, 2, original.shape[0])
    background, dialogue = stems.load_background(), stems.load_dialogue()
    assert np.isfinite(background).all() and np.isfinite(dialogue).all()
    assert not np.allclose(background, original, atol=1e-3)  # the network did the work
    # Streamed to the files window by window: the same as separating in memory.
    _, in_memory = Separator.load(find_model(model_dir)).separate(original, RATE, window_s=1.0)
    np.testing.assert_allclose(background, in_memory, atol=1e-6)
    assert stems.load_dialogue_mono16k().shape == (round(original.shape[0] / 3),)
    assert stems.load_dialogue_mono22k().shape == (round(original.shape[0] * 22050 / RATE),)


def test_mono_and_surround_masters_keep_their_channels(model_dir, tmp_path):
    sep = Separator.load(find_model(model_dir))
    for channels in (1, 6):
        audio, _ = sf.read(_master(tmp_path, 1.2, channels, seed=channels), dtype="float32")
        assert audio.ndim == (1 if channels == 1 else 2)
        dialogue, background = sep.separate(audio, RATE, window_s=0.5, overlap_s=0.1)
        assert dialogue.shape == background.shape == audio.shape


def test_windows_crossfade_back_to_the_whole(model_dir):
    """The windowing itself loses nothing: a window that hands its input back as the
    background rebuilds the master exactly, across every crossfade."""
    sep = Separator.load(find_model(model_dir))
    sep._window = lambda seg, rate, mean, std: (np.zeros_like(seg), seg.copy())
    audio = np.random.default_rng(1).standard_normal((RATE * 3 + 17, 2)).astype(np.float32)
    dialogue, background = sep.separate(audio, RATE, window_s=0.7, overlap_s=0.2)
    assert np.abs(background - audio).max() < 1e-5 and not dialogue.any()


def test_stems_are_cached_and_reused(model_dir, tmp_path, monkeypatch):
    count = Counting(monkeypatch)
    master, cache = _master(tmp_path), tmp_path / "stems"
    model = find_model(model_dir)
    first = separate_master(master, model, cache, window_s=1.0)
    again = separate_master(master, model, cache, window_s=1.0)
    assert count.calls == 1 and again.cached
    assert np.array_equal(first.load_background(), again.load_background())
    # Another master (same name, other content): separated again, the old entry dropped.
    other = _master(tmp_path, seed=3)
    other.replace(master)
    third = separate_master(master, model, cache, window_s=1.0)
    assert count.calls == 2 and not third.cached
    entries = [p.name for p in cache.iterdir() if p.is_dir()]
    assert entries == [third.background_path.parent.name]


def test_another_model_separates_again(model_dir, tmp_path, monkeypatch):
    import torch

    count = Counting(monkeypatch)
    master = _master(tmp_path)
    separate_master(master, find_model(model_dir), tmp_path / "stems", window_s=1.0)
    torch.manual_seed(1)
    other_dir = save_model(demucs_pretrained.demucs_unittest(), tmp_path / "other")
    stems = separate_master(master, find_model(other_dir), tmp_path / "stems", window_s=1.0)
    assert count.calls == 2 and not stems.cached


def test_the_htdemucs_architecture_loads_and_separates(tmp_path):
    import torch
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    sources = ["drums", "bass", "other", "vocals"]
    net = HTDemucs(sources=sources, channels=8, t_layers=1, segment=Fraction(3, 2))
    model = find_model(save_model(net, tmp_path / "m", sig="955717e8"))
    sep = Separator.load(model)
    assert type(sep.bag.models[0]).__name__ == "HTDemucs"
    for name, value in net.state_dict().items():  # loaded strictly, weights as saved
        assert torch.equal(sep.bag.models[0].state_dict()[name], value)
    audio, _ = sf.read(_master(tmp_path, 1.0), dtype="float32")
    dialogue, background = sep.separate(audio, RATE)
    assert dialogue.shape == background.shape == audio.shape


def test_cancel_mid_separation_stops(model_dir, tmp_path, monkeypatch):
    sep = Separator.load(find_model(model_dir))
    windows = []
    real = sep._window
    sep._window = lambda *a: windows.append(1) or real(*a)
    ticks: list[tuple[int, int]] = []
    with pytest.raises(Cancelled):
        separate_master(
            _master(tmp_path, 3.0),
            find_model(model_dir),
            tmp_path / "stems",
            separator=sep,
            window_s=0.5,
            progress=lambda done, total: ticks.append((done, total)),
            cancelled=lambda: len(ticks) >= 2,  # cancel once the second window began
        )
    assert len(windows) == 2 and ticks[-1] == (1, 6)
    assert not any((tmp_path / "stems").glob("*/stems.json"))  # nothing half cached
    assert not any((tmp_path / "stems").glob("*/.*.part"))


def test_a_model_folder_is_checked(tmp_path, model_dir):
    with pytest.raises(SeparationNotInstalled, match="dubsmith models download separation"):
        find_model(tmp_path / "empty")
    folder = tmp_path / "broken" / "separation"
    folder.mkdir(parents=True)
    (folder / "htdemucs.yaml").write_text("models: ['955717e8']\n")
    with pytest.raises(SeparationUnavailable, match="955717e8.safetensors"):
        find_model(tmp_path / "broken")
    # A file naming a class that is not a demucs network is refused before any import.
    import torch
    from safetensors.torch import save_file

    meta = {"klass": "os.system", "args": "[]", "kwargs": "{}"}
    save_file({"w": torch.zeros(1)}, str(folder / "955717e8.safetensors"), metadata=meta)
    with pytest.raises(SeparationUnavailable, match="only demucs' own networks"):
        Separator.load(find_model(tmp_path / "broken"))


def test_the_mix_over_the_background_stem_is_sample_exact(model_dir, tmp_path):
    master = _master(tmp_path, 3.0)
    stems = separate_master(master, find_model(model_dir), tmp_path / "stems", window_s=1.0)
    background = stems.load_background()
    rng = np.random.default_rng(5)
    clip = Clip(start_ms=1234.5, audio=rng.uniform(-0.5, 0.5, 11025).astype(np.float32))
    k, placed = place_clip(clip)
    assert k == 59256  # round(1234.5 * 48)
    plain = MixSettings(background=Background.SEPARATE, normalize=False)
    mix = mixdown([clip], 3.0, background, plain, "stereo").audio
    bed = to_stereo(background, "stereo")
    end = k + placed.shape[0]
    assert mix.shape == bed.shape == (3 * RATE, 2)
    # Outside the line: the background stem itself, untouched (no duck, no ramp).
    assert np.array_equal(mix[:k], bed[:k]) and np.array_equal(mix[end:], bed[end:])
    # At the line's place: the background plus the clip, from sample k on.
    np.testing.assert_allclose(mix[k:end] - bed[k:end], np.stack([placed] * 2, 1), atol=1e-6)
    # Ducked, the same bed would be lowered under the line.
    ducked = mixdown(
        [clip], 3.0, background, MixSettings(background=Background.DUCK, normalize=False)
    )
    assert not np.allclose(ducked.audio[k:end], mix[k:end])


def test_the_mix_keeps_the_background_stems_channels():
    """Over a stem the mix has its channels: mono stays mono; 5.1 gets the dub on its
    centre alone, every other channel is the stem as it was."""
    rng = np.random.default_rng(7)
    clip = Clip(start_ms=500.0, audio=rng.uniform(-0.5, 0.5, 4410).astype(np.float32))
    k, placed = place_clip(clip)
    plain = MixSettings(background=Background.SEPARATE, normalize=False)
    mono = rng.uniform(-0.1, 0.1, RATE).astype(np.float32)
    line = slice(k, k + placed.shape[0])
    out = mixdown([clip], 1.0, mono, plain).audio
    assert out.shape == (RATE, 1)
    np.testing.assert_allclose(out[line, 0] - mono[line], placed, atol=1e-6)
    surround = rng.uniform(-0.1, 0.1, (RATE, 6)).astype(np.float32)
    out = mixdown([clip], 1.0, surround, plain, "5.1").audio
    assert out.shape == (RATE, 6)
    for c in (0, 1, 3, 4, 5):
        assert np.array_equal(out[:, c], surround[:, c])
    np.testing.assert_allclose(out[line, 2] - surround[line, 2], placed, atol=1e-6)


# --- the dub -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stereo_movie(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("sepmovie")
    lines = ((0.5, "Where have you been?", "en-us"), (2.2, "Waiting for the train.", "en-us"))
    video = mediagen.make_test_video(
        folder / "movie.mp4", duration_s=4, lines=lines, srt_path=folder / "movie.srt"
    )
    return video, folder / "movie.srt"


def _job(video: Path, tmp_path: Path, model_dir: Path, **changes) -> DubJob:
    options = DubOptions(
        output=tmp_path / "out.mp4",
        model_dir=model_dir,
        device="cpu",
        work_dir=tmp_path / "work",
        save_project=False,
        changes={"speakers": 1, **changes},
    )
    return DubJob(video, options, engine_factory=lambda _dir, _device: ToneEngine())


def _expected_mix(job: DubJob, bed: np.ndarray, background: Background) -> np.ndarray:
    clips = [
        Clip(ln.timing.span.start_ms, ln.take.audio, line_id=ln.index)
        for ln in job.lines
        if ln.take is not None
    ]
    settings = MixSettings(background=background, duck_db=job.settings.duck_db)
    return mixdown(clips, job.inputs.media.duration_s, bed, settings, "stereo").audio


def _audio_stream(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_streams", "-of", "json",
         str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(out)["streams"][0]


def test_a_dub_with_separate_mixes_over_the_background_stem(
    stereo_movie, model_dir, tmp_path, monkeypatch
):
    video, _ = stereo_movie
    count = Counting(monkeypatch)
    job = _job(video, tmp_path, model_dir, background="separate")
    job.run()
    assert job.stems is not None and job.background is Background.SEPARATE
    assert any(w.kind == "separation" for w in job.warnings)
    mix, rate = sf.read(job.mix_path, dtype="float32")
    expected = _expected_mix(job, job.stems.load_background(), Background.SEPARATE)
    np.testing.assert_allclose(mix, expected, atol=1e-6)
    stream = _audio_stream(tmp_path / "out.mp4")
    master = sf.info(job.extracted.master_path)
    assert master.channels == 2 and master.samplerate == rate == RATE  # a stereo original
    assert (int(stream["sample_rate"]), stream["channels"]) == (RATE, 2)
    # A re-export: the stems come from the cache, the model is not run again.
    again = _job(video, tmp_path, model_dir, background="separate")
    again.run()
    assert count.calls == 1 and again.stems.cached


def test_auto_separates_when_a_model_is_installed(stereo_movie, model_dir, tmp_path):
    job = _job(stereo_movie[0], tmp_path, model_dir)  # background not chosen: auto
    assert job.options.changes.get("background") is None
    job.analyze()
    assert job.settings.background is Background.AUTO and job.stems is not None
    assert job.separation_detail.startswith("dialogue and background split by htdemucs")


def test_separate_without_a_model_says_so_and_ducks(stereo_movie, tmp_path):
    job = _job(stereo_movie[0], tmp_path, tmp_path / "no-models", background="separate")
    job.run()
    assert job.stems is None and job.background is Background.DUCK
    notes = [w for w in job.warnings if w.kind == "separation-off"]
    assert len(notes) == 1 and "ducked" in notes[0].message
    mix, _ = sf.read(job.mix_path, dtype="float32")
    expected = _expected_mix(job, job.extracted.load_master(), Background.DUCK)
    np.testing.assert_allclose(mix, expected, atol=1e-6)


def test_auto_without_a_model_ducks_quietly(stereo_movie, tmp_path):
    job = _job(stereo_movie[0], tmp_path, tmp_path / "no-models")
    job.analyze()
    assert job.background is Background.DUCK and job.stems is None
    assert not [w for w in job.warnings if w.kind.startswith("separation")]
    assert job.separation_detail.startswith("not run: no separation model")


def test_analyze_says_whether_separation_ran(stereo_movie, model_dir, tmp_path, capsys):
    from app.cli import EXIT_OK, main

    video, _ = stereo_movie
    args = ["analyze", str(video), "--work-dir", str(tmp_path / "w"), "--no-progress"]
    args += ["--speakers", "1", "--background", "separate"]
    assert main([*args, "--model-dir", str(model_dir)]) == EXIT_OK
    assert "separation: dialogue and background split by htdemucs\n" in capsys.readouterr().out
    assert main([*args, "--model-dir", str(tmp_path / "none")]) == EXIT_OK
    captured = capsys.readouterr()
    assert "separation: not run: no separation model in" in captured.out
    assert "ducked under the dub, not separated" in captured.err


def test_the_masters_hash_is_kept_while_the_file_is_unchanged(tmp_path, monkeypatch):
    master, cache = _master(tmp_path, 0.5), tmp_path / "stems"
    hashed: list[Path] = []
    real = separation._file_hash
    monkeypatch.setattr(separation, "_file_hash", lambda p: hashed.append(p) or real(p))
    first = separation.master_hash(master, cache)
    assert separation.master_hash(master, cache) == first and len(hashed) == 1
    st = master.stat()
    os.utime(master, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # rewritten
    assert separation.master_hash(master, cache) == first and len(hashed) == 2
