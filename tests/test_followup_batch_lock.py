"""Issue 26 item 2 for `dubsmith batch`: each job holds the run lock of its project and
outputs, as `dub` does, so two batches over one folder never dub one video at once; a job
another run holds is skipped, naming the holder's pid, and the batch goes on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import EXIT_OK, main
from core import project as proj
from core.job.run_lock import RunLocked, hold_run
from tests import mediagen
from tests.tone_engine import ToneEngine

REPO = Path(__file__).resolve().parents[1]
LINES = mediagen.DEFAULT_LINES[:2]

HOLDER = """
import sys, time
from pathlib import Path
from core.job.run_lock import hold_run
with hold_run([Path(sys.argv[1])]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("followup-batch-lock")
    for name in ("one", "two"):
        mediagen.make_test_video(
            folder / f"{name}.mp4", duration_s=6, lines=LINES, srt_path=folder / f"{name}.srt"
        )
    return folder


@pytest.fixture
def videos(original, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "videos"
    shutil.copytree(original, folder)
    return folder


def batch(videos: Path, out: Path, engine: ToneEngine) -> tuple[int, dict[str, dict]]:
    report = out.parent / "batch-report.json"
    args = ["batch", str(videos), "-o", str(out), "--report", str(report), "--no-progress"]
    args += ["--work-dir", str(out.parent / "work")]
    code = main(args, engine_factory=lambda model_dir, device: engine)
    return code, {Path(j["video"]).name: j for j in json.loads(report.read_text())["jobs"]}


def test_a_job_another_run_holds_is_skipped_with_the_holders_pid(videos, tmp_path, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(proj.project_path_for(videos / "one.mp4")), "60"],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        code, jobs = batch(videos, tmp_path / "out", ToneEngine())
        err = capsys.readouterr()
    finally:
        holder.kill()
        holder.wait()
    assert code == EXIT_OK, err.err
    assert jobs["one.mp4"]["status"] == "skipped"
    assert f"pid {holder.pid}" in jobs["one.mp4"]["error"]
    assert f"one.mp4: skipped, another Dubsmith run (pid {holder.pid})" in err.err
    assert "1 of 2 jobs finished" in err.out  # a held job is not counted as finished
    assert not (tmp_path / "out" / "one.dubbed.mp4").exists()
    assert jobs["two.mp4"]["status"] == "done"  # the batch went on
    assert (tmp_path / "out" / "two.dubbed.mp4").is_file()


class Probing(ToneEngine):
    """Tries, while rendering, to take the lock a second batch would take for the video."""

    def __init__(self, project: Path) -> None:
        super().__init__()
        self.project, self.held_by_the_job = project, []

    def synthesize(self, requests, *args, **kwargs):
        try:
            with hold_run([self.project]):  # a second open file: flock refuses it too
                self.held_by_the_job.append(False)
        except RunLocked:
            self.held_by_the_job.append(True)
        return super().synthesize(requests, *args, **kwargs)


def test_a_job_holds_the_lock_while_it_dubs(videos, tmp_path):
    (videos / "two.mp4").unlink()
    engine = Probing(proj.project_path_for(videos / "one.mp4"))
    code, jobs = batch(videos, tmp_path / "out", engine)
    assert (code, jobs["one.mp4"]["status"]) == (EXIT_OK, "done")
    assert engine.held_by_the_job and all(engine.held_by_the_job)
