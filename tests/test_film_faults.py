"""A disk that fills up in the middle of a film's extraction or mix: the message says
which folder and how much room was wanted, nothing half-written is left that a re-run
would take as whole, and a re-run once space is freed finishes from the cache.

Where the test may mount a small tmpfs (root), the disk really fills; elsewhere the
write fails at the file-writing boundary as libsndfile fails on a full disk."""

from __future__ import annotations

import inspect
import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

from core import mix_stream
from core.disk_space import DiskSpaceError, free_bytes
from core.original_audio import extract_audio
from core.pipeline import DubOptions, dub
from core.work_copies import WorkFile, exact_length, mono_copy_filter, write_work_files
from tests import mediagen
from tests.tone_engine import ToneEngine

MB = 2**20


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MB tmpfs of its own, or a skip where mounting is not allowed."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)]
    if shutil.which("mount") is None or subprocess.run(mount, capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    """A file taking all but ``leave`` bytes of ``folder``'s disk."""
    filler = folder / "filler.bin"
    with open(filler, "wb") as f:
        f.truncate(0)
        chunk = b"\0" * MB
        while (free_bytes(folder) or 0) > leave + MB:
            f.write(chunk)
            f.flush()
    return filler


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    video = tmp_path_factory.mktemp("clip") / "clip.mp4"
    mediagen.make_test_video(video, duration_s=24, srt_path=video.with_suffix(".srt"))
    return video


def _extraction(clip: Path, folder: Path) -> tuple[str, list[WorkFile]]:
    """What the extraction writes: a 48 kHz master and a 16 kHz mono copy."""
    n, mono = 24 * 48000, 24 * 16000
    graph = (
        f"[0:a:0]aresample=48000,aformat=sample_fmts=flt,{exact_length(n)},asplit=2[m][w];"
        f"[w]{mono_copy_filter(2, 'stereo', 16000, mono)}[c]"
    )
    return graph, [
        WorkFile(folder / "m.wav", "[m]", n, 2),
        WorkFile(folder / "c.wav", "[c]", mono, 1),
    ]


def test_a_disk_full_mid_extraction_says_where_and_how_much(clip, small_disk):
    audio = small_disk / "audio"
    audio.mkdir()
    graph, files = _extraction(clip, audio)
    filler = _fill(small_disk, 4 * MB)  # the master alone is 9.2 MB
    with pytest.raises(DiskSpaceError) as err:
        write_work_files(clip, graph, files, 24.0)
    message = str(err.value)
    assert f"could not write the extracted audio in {audio}: the disk is full" in message
    assert "10.8 MB is needed" in message, message  # 9.2 MB master + 1.5 MB copy
    assert list(audio.iterdir()) == []  # no temp file a re-run could take as whole

    filler.unlink()  # space freed: the same run now finishes
    write_work_files(clip, graph, files, 24.0)
    assert [sf.info(str(f.path)).frames for f in files] == [f.frames for f in files]


@pytest.mark.skipif(
    "progress" not in inspect.signature(extract_audio).parameters,
    reason="core/original_audio.py does not write through write_work_files yet",
)
def test_the_extract_stage_on_a_full_disk_keeps_no_cache_entry(clip, small_disk):
    from core.job.extract import extract

    filler = _fill(small_disk, 4 * MB)
    with pytest.raises(DiskSpaceError, match="is needed"):
        extract(clip, small_disk / "w", lambda notice: None)
    assert [p.name for p in (small_disk / "w" / "audio").iterdir()] == []  # no manifest
    filler.unlink()
    assert extract(clip, small_disk / "w", lambda notice: None) is not None


def _factory(engine):
    return lambda model_dir, device: engine


@pytest.mark.parametrize("disk", ["tmpfs", "simulated"])
def test_a_disk_full_mid_mix_and_a_rerun_from_the_cache(disk, clip, tmp_path, monkeypatch, request):
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DUBSMITH_QUEUE_FILE", str(tmp_path / "queue.json"))
    full = {"on": False, "filler": None}
    if disk == "tmpfs":
        work = request.getfixturevalue("small_disk") / "w"

        def at_stage(step: str, done: int, total: int) -> None:
            if step == "mix" and done == 0 and full["filler"] is None:  # as the mix starts
                full["on"], full["filler"] = True, _fill(work.parent, 2 * MB)
    else:
        work = tmp_path / "w"
        real_usage, real_writer = shutil.disk_usage, mix_stream.open_writer

        def usage(path):  # full while the half-written mix holds the room, as a real disk
            u = real_usage(path)
            held = work.is_dir() and any(p.name.startswith(".mix.wav.") for p in work.iterdir())
            return u._replace(free=MB) if full["on"] and held else u

        def writer(path, rate, channels, frames):
            f = real_writer(path, rate, channels, frames)
            write, blocks = f.write, []

            def failing(data):
                blocks.append(1)
                if len(blocks) == 2 and not full["filler"]:  # mid-way, the first time only
                    full["on"] = full["filler"] = True
                    raise sf.LibsndfileError(2, "System error.")  # libsndfile on ENOSPC
                return write(data)

            f.write = failing
            return f

        monkeypatch.setattr(shutil, "disk_usage", usage)
        monkeypatch.setattr(mix_stream, "open_writer", writer)

        def at_stage(step: str, done: int, total: int) -> None:
            pass

    opts = DubOptions(output=tmp_path / "o.mp4", work_dir=work, save_project=False)
    with pytest.raises(DiskSpaceError) as err:
        dub(clip, opts, engine_factory=_factory(ToneEngine()), progress=at_stage)
    message = str(err.value)
    assert f"could not write the mix in {work}: the disk is full" in message, message
    assert "9.2 MB is needed" in message, message  # 24 s of stereo float at 48 kHz
    assert not (tmp_path / "o.mp4").exists()
    assert [p for p in work.rglob("*") if "mix" in p.name] == []  # nothing half-written
    masters = list(work.rglob("*_48k.wav"))
    assert len(masters) == 1
    extracted_at = masters[0].stat().st_mtime_ns

    if disk == "tmpfs":
        full["filler"].unlink()
    full["on"] = False  # space freed
    engine = ToneEngine()
    report = dub(clip, opts, engine_factory=_factory(engine), progress=at_stage)
    assert Path(report.output).exists()
    assert engine.rendered == [] and all(ln.cached for ln in report.lines)  # takes kept
    assert masters[0].stat().st_mtime_ns == extracted_at  # the extraction was reused
