"""Benchmark: whole `dub` runs of feature-length 5.1 films with the tiny reference models.

For each length (default 30, 120 and 180 minutes) a film is generated once in --workdir
with ffmpeg alone (lavfi sources, written as ffmpeg encodes them: no numpy array of the
film ever exists): a 160x90 picture at 5 fps, 5.1 AC-3 sound (a syllable-rate modulated
tone on the centre, where a film's dialogue sits, noise beds on the other channels, a low
hum on the LFE), an SRT with --cues-per-minute cues. Each film is then dubbed in its own
process (the tiny IndexTTS2 reference checkpoints in ../shared/reference, CPU), which
reports its per-stage seconds, its RSS sampled per stage and its peak RSS (VmHWM, mapped
file pages included). The ffmpeg processes it starts are not counted (they stream).

Usage: .venv/bin/python bench/film.py [--minutes 30 120 180] [--cues-per-minute 2]
                                      [--workdir DIR] [--background duck]
Needs about 30 GB of free disk per 180 minutes of 5.1 film (master and mix are float32).
Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

REFERENCE = REPO.parent / "shared" / "reference"


def make_film(folder: Path, minutes: float, cues_per_minute: float) -> tuple[Path, Path]:
    """film.mkv and film.srt in ``folder`` (reused when present)."""
    folder.mkdir(parents=True, exist_ok=True)
    video, srt = folder / "film.mkv", folder / "film.srt"
    seconds = minutes * 60
    if not video.exists():
        d = f"{seconds:g}"
        noise = "anoisesrc=color={c}:amplitude={a}:sample_rate=48000:duration=" + d + ":seed={s}"
        graph = ";".join(
            [
                noise.format(c="pink", a=0.05, s=1) + "[fl]",
                noise.format(c="pink", a=0.05, s=2) + "[fr]",
                f"sine=frequency=180:sample_rate=48000:duration={d},"
                "tremolo=f=4:d=0.9,volume=0.4[fc]",
                f"sine=frequency=45:sample_rate=48000:duration={d},volume=0.2[lfe]",
                noise.format(c="brown", a=0.05, s=3) + "[bl]",
                noise.format(c="brown", a=0.05, s=4) + "[br]",
                "[fl][fr][fc][lfe][bl][br]join=inputs=6:channel_layout=5.1[a]",
            ]
        )
        part = folder / "film.part.mkv"
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
             "-f", "lavfi", "-i", f"color=c=gray:size=160x90:rate=5:duration={d}",
             "-filter_complex", graph, "-map", "0:v", "-map", "[a]",
             "-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage", "-g", "250",
             "-c:a", "ac3", "-b:a", "448k", "-metadata:s:a:0", "language=eng", str(part)],
            check=True,
        )  # fmt: skip
        os.replace(part, video)
    if not srt.exists():
        step = 60.0 / cues_per_minute
        out, k, t = [], 1, 1.0
        while t + 3.0 < seconds:
            out.append(f"{k}\n{_ts(t)} --> {_ts(t + 2.6)}\nThis is line number {k} of the film.\n")
            k, t = k + 1, t + step
        srt.write_text("\n".join(out), encoding="utf-8")
    return video, srt


def _ts(t: float) -> str:
    ms = int(round(t * 1000))
    h, rem = divmod(ms, 3600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def child(video: Path, out: Path, work: Path, model_dir: Path, background: str) -> None:
    """One dub in this process; prints one JSON line with its figures."""
    import torch

    torch.set_num_threads(1)
    from core.job.pipeline import DubOptions, dub

    options = DubOptions(
        output=out,
        model_dir=model_dir,
        device="cpu",
        work_dir=work,
        save_project=False,
        changes={"speakers": 1, "background": background},
    )
    stage = {"now": "start"}
    peaks: dict[str, float] = {}
    done = threading.Event()

    def sample() -> None:  # VmRSS per stage, twice a second
        while not done.wait(0.5):
            peaks[stage["now"]] = max(peaks.get(stage["now"], 0.0), _rss_mb("VmRSS"))

    def progress(name: str, _done: int, _total: int) -> None:
        stage["now"] = name

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    report = dub(video, options, progress=progress)
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    figures = {
        "wall_s": wall,
        "stages": report.step_s,
        "stage_rss_mb": peaks,
        "peak_rss_mb": _rss_mb("VmHWM"),
        "lines": len(report.lines),
        "failed": len(report.failed),
    }
    print("FIGURES " + json.dumps(figures), flush=True)


def _rss_mb(field: str) -> float:
    """VmRSS / VmHWM of this process (anonymous and file-backed pages), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def model_folder(workdir: Path) -> Path:
    from tests.conftest import materialize_model_dir

    dst = workdir / "models"
    if not dst.exists():
        tmp = Path(tempfile.mkdtemp(dir=workdir))
        materialize_model_dir(REFERENCE / "model_dir", tmp)
        os.replace(tmp, dst)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[30, 120, 180])
    ap.add_argument("--cues-per-minute", type=float, default=2.0)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "dubsmith-film")
    ap.add_argument("--background", default="duck", choices=("duck", "replace"))
    ap.add_argument("--keep", action="store_true", help="keep each film's work folder")
    ap.add_argument("--child", nargs=4, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        video, out, work, models = args.child
        child(video, out, work, models, args.background)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    models = model_folder(args.workdir)
    rows = []
    for minutes in args.minutes:
        folder = args.workdir / f"film-{minutes:g}min"
        t0 = time.perf_counter()
        video, _ = make_film(folder, minutes, args.cues_per_minute)
        made = time.perf_counter() - t0
        work, out = folder / "work", folder / "dubbed.mkv"
        shutil.rmtree(work, ignore_errors=True)
        cmd = [sys.executable, __file__, "--background", args.background, "--child"]
        proc = subprocess.run(
            [*cmd, str(video), str(out), str(work), str(models)],
            capture_output=True, text=True, cwd=REPO,
        )  # fmt: skip
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FIGURES ")), None)
        if proc.returncode != 0 or line is None:
            print(f"{minutes:g} min: the dub failed\n{proc.stderr[-3000:]}")
            continue
        figures = json.loads(line[len("FIGURES ") :])
        figures.update(minutes=minutes, generate_s=made)
        rows.append(figures)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        print(
            f"{minutes:g} min: {figures['lines']} lines, wall {figures['wall_s']:.0f} s, "
            f"peak RSS {figures['peak_rss_mb']:.0f} MB; generating the film took {made:.0f} s; "
            "RSS by stage (MB): "
            + ", ".join(f"{k} {v:.0f}" for k, v in figures["stage_rss_mb"].items()),
            flush=True,
        )
    if not rows:
        return
    stages = list(dict.fromkeys(s for r in rows for s in r["stages"]))
    print("\n| stage | " + " | ".join(f"{r['minutes']:g} min" for r in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for s in stages:
        print(f"| {s} (s) | " + " | ".join(f"{r['stages'].get(s, 0):.1f}" for r in rows) + " |")
    print("| wall (s) | " + " | ".join(f"{r['wall_s']:.0f}" for r in rows) + " |")
    print(
        "| peak RSS, dub process (MB) | "
        + " | ".join(f"{r['peak_rss_mb']:.0f}" for r in rows)
        + " |"
    )
    if len(rows) > 1:
        print(f"\nwall {rows[-1]['minutes']:g} min / {rows[0]['minutes']:g} min: "
              f"{rows[-1]['wall_s'] / rows[0]['wall_s']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
