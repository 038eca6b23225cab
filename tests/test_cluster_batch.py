"""`dubsmith batch --cluster local`: every video of a folder dubbed on two Ray workers, from
one pool for the whole batch (the engines load once, not once per job); the driver says
where the lines were rendered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import core.job.cluster
from app.cli import EXIT_OK, main
from models.pool import connect
from models.pool.connect import disconnect
from tests import mediagen
from tests.tone_engine import ToneEngine

VIDEOS = {
    "first": ((0.4, "Where have you been?", "en-us"), (2.6, "Waiting for the train.", "en-gb+f3")),
    "second": ((0.5, "It never came.", "en-us"), (2.8, "So I walked home.", "en-gb+f3")),
}


@pytest.fixture(scope="module", autouse=True)
def ray_local():
    """One local Ray runtime for the module (2 CPUs: a worker each), shut down after."""
    connect("local", num_cpus=2)
    yield
    disconnect()


@pytest.fixture
def pools_started(monkeypatch) -> list[object]:
    """Every pool the cluster factory starts (each one loads the engine on every worker)."""
    started: list[object] = []
    real = core.job.cluster.RemotePool

    def counting(*args, **kwargs):
        pool = real(*args, **kwargs)
        started.append(pool)
        return pool

    monkeypatch.setattr(core.job.cluster, "RemotePool", counting)
    return started


def test_a_folder_is_dubbed_on_two_workers_from_one_pool(
    tiny_model_dir, tmp_path, capsys, monkeypatch, pools_started
):
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))  # nothing rendered before
    monkeypatch.setenv("DUBSMITH_QUEUE_FILE", str(tmp_path / "queue.json"))
    folder = tmp_path / "videos"
    folder.mkdir()
    for name, lines in VIDEOS.items():
        mediagen.make_test_video(
            folder / f"{name}.mp4", duration_s=5, lines=lines, srt_path=folder / f"{name}.srt"
        )
    out, report = tmp_path / "dubbed", tmp_path / "batch.json"
    args = ["batch", str(folder), "-o", str(out), "--model-dir", str(tiny_model_dir)]
    args += ["--device", "cpu", "--preset", "draft", "--no-progress", "--report", str(report)]
    args += ["--work-dir", str(tmp_path / "work"), "--cluster", "local", "--workers", "2"]

    code = main(args)
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err

    # Every video dubbed, every line rendered (none left silent).
    assert sorted(p.name for p in out.glob("*.mp4")) == ["first.dubbed.mp4", "second.dubbed.mp4"]
    jobs = {Path(j["video"]).stem: j for j in json.loads(report.read_text())["jobs"]}
    assert set(jobs) == set(VIDEOS)
    for name, job in jobs.items():
        assert job["status"] == "done", job
        assert job["lines"] == len(VIDEOS[name]) and job["failed_lines"] == 0

    # One pool served both jobs, and it rendered all four lines on both workers.
    assert len(pools_started) == 1
    assert "starting 2 Ray worker(s)" in captured.err
    said = [ln for ln in captured.out.splitlines() if ln.startswith("ran on Ray")]
    assert len(said) == 1 and "with 2 workers" in said[0], captured.out
    per_worker = [int(n) for n in re.findall(r": (\d+)", said[0].split("lines per worker")[1])]
    assert len(per_worker) == 2
    assert sum(per_worker) == sum(len(lines) for lines in VIDEOS.values())
    assert all(n > 0 for n in per_worker)  # both workers were kept busy


class SpreadingEngine(ToneEngine):
    """A tone engine that says, as a pool of remote engines does, that it spreads one call's
    lines over its workers."""

    spreads_requests = True


@pytest.mark.parametrize(
    ("engine", "calls"),
    [(ToneEngine, [8, 4]), (SpreadingEngine, [12])],  # one machine: chunks of 8 as before
)
def test_a_pool_is_handed_every_line_at_once(engine, calls, tmp_path, monkeypatch):
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DUBSMITH_QUEUE_FILE", str(tmp_path / "queue.json"))
    voices = ("en-us", "en-gb+f3")
    lines = [(0.3 + 1.2 * i, f"Line number {i}.", voices[i % 2]) for i in range(12)]
    video = mediagen.make_test_video(
        tmp_path / "twelve.mp4", duration_s=16, lines=lines, srt_path=tmp_path / "twelve.srt"
    )
    tone = engine()
    args = ["dub", str(video), "-o", str(tmp_path / "out.mp4"), "--no-progress"]
    args += ["--work-dir", str(tmp_path / "work")]
    assert main(args, engine_factory=lambda model_dir, device: tone) == EXIT_OK
    assert tone.calls == calls
    assert len(tone.requests) == len(lines)
