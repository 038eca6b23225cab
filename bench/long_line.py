"""A subtitle file of one absurd line (issue 26, item 11): how long, and how much memory,
until the dub refuses it. Today's product stops in the read stage, before any model loads.

Makes a 10 s test video (ffmpeg lavfi) and an SRT whose only cue holds SIZE bytes of text,
runs a dub on it with the default engine (which is never loaded: the line is refused
first) and prints the seconds to the refusal, the peak resident memory of this process
before and after, and the message. The issue saw the same file end in std::bad_alloc
after 70 s and 4.5 GB in the render.

Usage:
    .venv/bin/python bench/long_line.py            # 2 MB
    .venv/bin/python bench/long_line.py --mb 8
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.errors import InputError  # noqa: E402
from core.job.pipeline import DubJob, DubOptions  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=2.0, help="the cue's text, megabytes (2)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dubsmith-long-line-") as tmp:
        folder = Path(tmp)
        video = folder / "scene.mp4"
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi",
             "-i", "testsrc2=size=160x120:rate=25:duration=10", "-f", "lavfi",
             "-i", "sine=frequency=220:duration=10", "-c:v", "libx264", "-c:a", "aac",
             "-t", "10", str(video)],
            check=True,
        )  # fmt: skip
        words = "and then it went on and on without a break "
        text = (words * (int(args.mb * 1e6) // len(words) + 1))[: int(args.mb * 1e6)]
        srt = folder / "scene.en.srt"
        srt.write_text(f"1\n00:00:00,500 --> 00:00:09,500\n{text}\n", encoding="utf-8")
        options = DubOptions(
            output=folder / "out.mp4", subtitles=srt, device="cpu", work_dir=folder / "work"
        )
        before = peak_mb()
        t0 = time.perf_counter()
        try:
            DubJob(video, options).run()
            said = "NOT refused: the dub ran"
        except InputError as exc:
            said = str(exc)
        seconds = time.perf_counter() - t0
        print(f"cue text: {len(text):,} characters ({srt.stat().st_size / 1e6:.1f} MB file)")
        print(
            f"refused after {seconds:.2f} s; peak RSS {before:.0f} MB before, {peak_mb():.0f} MB after"
        )
        print(f"message: {said[:300]}")


if __name__ == "__main__":
    main()
