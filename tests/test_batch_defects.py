"""Issue 26 for `dubsmith batch`: --resume redoes a job whenever anything that shapes its
output changed (item 6); a job with silent lines is `partial`, exits 5 and is finished by
--resume (item 7); job-list values, paths and advice; a folder's own dubs; progress in logs.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from app.cli import EXIT_INPUT, EXIT_OK, EXIT_PARTIAL, main
from core.batch.run import find_jobs
from core.errors import InputError
from tests import mediagen
from tests.tone_engine import ToneEngine

LINES = mediagen.DEFAULT_LINES[:2]
FIRST, SECOND = (text for _, text, _ in LINES)


class Factory:
    """A caller's engine factory: the tone double (failing the given lines)."""

    def __init__(self, fail_texts=()) -> None:
        self.engine = ToneEngine(fail_texts=fail_texts)

    def __call__(self, model_dir, device):
        return self.engine


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch-defects")
    mediagen.make_test_video(
        folder / "one.mp4", duration_s=9, lines=LINES, srt_path=folder / "one.srt"
    )
    return folder


@pytest.fixture
def videos(original, tmp_path) -> Path:
    folder = tmp_path / "videos"
    shutil.copytree(original, folder)
    return folder


def batch(jobs, outdir, *extra, factory, progress=False) -> tuple[int, dict]:
    """Run `dubsmith batch`; the exit code and each job's status by video name."""
    report = Path(outdir).parent / "batch-report.json"
    args = ["batch", str(jobs), "-o", str(outdir), *map(str, extra), "--report", str(report)]
    args += ["--work-dir", str(Path(outdir).parent / "work")]
    code = main(args + ([] if progress else ["--no-progress"]), engine_factory=factory)
    jobs_run = json.loads(report.read_text())["jobs"] if report.exists() else []
    return code, {Path(j["video"]).name: j["status"] for j in jobs_run}


# --- item 6: what --resume compares ------------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [("--seed", "5"), ("--mode", "natural"), ("--precision", "fp32"), ("--preset", "draft")],
)
def test_resume_redoes_a_job_made_with_other_command_line_settings(videos, tmp_path, flags):
    out = tmp_path / "out"
    assert batch(videos, out, factory=Factory()) == (EXIT_OK, {"one.mp4": "done"})
    assert batch(videos, out, "--resume", factory=Factory())[1] == {"one.mp4": "skipped"}
    code, status = batch(videos, out, "--resume", *flags, factory=Factory())
    assert (code, status) == (EXIT_OK, {"one.mp4": "done"}), flags
    # and once made with them, the same command skips it again
    assert batch(videos, out, "--resume", *flags, factory=Factory())[1] == {"one.mp4": "skipped"}


def test_resume_redoes_a_job_whose_model_files_changed(videos, tmp_path):
    models = tmp_path / "models"
    (models / "indextts2").mkdir(parents=True)
    weights = models / "indextts2" / "gpt.pth"
    weights.write_bytes(b"first weights")
    out = tmp_path / "out"
    batch(videos, out, "--model-dir", models, factory=Factory())
    assert batch(videos, out, "--resume", "--model-dir", models, factory=Factory())[1] == {
        "one.mp4": "skipped"
    }
    weights.write_bytes(b"other weights, longer")
    status = batch(videos, out, "--resume", "--model-dir", models, factory=Factory())[1]
    assert status == {"one.mp4": "done"}


def test_resume_compares_the_inputs_content_not_their_dates(videos, tmp_path):
    out = tmp_path / "out"
    batch(videos, out, factory=Factory())
    srt = videos / "one.srt"
    st = srt.stat()
    # Same size, same modification time, other words: a stat-only fingerprint misses it.
    srt.write_text(srt.read_text().replace("train", "tramp"))
    os.utime(srt, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert srt.stat().st_size == st.st_size
    factory = Factory()
    assert batch(videos, out, "--resume", factory=factory)[1] == {"one.mp4": "done"}
    assert [r.text for r in factory.engine.requests] == ["I was waiting for the morning tramp."]
    # a file touched but not changed is still finished
    os.utime(videos / "one.mp4")
    assert batch(videos, out, "--resume", factory=Factory())[1] == {"one.mp4": "skipped"}


def test_a_big_input_is_known_by_its_size_date_and_ends(tmp_path, monkeypatch):
    from core.batch import state as batch_state
    from core.batch.state import content_digest

    monkeypatch.setattr(batch_state, "FULL_HASH_LIMIT", 2 * 1024 * 1024)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (5 * 1024 * 1024))
    before = content_digest(big)
    with open(big, "r+b") as f:  # the last MiB changed, size and time kept
        st = os.fstat(f.fileno())
        f.seek(-10, os.SEEK_END)
        f.write(b"x" * 10)
    os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert content_digest(big) != before


