"""Rendering on Ray (models/pool, core/cluster, --cluster): a local Ray runtime of 2 CPUs
and the tiny reference models. The cluster's audio equals one machine's; a killed worker
loses nothing; a worker without models and a wrong address fail before any work."""

from __future__ import annotations

import socket
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

import models.pool
from app.cli import EXIT_OK, EXIT_USAGE, main
from models.contract import Sampling, SynthesisRequest
from models.pool import PoolSettings, RemotePool, WorkerModelsMissing, connect
from models.pool.connect import disconnect
from tests import mediagen

FAST = Sampling(diffusion_steps=3)
TEXTS = (
    "Where have you been all this time?",
    "Waiting for the train.",
    "It never came, did it?",
    "No.",
    "So I walked the whole way home.",
    "Then we should eat something.",
)


@pytest.fixture(scope="module", autouse=True)
def ray_local():
    """One local Ray runtime for the module (2 CPUs: a worker each), shut down after."""
    connect("local", num_cpus=2)
    yield
    disconnect()


@pytest.fixture(scope="module")
def prompts() -> list[tuple[np.ndarray, int]]:
    a = mediagen.speak("Good evening, I am the first voice of this test.", "en-us")
    b = mediagen.speak("And this is somebody else entirely speaking.", "en-gb+f3")
    return [(a, mediagen.RATE), (b, mediagen.RATE)]


def _requests(voices) -> list[SynthesisRequest]:
    return [
        SynthesisRequest(
            text, voices[i % 2], duration_s=0.6 + 0.25 * (i % 4), sampling=FAST, seed=40 + i
        )
        for i, text in enumerate(TEXTS)
    ]


def test_dub_on_two_workers_equals_the_one_machine_dub(
    tiny_model_dir, tmp_path, capsys, monkeypatch
):
    lines = (
        (0.5, "Where have you been?", "en-us"),
        (3.0, "Waiting for the train.", "en-gb+f3"),
        (5.2, "It never came.", "en-us"),
    )
    video = mediagen.make_test_video(
        tmp_path / "clip.mp4", duration_s=7, lines=lines, srt_path=tmp_path / "clip.srt"
    )

    def dub(name: str, *extra: str) -> np.ndarray:
        # Own take cache per run: the cluster must render, not find one machine's takes.
        monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / f"cache-{name}"))
        args = ["dub", str(video), str(tmp_path / "clip.srt"), "-o", str(tmp_path / f"{name}.mp4")]
        args += ["--model-dir", str(tiny_model_dir), "--dub-wav", str(tmp_path / f"{name}.wav")]
        args += ["--work-dir", str(tmp_path / f"w-{name}"), "--no-progress", "--preset", "draft"]
        code = main([*args, "--device", "cpu", *extra])
        assert code == EXIT_OK, capsys.readouterr().err
        audio, _ = sf.read(tmp_path / f"{name}.wav", dtype="float32")
        return audio

    alone = dub("alone")
    capsys.readouterr()
    spread = dub("ray", "--cluster", "local", "--workers", "2")
    out = capsys.readouterr().out
    assert "ran on Ray" in out and "with 2 workers" in out
    assert "lines per worker" in out
    assert alone.shape == spread.shape
    assert np.abs(alone - spread).max() <= 1e-3
    assert np.abs(alone).max() > 0.01  # the dub is not silence


def test_a_worker_without_models_fails_before_any_work(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkerModelsMissing) as caught:
        RemotePool("indextts2", tmp_path / "empty", "cpu", None, PoolSettings(workers=2))
    said = str(caught.value)
    assert socket.gethostname() in said  # the node is named
    assert str(tmp_path / "empty") in said and "indextts2/gpt.pth" in said
    assert "DUBSMITH_MODEL_DIR" in said


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("ray://127.0.0.1:1", "nothing answers there"),
        ("127.0.0.1:1", "nothing answers there"),
        ("no address", "is not a cluster address"),
    ],  # fmt: skip
)
def test_a_bad_address_fails_clearly(address, said, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    code = main(["dub", str(tmp_path / "v.mp4"), "-o", str(out), "--cluster", address])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert said in err and address in err
    assert not out.exists()


def test_without_ray_cluster_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(models.pool, "ray_available", lambda: False)
    code = main(
        ["dub", str(tmp_path / "v.mp4"), "-o", str(tmp_path / "o.mp4"), "--cluster", "local"]
    )
    assert code == EXIT_USAGE
    assert 'pip install "dubsmith[cluster]"' in capsys.readouterr().err


@pytest.fixture(scope="module")
def one_machine(tiny_model_dir, prompts):
    from models.indextts2.engine import IndexTTS2Engine

    engine = IndexTTS2Engine.load(tiny_model_dir, device="cpu")
    voices = [engine.prepare_voice(a, r) for a, r in prompts]
    return [r.audio for r in engine.synthesize(_requests(voices))], engine.identity


@pytest.fixture(scope="module")
def pool(tiny_model_dir):
    pool = RemotePool("indextts2", tiny_model_dir, "cpu", None, PoolSettings(workers=2))
    yield pool
    pool.close()


def test_requests_on_two_workers_equal_one_machine(pool, prompts, one_machine):
    expected, identity = one_machine
    assert pool.identity == identity  # one take cache serves both
    voices = [pool.prepare_voice(a, r) for a, r in prompts]
    heard: list[int] = []
    results = pool.synthesize(_requests(voices), on_result=lambda i, r: heard.append(i))
    assert sorted(heard) == list(range(len(TEXTS)))
    for res, want in zip(results, expected, strict=True):
        assert res.ok, res.error
        assert res.audio.shape == want.shape
        assert np.abs(res.audio - want).max() <= 1e-3
    assert all(n > 0 for _, n in pool.lines_per_worker())  # both workers rendered


def test_cancel_keeps_the_finished_lines(pool, prompts, one_machine):
    from models.contract import STOPPED

    expected, _ = one_machine
    voices = [pool.prepare_voice(a, r) for a, r in prompts]
    heard: dict[int, np.ndarray] = {}
    results = pool.synthesize(
        _requests(voices),
        on_result=lambda i, r: heard.__setitem__(i, r.audio),
        should_stop=lambda: bool(heard),  # the user cancels once a line is back
    )
    assert 1 <= len(heard) < len(TEXTS)
    for i, res in enumerate(results):
        if i in heard:  # handed back (the driver cached it) and kept
            assert res.ok and np.abs(res.audio - expected[i]).max() <= 1e-3
        else:
            assert res.error == STOPPED


def test_a_killed_worker_loses_no_line(pool, prompts, one_machine):
    import ray

    expected, _ = one_machine
    voices = [pool.prepare_voice(a, r) for a, r in prompts]
    heard: Counter[int] = Counter()

    def arrived(i, res):
        if not heard:  # the first result: kill a worker while both are busy
            ray.kill(pool.actors[0])
        heard[i] += 1

    results = pool.synthesize(_requests(voices), on_result=arrived)
    assert pool.stats.died and pool.stats.resubmitted >= 1
    assert heard == Counter(range(len(TEXTS)))  # every line handed back exactly once
    for res, want in zip(results, expected, strict=True):
        assert res.ok, res.error
        assert np.abs(res.audio - want).max() <= 1e-3
