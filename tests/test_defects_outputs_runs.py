"""Issue 26, runs: one run at a time per project and output (a second says who holds it,
or waits), children that die with their parent, stale temp files removed, inputs that
are not regular files refused without a hang, and a closed pipe that ends quietly."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import EXIT_FAILED, EXIT_INPUT, EXIT_OK, main
from core import project as proj
from tests import mediagen
from tests.tone_engine import ToneEngine

REPO = Path(__file__).resolve().parents[1]
LINES = mediagen.DEFAULT_LINES[:2]
CLI = [sys.executable, "-m", "app.cli"]


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("runs-original")
    return mediagen.make_test_video(
        folder / "base.mp4", duration_s=8, lines=LINES, srt_path=folder / "base.srt"
    )


@pytest.fixture
def base(original, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "in"
    folder.mkdir()
    return mediagen.private_copy(original, folder)


def run(video: Path, out: Path, *extra) -> int:
    argv = ["dub", str(video), "-o", str(out), *map(str, extra)]
    argv += ["--work-dir", str(out.parent / "work"), "--no-progress"]
    engine = ToneEngine()
    return main(argv, engine_factory=lambda model_dir, device: engine)


# --- item 2: a run lock on the project and the outputs --------------------------------------

HOLDER = """
import sys, time
from pathlib import Path
from core.job.run_lock import hold_run
with hold_run([Path(sys.argv[1])]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold(path: Path, seconds: float) -> subprocess.Popen:
    """Another process holding the lock of `path` (as a running dub does)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_run_on_the_project_says_who_holds_it(base, tmp_path, capsys):
    holder = hold(proj.project_path_for(base), 60)
    try:
        code = run(base, tmp_path / "b.mp4", "--seed", "3")
        err = capsys.readouterr().err
        assert code == EXIT_FAILED, err
        assert f"pid {holder.pid}" in err and "--wait" in err
        assert not base.with_name("base.dubsmith.json").exists()  # nothing saved over it
    finally:
        holder.kill()
        holder.wait()
    # The holder was killed (kill -9): the kernel dropped its lock with it.
    assert run(base, tmp_path / "b.mp4", "--seed", "3") == EXIT_OK
    assert proj.load_project(base.with_name("base.dubsmith.json")).settings.seed == 3


FIRST_RUN = """
import sys, time
from pathlib import Path
from app.cli import main
from tests.tone_engine import ToneEngine

started, release = Path(sys.argv[1]), Path(sys.argv[2])

class Slow(ToneEngine):
    def synthesize(self, requests, *args, **kwargs):
        started.touch()
        while not release.exists():
            time.sleep(0.05)
        return super().synthesize(requests, *args, **kwargs)

engine = Slow()
sys.exit(main(sys.argv[3:], engine_factory=lambda model_dir, device: engine))
"""


def test_two_dubs_of_one_video_at_once_lose_no_setting(base, tmp_path, capsys):
    started, release = tmp_path / "started", tmp_path / "release"
    first = subprocess.Popen(
        [sys.executable, "-c", FIRST_RUN, str(started), str(release), "dub", str(base),
         "-o", str(tmp_path / "a.mp4"), "--duck-db", "-6", "--no-progress",
         "--work-dir", str(tmp_path / "wa")],
        cwd=REPO, env=os.environ.copy(), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline, "the first dub never started rendering"
            time.sleep(0.1)
        code = run(base, tmp_path / "b.mp4", "--seed", "3", "--keep-original-track")
        err = capsys.readouterr().err
        assert code == EXIT_FAILED and f"pid {first.pid}" in err, err
    finally:
        release.touch()
        assert first.wait(timeout=120) == EXIT_OK, first.stderr.read()
    assert run(base, tmp_path / "b.mp4", "--seed", "3", "--keep-original-track") == EXIT_OK
    settings = proj.load_project(base.with_name("base.dubsmith.json")).settings
    assert (settings.duck_db, settings.seed, settings.keep_original_track) == (-6, 3, True)


def test_two_runs_writing_one_output_do_not_both_write(base, original, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    second = mediagen.private_copy(original, other)  # another video, the same -o
    holder = hold(tmp_path / "same.mp4", 60)
    try:
        code = run(second, tmp_path / "same.mp4")
        err = capsys.readouterr().err
        assert code == EXIT_FAILED and f"pid {holder.pid}" in err and "wrote" not in err
    finally:
        holder.kill()
        holder.wait()


def test_wait_starts_after_the_other_run(base, tmp_path, capsys):
    holder = hold(proj.project_path_for(base), 2)
    start = time.monotonic()
    code = run(base, tmp_path / "b.mp4", "--wait")
    err = capsys.readouterr().err
    holder.wait()
    assert code == EXIT_OK, err
    assert "waiting for it to finish" in err and f"pid {holder.pid}" in err
    assert time.monotonic() - start > 1.0  # it did wait for the holder


# --- item 8: ffmpeg dies with its parent; the temp file it left is removed next run --------

RUNNER = """
import sys
from pathlib import Path
from core.media.ffmpeg_tool import run_ffmpeg
out = Path(sys.argv[1])
run_ffmpeg(["ffmpeg", "-nostdin", "-y", "-v", "error", "-re", "-f", "lavfi",
            "-i", "sine=duration=120", "-f", "wav", "file:" + str(out)], out, "write")
"""


def _children(pid: int, name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        if comm == name and int(rest.split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has stopped; only its entry is left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_ffmpeg_dies_when_the_dub_is_killed(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", RUNNER, str(tmp_path / "x.wav")], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not (ffmpeg := _children(parent.pid, "ffmpeg")):
            assert time.monotonic() < deadline, "ffmpeg never started"
            time.sleep(0.1)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while _running(ffmpeg[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(ffmpeg[0]), "ffmpeg outlived the process that started it"
    finally:
        parent.kill()
        for pid in _children(parent.pid, "ffmpeg"):
            os.kill(pid, signal.SIGKILL)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_runs_temp_file_is_removed_at_the_next_run(base, tmp_path, capsys):
    out = tmp_path / "d.mp4"
    stale = tmp_path / f".d.mp4.{_dead_pid()}-0123abcd.part"
    stale.write_bytes(b"half an export")
    alive = tmp_path / f".d.mp4.{os.getppid()}-89abcdef.part"  # its owner still runs
    alive.write_bytes(b"another run's export")
    foreign = tmp_path / ".d.mp4.notours.part"
    foreign.write_bytes(b"not named as ours")
    assert run(base, out) == EXIT_OK, capsys.readouterr().err
    assert not stale.exists() and alive.exists() and foreign.exists()


# --- item 10: inputs are regular files, read with a limit -----------------------------------


def _cli(*args: str, cap: list[str] | None = None) -> subprocess.CompletedProcess:
    """The CLI in its own process: a hang is a failed test, not a stuck run."""
    argv = [*(cap or []), *CLI, *args]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_a_fifo_as_subtitles_is_refused_without_a_hang(base, tmp_path):
    fifo = tmp_path / "subs.srt"
    os.mkfifo(fifo)
    proc = _cli("dub", str(base), str(fifo), "-o", str(tmp_path / "d.mp4"), "--no-progress")
    assert proc.returncode == EXIT_INPUT, proc.stderr
    assert "named pipe" in proc.stderr and "regular files" in proc.stderr
    proc = _cli("inspect", str(fifo))
    assert proc.returncode == EXIT_INPUT and "named pipe" in proc.stderr


def test_a_fifo_as_the_project_file_is_refused_without_a_hang(base, tmp_path):
    os.mkfifo(base.with_name("base.dubsmith.json"))
    for command in (["dub", str(base), "-o", str(tmp_path / "d.mp4")], ["analyze", str(base)]):
        proc = _cli(*command, "--no-progress")
        assert proc.returncode == EXIT_INPUT, proc.stderr
        assert "the project file" in proc.stderr and "named pipe" in proc.stderr


def test_dev_zero_as_subtitles_is_refused_unread(base, tmp_path):
    # Capped (where prlimit exists), so a build that does read it fails fast, not by OOM.
    cap = ["prlimit", "--as=4000000000"] if shutil.which("prlimit") else []
    out = str(tmp_path / "d.mp4")
    proc = _cli("dub", str(base), "/dev/zero", "-o", out, "--no-progress", cap=cap)
    assert proc.returncode == EXIT_INPUT, proc.stderr
    assert "/dev/zero is a device" in proc.stderr and "Traceback" not in proc.stderr


def test_a_folder_as_subtitles_is_refused(base, tmp_path, capsys):
    folder = tmp_path / "subs.srt"
    folder.mkdir()
    argv = ["dub", str(base), str(folder), "-o", str(tmp_path / "d.mp4"), "--no-progress"]
    assert main(argv, engine_factory=lambda m, d: ToneEngine()) == EXIT_INPUT
    assert "is a folder, not a file" in capsys.readouterr().err


def test_an_oversized_subtitle_file_names_the_limit(base, tmp_path, capsys):
    big = tmp_path / "big.srt"
    with big.open("wb") as f:
        f.truncate(60 * 1024 * 1024)  # sparse: nothing to write, 60 MB to read
    argv = ["dub", str(base), str(big), "-o", str(tmp_path / "d.mp4"), "--no-progress"]
    assert main(argv, engine_factory=lambda m, d: ToneEngine()) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "over the limit of 50 MB" in err and "60 MB" in err


def test_a_fifo_as_a_voice_file_is_refused(base, tmp_path, capsys):
    fifo = tmp_path / "voice.wav"
    os.mkfifo(fifo)
    proc = _cli(
        "dub", str(base), "-o", str(tmp_path / "d.mp4"), "--voice", f"speaker={fifo}",
        "--no-progress",
    )  # fmt: skip
    assert proc.returncode == EXIT_INPUT, proc.stderr
    assert "named pipe" in proc.stderr


# --- item 12: a reader that leaves early ----------------------------------------------------


@pytest.mark.parametrize("command", ["models", "inspect"])
def test_a_closed_pipe_ends_quietly(command, original, tmp_path, tiny_model_dir):
    args = (
        ["models", "list", "--model-dir", str(tiny_model_dir)]
        if command == "models"
        else ["inspect", str(original), "--json"]
    )
    proc = subprocess.Popen(
        [*CLI, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    proc.stdout.close()  # `| head` that has read all it wants: nobody reads any more
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == EXIT_OK, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
