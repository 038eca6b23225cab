"""GPU readiness benchmark: the full-size engine (random weights) on CUDA, one command.

    .venv/bin/python bench/gpu.py                  # CUDA: fp16 and bf16 x batch 1 / 8 / 32
    .venv/bin/python bench/gpu.py --small          # CPU smoke: the tiny reference models
    options: --precisions bf16,fp16 --batches 1,8,32 --line-s 3 --steps 25 --prompt-s 6
             --device cuda:0 --json out.json

For each precision the models are built at full size directly on the device (random
weights drawn there: seconds), stored in that precision (models/precision.py: T2S decoder
and flow model in half, BigVGAN fp32), one voice is prepared from a 6 s prompt, then:
- fixed cost per line: one 1 s and one 4 s line alone; the line cost is a + b * seconds,
  a is the fixed part (launches, prefill, the prompt's frames in the flow model);
- batches of 1 / 8 / 32 lines of --line-s seconds in one synthesize call (engine
  max_batch set to the batch): wall seconds, seconds per line, RTF (wall / audio seconds),
  per-stage seconds per line, peak VRAM (torch.cuda.max_memory_allocated) per run.
Exact mode (T tokens, F frames) decodes and diffuses exactly as much with random weights as
with real ones, so the timings are representative; the audio is noise. Budget: well under
5 minutes on one recent GPU (the build and the 32-line batches dominate).
--small runs the same code path on the CPU with the tiny reference models
(../shared/reference/model_dir), fp32 and auto (the CPU plan), batches 1 and 2: a smoke
check that this script works, not a figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.contract import Sampling, SynthesisRequest  # noqa: E402
from models.precision import plan_precision  # noqa: E402

REFERENCE = REPO.parent / "shared" / "reference"
TEXT = "I was waiting for the morning train, and it never came."
STAGES = ("emotion", "text", "t2s", "latent", "s2m", "vocoder")


def synthetic_prompt(seconds: float, rate: int = 24000) -> tuple[np.ndarray, int]:
    """A voiced, vowel-like signal (harmonics of a gliding pitch, syllable envelope, a
    little noise): no espeak-ng needed on a bare GPU machine; random weights do not care."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    noise = np.random.default_rng(0).normal(0, 0.02, t.size)
    audio = 0.3 * voice * envelope / np.abs(voice).max() + noise
    return audio.astype(np.float32), rate


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _vram_gb(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 1024**3 if device.type == "cuda" else 0.0


def _reset_vram(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def build(args, device: torch.device, precision: str):
    from models.indextts2.engine import IndexTTS2Engine

    if args.small:
        from tests.conftest import materialize_model_dir

        folder = Path(args.work) / "model_dir"
        if not (folder / "indextts2").is_dir():
            materialize_model_dir(args.reference / "model_dir", folder)
        engine = IndexTTS2Engine.load(folder, device=device, precision="fp32")
    else:
        sys.path.insert(0, str(REPO / "bench"))
        from engine import build_engine  # bench/engine.py: the full-size random models

        engine = build_engine(args.reference, str(device))
    engine.apply_precision(plan_precision(device, precision))
    return engine


def requests(handle, n: int, seconds: float, steps: int, seed: int = 0):
    sampling = dataclasses.replace(Sampling(), diffusion_steps=steps)
    return [
        SynthesisRequest(TEXT, handle, duration_s=seconds, sampling=sampling, seed=seed + i)
        for i in range(n)
    ]


def timed(engine, reqs, device) -> tuple[float, list]:
    _sync(device)
    t0 = time.perf_counter()
    results = engine.synthesize(reqs)
    _sync(device)
    wall = time.perf_counter() - t0
    bad = [r.error for r in results if not r.ok]
    if bad:
        print(f"  {len(bad)} failed: {bad[0]}", flush=True)
    return wall, results


def run_precision(args, device: torch.device, precision: str) -> dict:
    t0 = time.perf_counter()
    engine = build(args, device, precision)
    _sync(device)
    built = time.perf_counter() - t0
    audio, rate = synthetic_prompt(args.prompt_s)
    t0 = time.perf_counter()
    handle = engine.prepare_voice(audio, rate)
    _sync(device)
    voice_s = time.perf_counter() - t0
    print(
        f"[{precision}] {engine.precision.describe()}; built in {built:.1f} s, voice "
        f"({args.prompt_s:.0f} s prompt) {voice_s:.2f} s",
        flush=True,
    )
    timed(engine, requests(handle, 1, 1.0, args.steps), device)  # warm-up (kernels, caches)
    short, _ = timed(engine, requests(handle, 1, 1.0, args.steps, seed=100), device)
    long, _ = timed(engine, requests(handle, 1, 4.0, args.steps, seed=200), device)
    per_s = (long - short) / 3.0
    fixed = short - per_s
    print(
        f"[{precision}] one line alone: 1 s {short:.2f} s, 4 s {long:.2f} s -> fixed cost "
        f"{fixed:.2f} s per line + {per_s:.2f} s per audio second",
        flush=True,
    )
    out = {
        "precision": precision,
        "plan": engine.precision.label(),
        "build_s": built,
        "voice_s": voice_s,
        "fixed_s_per_line": fixed,
        "s_per_audio_s": per_s,
        "batches": [],
    }
    print(
        f"{'batch':>5} {'wall s':>7} {'s/line':>7} {'RTF':>6} {'VRAM GB':>8} "
        + " ".join(f"{s:>7}" for s in STAGES),
        flush=True,
    )
    for batch in args.batches:
        engine.max_batch = batch
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
        _reset_vram(device)
        wall, results = timed(engine, requests(handle, batch, args.line_s, args.steps), device)
        audio_s = batch * args.line_s
        stage = {s: sum(r.timings.get(s, 0.0) for r in results) / batch for s in STAGES}
        vram = _vram_gb(device)
        print(
            f"{batch:>5} {wall:>7.2f} {wall / batch:>7.3f} {wall / audio_s:>6.3f} {vram:>8.2f} "
            + " ".join(f"{stage[s]:>7.3f}" for s in STAGES),
            flush=True,
        )
        out["batches"].append(
            {
                "batch": batch,
                "wall_s": wall,
                "s_per_line": wall / batch,
                "rtf": wall / audio_s,
                "vram_gb": vram,
                "stage_s_per_line": stage,
            }
        )
    del engine, handle
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--small", action="store_true", help="CPU smoke check, tiny models")
    ap.add_argument("--device", default=None, help="default: cuda (cpu with --small)")
    ap.add_argument("--precisions", default=None, help="default: bf16,fp16 (fp32,auto small)")
    ap.add_argument("--batches", default=None, help="default: 1,8,32 (1,2 with --small)")
    ap.add_argument("--line-s", type=float, default=3.0)
    ap.add_argument("--steps", type=int, default=None, help="flow steps (25; 4 with --small)")
    ap.add_argument("--prompt-s", type=float, default=6.0)
    ap.add_argument("--reference", type=Path, default=REFERENCE)
    ap.add_argument("--work", type=Path, default=Path("/tmp/dubsmith-bench-gpu"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    device = torch.device(args.device or ("cpu" if args.small else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here; run with --small for the CPU smoke check", file=sys.stderr)
        return 2
    precisions = (args.precisions or ("fp32,auto" if args.small else "bf16,fp16")).split(",")
    args.batches = [
        int(b) for b in (args.batches or ("1,2" if args.small else "1,8,32")).split(",")
    ]
    args.steps = args.steps or (4 if args.small else 25)
    if args.small:
        args.line_s = min(args.line_s, 1.0)
        args.prompt_s = min(args.prompt_s, 2.0)
    args.work.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {device} ({name}); torch {torch.__version__}", flush=True)
    t0 = time.perf_counter()
    report = {"device": str(device), "name": name, "runs": []}
    for precision in precisions:
        if device.type == "cuda" and precision == "bf16" and not torch.cuda.is_bf16_supported():
            print("[bf16] not supported on this GPU: skipped", flush=True)
            continue
        report["runs"].append(run_precision(args, device, precision))
    report["total_s"] = time.perf_counter() - t0
    print(f"total {report['total_s']:.1f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
