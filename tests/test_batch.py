"""`dubsmith batch`: many videos, the engine loaded once, a failed job reported while the
rest go on, --resume renders nothing that is finished."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.cli import EXIT_FAILED, EXIT_INPUT, EXIT_OK, main
from core.batch.run import find_jobs
from core.job.pipeline import InputError
from tests import mediagen
from tests.tone_engine import ToneEngine


class CountingFactory:
    def __init__(self, engine: ToneEngine | None = None) -> None:
        self.engine = engine or ToneEngine()
        self.loads = 0

    def __call__(self, model_dir, device):
        self.loads += 1
        return self.engine


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch-originals")
    for name, lines in (
        ("one", mediagen.DEFAULT_LINES[:2]),
        ("two", mediagen.DEFAULT_LINES[2:4]),
    ):
        mediagen.make_test_video(
            folder / f"{name}.mp4", duration_s=18, lines=lines, srt_path=folder / f"{name}.srt"
        )
    mediagen.make_corrupt_file(folder / "broken.mp4", "garbage")
    shutil.copy(folder / "one.srt", folder / "broken.srt")
    return folder


@pytest.fixture
def videos(originals, tmp_path) -> Path:
    folder = tmp_path / "videos"
    shutil.copytree(originals, folder)
    return folder


def batch(jobs, outdir, *extra, factory) -> int:
    args = ["batch", str(jobs), "-o", str(outdir), *map(str, extra), "--no-progress"]
    return main(args + ["--work-dir", str(Path(outdir).parent / "work")], engine_factory=factory)


def test_a_folder_with_one_corrupt_video(videos, tmp_path, capsys):
    out, report = tmp_path / "dubbed", tmp_path / "batch.json"
    factory = CountingFactory()
    code = batch(videos, out, "--report", report, factory=factory)
    captured = capsys.readouterr()
    assert code == EXIT_FAILED  # not every job succeeded
    assert sorted(p.name for p in out.glob("*.mp4")) == ["one.dubbed.mp4", "two.dubbed.mp4"]
    assert "broken.mp4 failed" in captured.err and "broken.mp4" in captured.out
    assert factory.loads == 1  # the engine is loaded once for the whole batch
    data = json.loads(report.read_text())
    status = {Path(j["video"]).name: j["status"] for j in data["jobs"]}
    assert status == {"broken.mp4": "failed", "one.mp4": "done", "two.mp4": "done"}
    broken = next(j for j in data["jobs"] if j["status"] == "failed")
    assert "broken.mp4" in broken["error"] and broken["report"] is None
    assert data["totals"] == {"jobs": 3, "failed": 1, "done": 2}
    rendered = len(factory.engine.requests)
    assert rendered == 4

    # --resume right after renders nothing and rewrites nothing
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.mp4")}
    again = CountingFactory()
    assert batch(videos, out, "--resume", factory=again) == EXIT_FAILED  # broken still fails
    assert again.engine.requests == [] and again.engine.calls == []
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.mp4")} == before
    assert "finished before, skipped" in capsys.readouterr().err

    # a changed input is dubbed again on resume; its unchanged lines come from the cache
    (videos / "two.srt").write_text((videos / "two.srt").read_text().replace("came", "went"))
    third = CountingFactory()
    batch(videos, out, "--resume", factory=third)
    assert [r.text for r in third.engine.requests] == ["The train never went, did it?"]


def test_a_json_job_list_with_per_job_settings(videos, tmp_path, capsys):
    jobs = tmp_path / "jobs.json"
    jobs.write_text(
        json.dumps(
            [
                {"video": "videos/one.mp4", "output": "first.mkv", "settings": {"seed": 7}},
                {"video": "videos/two.mp4", "subtitles": "videos/two.srt"},
            ]
        )
    )
    factory = CountingFactory()
    assert batch(jobs, tmp_path / "out", factory=factory) == EXIT_OK, capsys.readouterr().err
    assert (tmp_path / "first.mkv").exists()  # a named output is from the list's folder
    assert (tmp_path / "out" / "two.dubbed.mp4").exists()
    seeds = sorted(r.seed for r in factory.engine.requests)
    assert seeds == [1, 2, 8, 9]  # the job's own seed 7 shifts only its lines


def test_a_csv_job_list(videos, tmp_path):
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("video,subtitles,output,duck_db\nvideos/one.mp4,,,-20\n")
    specs = find_jobs(jobs, tmp_path / "out")
    assert specs[0].video == tmp_path / "videos" / "one.mp4"
    assert specs[0].changes == {"duck_db": -20} and specs[0].subtitles is None


@pytest.mark.parametrize(
    "content, words",
    [
        ("[]", "holds no jobs"),
        ("{not json", "not valid JSON"),
        ('[{"output": "x.mp4"}]', "needs at least a 'video'"),
    ],
)
def test_bad_job_lists_are_clear(tmp_path, content, words, capsys):
    jobs = tmp_path / "jobs.json"
    jobs.write_text(content)
    with pytest.raises(InputError, match=words):
        find_jobs(jobs, tmp_path)
    assert batch(jobs, tmp_path / "out", factory=CountingFactory()) == EXIT_INPUT
    assert not (tmp_path / "out").exists()


def test_a_cancel_stops_the_batch_and_keeps_the_finished_lines(videos, tmp_path, capsys):
    from core.batch.run import BatchEvents, run_batch
    from core.job.options import DubOptions
    from core.lines.render import CancelToken

    token = CancelToken()

    class CancelOnFirstLine(BatchEvents):
        def line_rendered(self, index, take):
            token.cancel()

    (tmp_path / "out").mkdir()
    specs = [s for s in find_jobs(videos, tmp_path / "out") if s.name != "broken.mp4"]
    engine = ToneEngine()
    template = DubOptions(output=tmp_path / "x.mp4", work_dir=tmp_path / "work")
    results = list(
        run_batch(
            specs,
            template,
            engine_factory=lambda m, d: engine,
            events=CancelOnFirstLine(),
            cancel=token,
        )
    )
    assert [r.status for r in results] == ["cancelled"], [r.error for r in results]
    assert len(engine.requests) == 1  # the tone double stops as soon as it is asked
    assert len(list((tmp_path / "work" / "one" / "takes").glob("*.wav"))) == 1
    assert not list((tmp_path / "out").glob("*.mp4"))

    # through the CLI the same batch finishes, rendering only what was not cached
    factory = CountingFactory()
    code = batch(videos, tmp_path / "out", factory=factory)
    assert code == EXIT_FAILED and len(factory.engine.requests) == 3  # broken.mp4 fails
