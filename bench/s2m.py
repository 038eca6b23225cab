"""Flow model (S2M) benchmark: the quality presets and precisions at full size (random
weights), CPU, timed in turns so a noisy shared machine slows each alike.

    .venv/bin/python bench/s2m.py [--line-s 3] [--prompt-s 6] [--repeats 1] [--bf16]

Renders one line of --line-s seconds after a --prompt-s prompt with the `final` preset (25
steps, whole prompt) and the `draft` preset (10 steps, the prompt's first 3 s, no guidance), noise
injected so the line's frames start from the same noise in both; prints the seconds of
each, the speed-up, and the draft's mel SNR against final. --bf16 also times final with
the estimator stored in bf16 (and its mel SNR against fp32): on CPUs without native bf16
this is the measured reason the flow model stays fp32 there.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.config import load_config  # noqa: E402
from models.precision import snr_db  # noqa: E402
from models.s2m import S2M, S2MConfig  # noqa: E402
from models.units import frames_for  # noqa: E402

PRESETS = {"final": (25, None, 0.7), "draft": (10, 3.0, 0.0)}  # core/settings.py PRESET_SAMPLING


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reference", type=Path, default=REPO.parent / "shared" / "reference")
    ap.add_argument("--line-s", type=float, default=3.0)
    ap.add_argument("--prompt-s", type=float, default=6.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--bf16", action="store_true")
    args = ap.parse_args()
    cfg = load_config(args.reference / "keys" / "config.yaml")
    torch.manual_seed(0)
    s2m = S2M(S2MConfig.from_dict(cfg.raw)).eval()
    g = torch.Generator().manual_seed(1)
    P, F = frames_for(args.prompt_s), frames_for(args.line_s)
    C = s2m.length_regulator.channels
    prompt_cond = torch.randn(P, C, generator=g)
    prompt_mel = torch.randn(80, P, generator=g) - 5.0
    style = torch.randn(192, generator=g)
    target = torch.randn(F, C, generator=g)
    noise_prompt = torch.randn(80, P, generator=g)
    noise_line = torch.randn(80, F, generator=g)

    def render(model, preset: str) -> tuple[float, torch.Tensor]:
        steps, cut_s, guidance = PRESETS[preset]
        n = P if cut_s is None else min(P, frames_for(cut_s))
        noise = torch.cat([noise_prompt[:, :n], noise_line], dim=1)
        t0 = time.perf_counter()
        (mel,) = model.synthesize(
            [prompt_cond[:n]],
            [prompt_mel[:, :n]],
            [style],
            [target],
            steps=steps,
            cfg_rate=guidance,
            noise=[noise],
        )
        return time.perf_counter() - t0, mel

    models = {"fp32": s2m}
    if args.bf16:
        half = copy.deepcopy(s2m)
        half.store_estimator(torch.bfloat16)
        models["bf16"] = half
    runs = [("final", "fp32"), ("draft", "fp32")] + ([("final", "bf16")] if args.bf16 else [])
    best: dict[tuple[str, str], float] = {}
    mels: dict[tuple[str, str], torch.Tensor] = {}
    print(
        f"flow model, {args.line_s:.0f} s line ({F} frames) after a {args.prompt_s:.0f} s "
        f"prompt ({P} frames); {torch.get_num_threads()} threads",
        flush=True,
    )
    for _ in range(args.repeats):
        for preset, precision in runs:
            seconds, mel = render(models[precision], preset)
            best[(preset, precision)] = min(best.get((preset, precision), 1e9), seconds)
            mels[(preset, precision)] = mel
            print(f"  {preset:>5} {precision}: {seconds:.1f} s", flush=True)
    base = best[("final", "fp32")]
    for key in runs:
        snr = snr_db(mels[("final", "fp32")], mels[key])
        print(
            f"{key[0]:>5} {key[1]}: {best[key]:7.1f} s  {base / best[key]:5.2f}x  "
            f"mel SNR vs final fp32 {snr:6.1f} dB",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
