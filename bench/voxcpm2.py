"""Benchmark of the VoxCPM2 engine (models/voxcpm2/) on this machine, random weights.

Builds a VoxCPM2 folder in the `voxcpm` package's layout (tests/voxcpm2_fixture.py) with
random weights, tiny (`--size tiny`, seconds) or at the released sizes (`--size full`,
~2.3B weights in bf16 as released: ~4.6 GB on disk, ~10 GB of memory while loading),
prepares one voice from a noise prompt and renders 2/3/4/5 s lines in exact mode through
the engine, fitting included. Prints per line: seconds, candidates rendered, decoding
steps, seconds per step, and the fit; beside them, IndexTTS2 measured live in the same run
on the same lines and prompt, at the same size: the tiny reference models
(../shared/reference/model_dir) beside tiny VoxCPM2, full-size random models
(bench/engine.py's builders, or --indextts2-dir, e.g. a bench/fullsize_folder.py folder)
beside full-size VoxCPM2. Nothing is quoted from an earlier run.

Random weights decode as much per step as real ones, but their stop head is random: a
line's step count (and so the candidates the fitter renders) is not a real model's. The
seconds per step are representative; "per line at 1 candidate" multiplies them by the
steps one well-paced take needs (the slot's length in steps).

Usage:
    .venv/bin/python bench/voxcpm2.py                 # tiny, then full size if memory allows
    .venv/bin/python bench/voxcpm2.py --size tiny     # or full; --lines 2,3,4,5
    options: --threads N --timesteps N --json out.json --folder DIR (reuse a built folder)
             --reference DIR (../shared/reference)  --indextts2-dir DIR  --no-indextts2
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

PROMPT_S, PROMPT_RATE = 6.0, 16000
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


def _prompt() -> np.ndarray:
    """The one voice prompt both engines clone: 6 s of noise (seeded)."""
    rng = np.random.default_rng(0)
    return (0.1 * rng.standard_normal(int(PROMPT_S * PROMPT_RATE))).astype(np.float32)


def indextts2_live(size: str, lines: list[float], reference: Path, folder: Path | None) -> dict:
    """IndexTTS2 (product defaults, exact mode) on the same lines and prompt, now: seconds
    per line, one synthesize call each, after one warm-up line."""
    from models.indextts2.engine import IndexTTS2Engine

    t0 = time.perf_counter()
    if folder is not None:
        engine = IndexTTS2Engine.load(folder, device="cpu")
    elif size == "tiny":
        from tests.conftest import materialize_model_dir

        tiny = Path(tempfile.mkdtemp(prefix="dubsmith-bench-indextts2-"))
        engine = IndexTTS2Engine.load(materialize_model_dir(reference / "model_dir", tiny))
    else:
        from bench.engine import build_engine

        engine = build_engine(reference)
    load_s = time.perf_counter() - t0
    voice = engine.prepare_voice(_prompt(), PROMPT_RATE)
    warm = SynthesisRequest(text=TEXTS[2.0], voice=voice, duration_s=2.0, seed=1)
    engine.synthesize([warm])
    out = {}
    for d in lines:
        req = SynthesisRequest(text=TEXTS.get(d, TEXTS[3.0]), voice=voice, duration_s=d, seed=1)
        t0 = time.perf_counter()
        res = engine.synthesize([req])[0]
        assert res.ok, res.error
        out[d] = round(time.perf_counter() - t0, 3)
    print(f"IndexTTS2 {size} ({folder or 'built'}): load {load_s:.1f} s, lines {out}")
    return out


def run(
    size: str, folder: Path, lines: list[float], timesteps: int, indextts2: dict[float, float]
) -> dict:
    import torch

    t0 = time.perf_counter()
    if size == "full":
        torch.set_default_dtype(torch.bfloat16)  # the package builds, then casts: skip a copy
    try:
        engine = VoxCPM2Engine.load(folder, "cpu")
    finally:
        torch.set_default_dtype(torch.float32)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    voice = engine.prepare_voice(_prompt(), PROMPT_RATE)
    voice_s = time.perf_counter() - t0
    print(f"\n== VoxCPM2 {size}: load {load_s:.1f} s, voice (6 s prompt) {voice_s:.2f} s")
    sampling = Sampling(diffusion_steps=timesteps)
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
        ref = indextts2.get(d)
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
    ap.add_argument("--reference", type=Path, default=REPO.parent / "shared" / "reference")
    ap.add_argument("--indextts2-dir", type=Path, default=None, help="a folder to load instead")
    ap.add_argument("--no-indextts2", action="store_true", help="VoxCPM2 only")
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
            live = {}
            if not args.no_indextts2:
                live = indextts2_live(size, lines, args.reference, args.indextts2_dir)
            results.append(run(size, build(size, folder), lines, args.timesteps, live))
    print(f"\nthreads {args.threads}; IndexTTS2 measured in this run (same lines and prompt)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
