"""Benchmark of dialogue / background separation (core/audio/separation.py), random weights.

Builds an HTDemucs network of the published htdemucs shape (demucs' default arguments:
4 sources, 48 channels, depth 4, 5 cross-transformer layers; random weights, so the
stems are meaningless but the work is the real one), saves it in the model folder's
layout, and separates a generated stereo 48 kHz soundtrack of --seconds through the
product's path (find_model, Separator.load, Separator.separate with its 30 s windows).

Usage: .venv/bin/python bench/separation.py [--seconds 60] [--device cpu|cuda]
                                           [--window 30] [--threads N]
Prints load and separation wall seconds, the real-time factor, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.audio.separation import Separator, find_model  # noqa: E402

RATE = 48000


def _save_htdemucs(model_dir: Path) -> int:
    import torch
    from demucs.htdemucs import HTDemucs
    from safetensors.torch import save_file

    torch.manual_seed(0)
    sources = ["drums", "bass", "other", "vocals"]
    net = HTDemucs(sources=sources, segment=Fraction(39, 5))
    folder = model_dir / "separation"
    folder.mkdir(parents=True)
    kwargs = {
        "sources": sources,
        "segment": {"_type": "fraction", "numerator": 39, "denominator": 5},
    }
    meta = {"klass": "demucs.htdemucs.HTDemucs", "args": "[]", "kwargs": json.dumps(kwargs)}
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(folder / "955717e8.safetensors"), metadata=meta)
    (folder / "htdemucs.yaml").write_text("models: ['955717e8']\n")
    return sum(p.numel() for p in net.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--window", type=float, default=30.0, help="seconds per window")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="dubsmith-bench-sep-") as tmp:
        params = _save_htdemucs(Path(tmp))
        t0 = time.perf_counter()
        sep = Separator.load(find_model(Path(tmp)), args.device)
        load_s = time.perf_counter() - t0
    n = int(args.seconds * RATE)
    rng = np.random.default_rng(0)
    t = np.arange(n) / RATE
    master = 0.2 * np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], 1)
    master = (master + 0.05 * rng.standard_normal((n, 2))).astype(np.float32)
    t0 = time.perf_counter()
    dialogue, background = sep.separate(master, RATE, window_s=args.window)
    run_s = time.perf_counter() - t0
    assert dialogue.shape == background.shape == master.shape
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"htdemucs shape, random weights: {params / 1e6:.1f} M parameters")
    print(f"device {args.device}, threads {torch.get_num_threads()}, window {args.window:g} s")
    print(f"load        {load_s:7.2f} s")
    print(f"separate    {run_s:7.2f} s for {args.seconds:g} s of stereo 48 kHz audio")
    print(f"real time   {run_s / args.seconds:7.3f} x (seconds of work per second of audio)")
    print(f"peak RSS    {rss:7.0f} MiB")


if __name__ == "__main__":
    main()