# --- item 7: a job with silent lines ------------------------------------------------------------


def test_a_job_with_failed_lines_is_partial_exits_5_and_resume_finishes_it(
    videos, tmp_path, capsys
):
    out = tmp_path / "out"
    code, status = batch(videos, out, factory=Factory(fail_texts=[SECOND]))
    assert (code, status) == (EXIT_PARTIAL, {"one.mp4": "partial"})
    assert (out / "one.dubbed.mp4").exists()  # written, with one line silent
    assert "--resume renders them" in capsys.readouterr().err
    factory = Factory()
    code, status = batch(videos, out, "--resume", factory=factory)
    assert (code, status) == (EXIT_OK, {"one.mp4": "done"})
    assert [r.text for r in factory.engine.requests] == [SECOND]  # only the missing line
    assert batch(videos, out, "--resume", factory=Factory())[1] == {"one.mp4": "skipped"}


# --- smaller ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column, value, words",
    [
        ("duck_db", "abc", ["row 2", "column duck_db", "'abc'", "at or below 0"]),
        ("duck_db", "6", ["row 2", "column duck_db", "at or below 0", "got 6"]),
        ("background", "sideways", ["row 2", "column background", "auto, duck, replace"]),
        ("retakes", "11", ["row 2", "column retakes", "between 0 and 10"]),
        ("colour", "red", ["row 2", "unknown column 'colour'", "duck_db"]),
    ],
)
def test_a_bad_csv_value_names_row_column_and_what_it_may_be(
    videos, tmp_path, capsys, column, value, words
):
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"video,{column}\nvideos/one.mp4,{value}\n")
    with pytest.raises(InputError) as caught:
        find_jobs(jobs, tmp_path / "out")
    for w in words:
        assert w in str(caught.value), (w, str(caught.value))
    assert batch(jobs, tmp_path / "out", factory=Factory())[0] == EXIT_INPUT
    assert "column" in capsys.readouterr().err


def test_a_json_setting_of_the_wrong_kind_names_job_and_setting(tmp_path):
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps([{"video": "a.mp4", "settings": {"seed": "five"}}]))
    with pytest.raises(InputError, match=r"jobs.json, job 1, setting seed: 'five'.*whole"):
        find_jobs(jobs, tmp_path / "out")


def test_batch_advice_for_missing_subtitles_is_for_batch(videos, tmp_path, capsys):
    (videos / "one.srt").unlink()
    code, status = batch(videos, tmp_path / "out", factory=Factory())
    err = capsys.readouterr().err
    assert status == {"one.mp4": "failed"}
    assert "after the video" not in err  # that is `dub`'s command line
    assert "put them beside the video" in err


def test_a_json_jobs_relative_output_is_from_the_lists_folder(tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    jobs = lists / "jobs.json"
    jobs.write_text(json.dumps([{"video": "a.mp4", "output": "dubs/a.fr.mp4"}, {"video": "b.mp4"}]))
    specs = find_jobs(jobs, tmp_path / "outdir")
    assert specs[0].output == lists / "dubs" / "a.fr.mp4"
    assert specs[1].output == tmp_path / "outdir" / "b.dubbed.mp4"  # the default name


def test_a_batch_into_its_own_folder_twice_does_not_dub_its_dubs(videos, capsys):
    first = Factory()
    assert batch(videos, videos, factory=first) == (EXIT_OK, {"one.mp4": "done"})
    capsys.readouterr()
    again = Factory()
    assert batch(videos, videos, factory=again) == (EXIT_OK, {"one.mp4": "done"})
    assert "one.dubbed.mp4: a dub written by Dubsmith" in capsys.readouterr().err
    assert not list(videos.glob("*.dubbed.dubbed.*"))


def test_a_recorded_output_under_any_name_is_not_a_job(videos, tmp_path):
    from core.batch.run import JobSpec
    from core.batch.state import BatchState

    custom = videos / "one-in-french.mp4"
    shutil.copy(videos / "one.mp4", custom)
    assert [s.name for s in find_jobs(videos, tmp_path)] == ["one-in-french.mp4", "one.mp4"]
    BatchState(videos).mark_finished(JobSpec(videos / "one.mp4", custom), "fingerprint")
    skipped: list[Path] = []
    assert [s.name for s in find_jobs(videos, tmp_path, skipped)] == ["one.mp4"]
    assert skipped == [custom]


def test_progress_in_a_log_is_one_line_per_stage(videos, tmp_path, capsys):
    code, _ = batch(videos, tmp_path / "out", factory=Factory(), progress=True)
    err = capsys.readouterr().err  # captured: not a terminal
    assert code == EXIT_OK
    assert "\r" not in err and "0%" not in err
    stages = [ln for ln in err.splitlines() if ln.endswith("...")]
    assert "render..." in stages and len(stages) == len(set(stages)), stages
