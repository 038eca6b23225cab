"""T2S decoding benchmark: full-size architecture (DIR/keys/config.yaml), random weights, CPU.

    .venv/bin/python bench/t2s.py [--reference ../shared/reference] [--steps 32] [--batches 1,4,16]
    .venv/bin/python bench/t2s.py --precision auto [--repeats 3]   # fp32 against the plan

Reports, per batch size: prefill time (prompt of 34 conds + ~40 text tokens), decode tokens/s
over --steps steps (all rows, exact mode so every row runs every step), and the process peak
RSS (resource.getrusage). Random weights make the codes meaningless, not the timings.

With --precision (auto, fp16, bf16) a second copy of the model keeps its decoder in the
plan's dtype (models/precision.py) and the two are timed in turns, --repeats times each;
the best time of each is printed with the speed-up, so a noisy shared machine slows both
alike. The codes of the two (greedy) are compared too.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.config import load_config  # noqa: E402
from models.contract import Sampling  # noqa: E402
from models.t2s import T2S, decode  # noqa: E402


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def build_random(cfg) -> T2S:
    with torch.device("meta"):
        model = T2S(cfg)
    model = model.to_empty(device="cpu")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or "ln_" in name or name.endswith("gamma"):
                p.fill_(1.0) if name.endswith(("weight", "gamma")) else p.zero_()
            else:
                p.normal_(0.0, 0.02, generator=g)
    for mod in model.modules():  # deterministic buffers (sinusoid tables)
        if hasattr(mod, "pe"):
            from models.t2s.conformer import sinusoid_table

            mod.pe.copy_(sinusoid_table(mod.pe.shape[1], mod.pe.shape[2]))
    return model.eval()


def compare(args) -> int:
    import copy

    from models.precision import plan_precision

    cfg = load_config(args.reference / "keys" / "config.yaml").gpt
    plan = plan_precision("cpu", args.precision)
    fp32 = build_random(cfg)
    half = copy.deepcopy(fp32)
    half.store_decoder(plan.t2s, plan.t2s_narrow_rows)
    print(f"plan: {plan.describe()}; torch threads {torch.get_num_threads()}", flush=True)
    settings = Sampling.greedy()
    print(
        f"{'batch':>5} {'model':>6} {'prefill s':>10} {'ms/step':>8} {'speed-up':>8} {'codes =':>8}"
    )
    for b in (int(x) for x in args.batches.split(",")):
        g = torch.Generator().manual_seed(b)
        conds = [0.02 * torch.randn(34, cfg.model_dim, generator=g) for _ in range(b)]
        texts = [
            torch.randint(2, cfg.number_text_tokens, (args.text_tokens,), generator=g)
            for _ in range(b)
        ]
        best: dict[str, tuple[float, float]] = {}
        codes: dict[str, list] = {}
        for _ in range(args.repeats):
            for name, model in (("fp32", fp32), ("plan", half)):
                tm: dict[str, float] = {}
                out = decode(model, conds, texts, settings, [args.steps + 1] * b, timings=tm)
                step_ms = 1000 * tm["decode_s"] / tm["steps"]
                old = best.get(name, (float("inf"), float("inf")))
                best[name] = (min(old[0], tm["prefill_s"]), min(old[1], step_ms))
                codes[name] = [d.codes for d in out]
        same = sum(
            int((a == c).sum()) for a, c in zip(codes["fp32"], codes["plan"], strict=True)
        ) / sum(a.numel() for a in codes["fp32"])
        for name in ("fp32", "plan"):
            speed = best["fp32"][1] / best[name][1]
            print(
                f"{b:>5} {name:>6} {best[name][0]:>10.2f} {best[name][1]:>8.1f} "
                f"{speed:>7.2f}x {100 * same:>7.1f}%",
                flush=True,
            )
    print(f"peak RSS {peak_rss_gib():.2f} GiB (both models)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reference", type=Path, default=REPO.parent / "shared" / "reference")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--batches", default="1,4,16")
    ap.add_argument("--text-tokens", type=int, default=40)
    ap.add_argument("--beams", type=int, default=1)
    ap.add_argument("--precision", default=None, help="compare fp32 with this plan")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.precision:
        return compare(args)
    cfg = load_config(args.reference / "keys" / "config.yaml").gpt
    t0 = time.perf_counter()
    model = build_random(cfg)
    print(
        f"built full-size T2S ({sum(p.numel() for p in model.parameters()) / 1e6:.0f} M params) "
        f"in {time.perf_counter() - t0:.1f} s; torch threads {torch.get_num_threads()}; "
        f"peak RSS {peak_rss_gib():.2f} GiB"
    )
    settings = Sampling(num_beams=args.beams)
    print(
        f"{'batch':>5} {'prefill s':>10} {'decode s':>9} {'tok/s':>8} {'ms/step':>8} {'peak GiB':>9}"
    )
    for b in (int(x) for x in args.batches.split(",")):
        g = torch.Generator().manual_seed(b)
        conds = [0.02 * torch.randn(34, cfg.model_dim, generator=g) for _ in range(b)]
        texts = [
            torch.randint(2, cfg.number_text_tokens, (args.text_tokens,), generator=g)
            for _ in range(b)
        ]
        seeds = list(range(b))
        tm: dict[str, float] = {}
        decode(model, conds, texts, settings, [args.steps + 1] * b, seeds, timings=tm)
        t_prefill, t_decode, steps = tm["prefill_s"], tm["decode_s"], int(tm["steps"])
        print(
            f"{b:>5} {t_prefill:>10.2f} {t_decode:>9.2f} {b * steps / t_decode:>8.1f} "
            f"{1000 * t_decode / steps:>8.0f} {peak_rss_gib():>9.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
