"""Benchmark of the VoxCPM2 engine (models/voxcpm2/) on this machine, random weights.

Builds a VoxCPM2 folder in the `voxcpm` package's layout (tests/voxcpm2_fixture.py) with
random weights, tiny (`--size tiny`, seconds) or at the released sizes (`--size full`,
~2.3B weights in bf16 as released: ~4.6 GB on disk, ~10 GB of memory while loading),
prepares one voice from a noise prompt and renders 2/3/4/5 s lines in exact mode through
the engine, fitting included. Prints per line: seconds, candidates rendered, decoding
steps, seconds per step, and the fit; then IndexTTS2's figures for the same lines
(measured by bench/engine.py on this CPU, DESIGN.md "Where the time goes") beside them.

Random weights decode as much per step as real ones, but their stop head is random: a
line's step count (and so the candidates the fitter renders) is not a real model's. The
seconds per step are representative; "per line at 1 candidate" multiplies them by the
steps one well-paced take needs (the slot's length in steps).

Usage:
    .venv/bin/python bench/voxcpm2.py                 # tiny, then full size if memory allows
    .venv/bin/python bench/voxcpm2.py --size tiny     # or full; --lines 2,3,4,5
    options: --threads N --timesteps N --json out.json --folder DIR (reuse a built folder)
Run full size under `flock /tmp/dubsmith-heavy.lock`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.contract import Sampling, SynthesisRequest  # noqa: E402
from models.voxcpm2.engine import VoxCPM2Engine  # noqa: E402
from tests.voxcpm2_fixture import make_voxcpm2_folder  # noqa: E402

# IndexTTS2 (ours, product defaults, full size random weights, this 2-core CPU) for
# 2/3/4/5 s lines with a 6 s prompt: DESIGN.md, measured with bench/engine.py.
INDEXTTS2_S = {2.0: 35.3, 3.0: 42.5, 4.0: 51.0, 5.0: 56.8}
TEXTS = {
    2.0: "Guten Morgen, mein Freund.",
    3.0: "Ich habe den ganzen Tag auf dich gewartet.",
    4.0: "Der Zug kam nie an, also bin ich zu Fuß nach Hause gegangen.",
    5.0: "Wir sollten etwas essen, bevor die Geschäfte heute Abend schließen.",
}


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def _available_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1e6
    except OSError:
        pass
    return 0.0


def build(size: str, folder: Path) -> Path:
    import torch

    if (folder / "voxcpm2" / "config.json").is_file():
        return folder
    t0 = time.perf_counter()
    if size == "full":
        # Built in bf16 (the released dtype): fp32 first would need twice the memory.
        torch.set_default_dtype(torch.bfloat16)
        try:
            make_voxcpm2_folder(folder / "voxcpm2", full=True)
        finally:
            torch.set_default_dtype(torch.float32)
        config = json.loads((folder / "voxcpm2" / "config.json").read_text())
        config["dtype"] = "bfloat16"
        (folder / "voxcpm2" / "config.json").write_text(json.dumps(config, indent=2))
    else:
        make_voxcpm2_folder(folder / "voxcpm2")
    print(f"built {size} folder in {time.perf_counter() - t0:.1f} s: {folder / 'voxcpm2'}")
    return folder


def run(size: str, folder: Path, lines: list[float], timesteps: int) -> dict:
    import torch

    t0 = time.perf_counter()
    if size == "full":
        torch.set_default_dtype(torch.bfloat16)  # the package builds, then casts: skip a copy
    try:
        engine = VoxCPM2Engine.load(folder, "cpu")
    finally:
        torch.set_default_dtype(torch.float32)
    load_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    prompt = (0.1 * rng.standard_normal(6 * 16000)).astype(np.float32)
    t0 = time.perf_counter()
    voice = engine.prepare_voice(prompt, 16000)
    voice_s = time.perf_counter() - t0
    print(f"\n== VoxCPM2 {size}: load {load_s:.1f} s, voice (6 s prompt) {voice_s:.2f} s")
    sampling = Sampling(diffusion_steps=timesteps) if timesteps != 10 else Sampling()
    rows = []
    header = f"{'line':>5} {'s/line':>8} {'cands':>5} {'steps':>6} {'s/step':>7}"
    print(header + f" {'1-take s':>9} {'fit':>8} {'stretch':>8} {'IndexTTS2 s':>12}")
    for d in lines:
        req = SynthesisRequest(
            text=TEXTS.get(d, TEXTS[3.0]), voice=voice, duration_s=d, sampling=sampling, seed=1
        )
        t0 = time.perf_counter()
        res = engine.synthesize([req])[0]
        wall = time.perf_counter() - t0
        assert res.ok, res.error
        steps = max(res.tokens, 1)
        per_step = res.timings["generate"] / steps
        one_take = per_step * d * engine.sample_rate / engine.step_samples
        ref = INDEXTTS2_S.get(d)
        rows.append(
            {
                "line_s": d,
                "wall_s": round(wall, 3),
                "candidates": res.fit["candidates"],
                "steps": steps,
                "s_per_step": round(per_step, 4),
                "one_take_s": round(one_take, 3),
                "fit": res.fit,
                "indextts2_s": ref,
            }
        )
        print(
            f"{d:>5.1f} {wall:>8.2f} {res.fit['candidates']:>5} {steps:>6} {per_step:>7.3f}"
            f" {one_take:>9.2f} {res.fit['method']:>8} {res.fit['stretch']:>+8.3f}"
            f" {ref if ref is not None else '-':>12}"
        )
    print(f"peak RSS {_peak_rss_gb():.1f} GB")
    return {"size": size, "load_s": load_s, "voice_s": voice_s, "lines": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=("tiny", "full", "both"), default="both")
    ap.add_argument("--lines", default="2,3,4,5")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timesteps", type=int, default=10, help="diffusion steps per step (10)")
    ap.add_argument("--folder", type=Path, default=None, help="where to build (kept)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    lines = [float(x) for x in args.lines.split(",")]
    sizes = ["tiny", "full"] if args.size == "both" else [args.size]
    results = []
    with tempfile.TemporaryDirectory(prefix="dubsmith-bench-voxcpm2-") as tmp:
        for size in sizes:
            if size == "full" and args.size == "both" and _available_gb() < 11:
                print(f"\nfull size skipped: {_available_gb():.1f} GB available, ~11 needed")
                continue
            folder = (args.folder or Path(tmp)) / size
            results.append(run(size, build(size, folder), lines, args.timesteps))
    print(f"\nthreads {args.threads}; IndexTTS2 figures: DESIGN.md (bench/engine.py, 2-core CPU)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
