"""What starting ffmpeg through the parent-death launcher (core/media/child_process.py) costs.

Runs `ffprobe -version` N times directly and N times through the launcher and prints the
mean wall time of each and the difference (the launcher's own cost: one interpreter
started with -I -S, one prctl, one exec). A dub starts a handful of ffmpeg processes.

Usage:
    .venv/bin/python bench/child_launcher.py [--runs 20]
"""

from __future__ import annotations

import argparse
import subprocess
import time

from core.media.child_process import child_command


def mean_ms(cmd: list[str], runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) / runs * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    runs = ap.parse_args().runs
    args = ["ffprobe", "-v", "error", "-version"]
    direct = mean_ms(args, runs)
    launched = mean_ms(child_command(args), runs)
    print(f"direct:          {direct:7.1f} ms per start ({runs} runs)")
    print(f"through launcher: {launched:7.1f} ms per start")
    print(f"launcher cost:   {launched - direct:7.1f} ms per start")


if __name__ == "__main__":
    main()
