"""Benchmark of the media path of a dub, without synthesis.

Generates (once, cached in --workdir) a 10-minute 320x240 testsrc2 video at 25 fps with
48 kHz AAC stereo "speech-like" noise (syllable-rate modulated pink noise in phrases)
and an SRT of ~200 cues, makes a tone per cue as a fake dubbed clip (22.05 kHz, the
engine's rate, exactly the cue's length), then times:

    probe -> extract_audio (48k master + 16k/22.05k mono, ffmpeg to disk) -> mix_to_file
    (block mix from the master on disk: duck, loudness, true peak, gain in place) ->
    export (MP4 mux: video copy, AAC dub, original 2nd)

Usage: .venv/bin/python bench/pipeline.py [--minutes 10] [--cues 200] [--workdir DIR]
                                         [--aac-coder twoloop|fast]
Prints wall and CPU seconds per step (CPU includes ffmpeg child processes).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pysubs2  # noqa: E402

from core.audio.mix_stream import mix_to_file  # noqa: E402
from core.audio.mixdown import Clip, MixSettings  # noqa: E402
from core.audio.original_audio import extract_audio  # noqa: E402
from core.deliver.mux import ExportOptions, export_video  # noqa: E402
from core.media.probe import probe  # noqa: E402
from tests import mediagen  # noqa: E402

RATE = 48000


def speech_like(seconds: float, seed: int = 7) -> np.ndarray:
    """Pink noise gated into 1-4 s phrases and modulated at syllable rate (~4 Hz)."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * RATE))
    noise = mediagen.pink_noise(n, seed, level_db=-20.0)
    gate = np.zeros(n, np.float32)
    t = 0.0
    while t < seconds:
        length = rng.uniform(1.0, 4.0)
        a, b = int(t * RATE), min(n, int((t + length) * RATE))
        gate[a:b] = 1.0
        t += length + rng.uniform(0.3, 1.5)
    tt = np.arange(n) / RATE
    syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * tt + rng.uniform(0, 6.28)) ** 2
    mono = noise * gate * syllables.astype(np.float32) + mediagen.pink_noise(n, seed + 1, -45.0)
    return np.stack([mono, mono * 0.9], axis=1).astype(np.float32)


def make_inputs(workdir: Path, minutes: float, cues: int) -> tuple[Path, Path]:
    video = workdir / f"bench_{minutes:g}min.mp4"
    srt = workdir / f"bench_{minutes:g}min_{cues}.srt"
    duration = minutes * 60
    if not video.exists():
        print(f"generating {video.name} ({minutes:g} min, not timed) ...", flush=True)
        t0 = time.perf_counter()
        tmp = video.with_suffix(".tmp.mp4")
        mediagen.make_test_video(tmp, duration_s=duration, soundtrack=speech_like(duration))
        tmp.replace(video)
        print(f"  generated in {time.perf_counter() - t0:.1f} s")
    if not srt.exists():
        step = duration / cues
        lines = [(i * step + 0.2, f"Cue number {i + 1}.", "") for i in range(cues)]
        mediagen.write_srt(srt, lines, duration, default_len_s=step * 0.8)
    return video, srt


def fake_clips(srt: Path) -> list[Clip]:
    """A tone per cue (frequency cycling so neighbours differ), exactly the cue's span."""
    subs = pysubs2.load(str(srt))
    clips = []
    for i, ev in enumerate(subs):
        n = int(round((ev.end - ev.start) / 1000 * 22050))
        freq = 200.0 + 50.0 * (i % 12)
        t = np.arange(n, dtype=np.float32) / 22050
        clips.append(
            Clip(ev.start, (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32), line_id=i)
        )
    return clips


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--cues", type=int, default=200)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "dubsmith-bench")
    ap.add_argument("--aac-coder", default="twoloop", choices=["twoloop", "fast"])
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    video, srt = make_inputs(args.workdir, args.minutes, args.cues)
    clips = fake_clips(srt)

    run = args.workdir / "run"
    shutil.rmtree(run, ignore_errors=True)  # cold: no extraction cache
    run.mkdir()
    times: dict[str, float] = {}

    cpu: dict[str, float] = {}

    def cpu_now() -> float:
        # This process plus finished children (ffmpeg): load-independent figures.
        me, kids = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def step(name: str, fn):
        t0, c0 = time.perf_counter(), cpu_now()
        out = fn()
        times[name], cpu[name] = time.perf_counter() - t0, cpu_now() - c0
        print(f"  {name:<22} {times[name]:7.2f} s wall {cpu[name]:7.2f} s cpu", flush=True)
        return out

    print(f"input: {video.name}, {len(clips)} cues, {video.stat().st_size / 1e6:.1f} MB")
    info = step("probe", lambda: probe(video))
    extracted = step("extract_audio", lambda: extract_audio(video, run / "work"))
    result = step(
        "mix (blocks, to disk)",
        lambda: mix_to_file(
            clips,
            info.duration_s,
            extracted.master_path,
            run / "mix.wav",
            MixSettings(),
            extracted.channel_layout,
        ),
    )
    mix_wav = result.path
    out = step(
        "export (mp4 mux)",
        lambda: export_video(
            video,
            mix_wav,
            run / "dubbed.mp4",
            ExportOptions(dub_language="fra", include_original=True),
        ),
    )
    total = sum(times.values())
    print(f"  {'TOTAL':<22} {total:7.2f} s wall {sum(cpu.values()):7.2f} s cpu  (target < 10 s)")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(
        f"mix: {result.loudness_lufs:.2f} LUFS, true peak {result.true_peak_dbtp:.2f} dBTP, "
        f"gain {result.gain_db:+.2f} dB, {len(result.placements)} clips placed; "
        f"output {out.stat().st_size / 1e6:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
