"""Lines per second on a Ray pool of 1 and 2 local workers, and the expected scaling on N
GPU nodes worked out on paper from the measured per-line costs.

Renders the same set of lines (two voices, 0.8-2.3 s spans, exact mode) three ways: in this
process with the engine one line at a time (the per-line cost), then through RemotePool
(models/pool) on a local Ray runtime with 1 and with 2 workers. The Ray overhead per line
is the 1-worker wall time per line less the in-process cost. This machine is shared and has
2 cores: 2 workers there compete with each other and with everyone else, so read the
2-worker figure as a floor.

Usage:
    .venv/bin/python bench/cluster.py                      # tiny reference models, 12 lines
    options: --model-dir DIR (a full-size folder: bench/fullsize_folder.py) --lines N
             --steps N (flow steps) --gpu-line-s S (one line's render on one GPU, for the
             paper model; default: the issue's RTX 4090 real-time factor 0.33 x 3 s lines)
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.contract import Sampling, SynthesisRequest  # noqa: E402
from models.pool import PoolSettings, RemotePool, connect  # noqa: E402
from models.pool.connect import disconnect  # noqa: E402

IN_FLIGHT = 8  # DubOptions.batch_size: the lines a dub hands the engine at once
FILM_LINES = 900  # 45 minutes of dialogue in 3 s lines
STAGES = ("text", "emotion", "t2s", "latent", "s2m", "vocoder")  # SynthesisResult.timings


def _model_dir(given: Path | None) -> Path:
    if given:
        return given
    from tests.conftest import REFERENCE, materialize_model_dir

    if REFERENCE is None:
        sys.exit("no reference models: give --model-dir")
    return materialize_model_dir(REFERENCE / "model_dir", Path(tempfile.mkdtemp()))


def _requests(voices, n: int, steps: int) -> list[SynthesisRequest]:
    words = "where have you been all this time waiting for the morning train".split()
    return [
        SynthesisRequest(
            " ".join(words[i % 5 : i % 5 + 3 + i % 4]).capitalize() + ".",
            voices[i % 2],
            duration_s=0.8 + 0.5 * (i % 4),
            sampling=Sampling(diffusion_steps=steps),
            seed=i,
        )
        for i in range(n)
    ]


def _prompts():
    from tests import mediagen

    a = mediagen.speak("Good evening, I am the first voice of this test.", "en-us")
    b = mediagen.speak("And this is somebody else entirely speaking.", "en-gb+f3")
    return [(a, mediagen.RATE), (b, mediagen.RATE)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", type=Path, default=None)
    ap.add_argument("--lines", type=int, default=12)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--gpu-line-s", type=float, default=0.33 * 3.0)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)  # as each Ray worker (OMP_NUM_THREADS=1 for a 1-CPU actor)
    folder = _model_dir(args.model_dir)
    prompts = _prompts()

    from models.indextts2.engine import IndexTTS2Engine

    engine = IndexTTS2Engine.load(folder, device="cpu")
    voices = [engine.prepare_voice(a, r) for a, r in prompts]
    requests = _requests(voices, args.lines, args.steps)
    engine.synthesize(requests[:1])  # warm-up
    t0 = time.perf_counter()
    for r in requests:
        engine.synthesize([r])
    local_s = (time.perf_counter() - t0) / len(requests)
    print(f"in process, one line at a time: {local_s:.3f} s/line ({1 / local_s:.2f} lines/s)")
    del engine

    connect("local", num_cpus=2)
    rates = {}
    overhead = 0.0
    try:
        for workers in (1, 2):
            t0 = time.perf_counter()
            pool = RemotePool("indextts2", folder, "cpu", None, PoolSettings(workers=workers))
            start_s = time.perf_counter() - t0
            pv = [pool.prepare_voice(a, r) for a, r in prompts]
            reqs = _requests(pv, args.lines, args.steps)
            pool.synthesize(reqs[:workers])  # warm-up, as in process
            t0 = time.perf_counter()
            results = pool.synthesize(reqs)
            wall = time.perf_counter() - t0
            assert all(r.ok for r in results)
            rates[workers] = len(reqs) / wall
            if workers == 1:  # what the worker spent rendering, against the driver's wall
                inside = sum(sum(r.timings.get(k, 0.0) for k in STAGES) for r in results)
                overhead = max(0.0, wall - inside) / len(reqs)
            print(
                f"Ray, {workers} local worker(s): {rates[workers]:.2f} lines/s "
                f"({wall / len(reqs):.3f} s/line; workers started in {start_s:.0f} s; "
                f"lines per worker {[n for _, n in pool.lines_per_worker()]})"
            )
            pool.close()
    finally:
        disconnect()
    print(
        f"Ray overhead per line (1 worker's wall less its engine's stage times): "
        f"{overhead * 1000:.0f} ms"
    )
    print(f"2 workers / 1 worker on this shared 2-core machine: {rates[2] / rates[1]:.2f}x")

    g = args.gpu_line_s
    print(
        f"\nOn paper, N GPU nodes (1 worker each), {g:.2f} s per line on one GPU, "
        f"{overhead * 1000:.0f} ms Ray overhead per task, a dub handing {IN_FLIGHT} lines "
        "at a time (each chunk ends with its slowest worker):"
    )
    print(f"{'N':>4} {'lines/s':>8} {'speed-up':>8} {'45-min film':>12}")
    base = None
    for n in (1, 2, 4, 8, 16):
        per_task = max(1, IN_FLIGHT // n)  # GPU tasks are cut so a chunk reaches each worker
        tasks = math.ceil(IN_FLIGHT / per_task)
        rounds = math.ceil(tasks / n)
        chunk_s = rounds * (per_task * g + overhead)
        rate = IN_FLIGHT / chunk_s
        base = base or rate
        film_h = FILM_LINES / rate / 3600
        print(f"{n:>4} {rate:>8.2f} {rate / base:>7.1f}x {film_h:>10.2f} h")
    print(
        f"Beyond {IN_FLIGHT} nodes nothing is gained: a dub keeps {IN_FLIGHT} lines in flight "
        "(its render chunk); batching gains on a GPU (same-shape lines) come on top."
    )


if __name__ == "__main__":
    main()
