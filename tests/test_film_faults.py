"""A disk that fills up in the middle of a film's extraction or mix: the message says
which folder and how much room was wanted, nothing half-written is left that a re-run
would take as whole, and a re-run once space is freed finishes from the cache.

Where the test may mount a small tmpfs (root), the disk really fills; elsewhere the
write fails at the file-writing boundary as libsndfile fails on a full disk."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.audio import mix_stream
from core.deliver import mux as export
from core.disk_space import DiskSpaceError, free_bytes
from core.job.pipeline import DubOptions, dub
from core.media.ffmpeg_progress import run_with_progress
from core.media.work_copies import WorkFile, exact_length, mono_copy_filter, write_work_files
from core.subtitles.cue_types import Cue
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


def test_a_disk_full_mid_export_says_where_and_how_much(clip, tmp_path, monkeypatch):
    """ffmpeg's own words on a full disk, as the mux meets it after the check up front."""
    dub_wav = tmp_path / "dub.wav"
    sf.write(str(dub_wav), np.zeros((24 * 48000, 2), np.float32), 48000, subtype="FLOAT")
    out = tmp_path / "out" / "o.mp4"
    out.parent.mkdir()

    def full(args, duration_s, progress):
        run_with_progress(args, duration_s, progress)  # the temp file is really written
        err = b"av_interleaved_write_frame(): No space left on device\n"
        return subprocess.CompletedProcess(args, 1, b"", err)

    monkeypatch.setattr(export, "run_with_progress", full)
    with pytest.raises(export.ExportError) as err:
        export.export_video(clip, dub_wav, out)
    message = str(err.value)
    assert f"not enough free disk space in '{out.parent}'" in message
    assert "is needed" in message and "is free" in message, message
    assert list(out.parent.iterdir()) == []  # the temp file is gone


class _CountedCue(Cue):
    """A cue that counts every read of its fields: the checks' work, without a clock."""

    reads = 0

    def __getattribute__(self, name):
        if not name.startswith("__"):
            type(self).reads += 1
        return super().__getattribute__(name)


def _film_cues(n: int) -> list[Cue]:
    """Every oddity at once: one cue spanning the film (all others overlap it), every
    tenth out of order, the last tenth past the end, some empty."""
    cues = [_CountedCue(1, 0, n * 2000, "Long", None, "Long")]
    for i in range(2, n + 1):
        start = i * 2000 - (3000 if i % 10 == 0 else 0)
        text = "" if i % 97 == 0 else f"Line {i}."
        cues.append(_CountedCue(i, start, start + 2500, text, None, text))
    return cues


def test_a_films_cue_checks_grow_no_faster_than_n_log_n():
    """10,000 cues must be checked in well under a second: four times the cues may cost
    a little over four times the reads (n log n), never sixteen (n squared)."""
    from core.subtitles.checks import check_cues

    reads = []
    for n in (2500, 10000):
        cues = _film_cues(n)
        _CountedCue.reads = 0
        warnings = check_cues(cues, video_duration_ms=round(n * 2000 * 0.9))
        reads.append(_CountedCue.reads)
        assert sum(w.kind == "overlap" for w in warnings) == n - 1 - n // 97  # all found
    assert reads[1] / reads[0] < 6, reads
