"""IndexTTS-2.5 next to IndexTTS2 at full size (random weights): seconds and decoder steps
per line, exact mode, the same lines, voice and flow model.

2.0 is built as bench/engine.py builds it (../shared/reference/keys: the real full-size
configs). 2.5 shares w2v-BERT, CAMPPlus, BigVGAN and the flow model (the very objects are
reused), and differs where 2.5 differs: the campplus-mode GPT with its language embedding
and the 25 codes/s EnhancedCodec. No full-size 2.5 config is public; its GPT is built with
the values third-party ports report (model_dim 1280, 24 layers, 20 heads, 60509 text
tokens, 1815 codes, 600 text tokens: unverified) and the codec with 2.0's widths plus the
stride-2 conv. The 2.5 text front-end runs on the tiny reference vocabulary (the real one is
not public either), which changes the prompt length by a few tokens, not the decode steps.

Exact mode forces the code count, so random weights decode exactly as many steps as real
ones (2.0: 50 per second, 2.5: 25 per second) and the flow model renders the same frames.

Usage:
    flock /tmp/dubsmith-heavy.lock .venv/bin/python bench/engine25.py [--quick]
    options: --durations 2,3,4,5 --steps 25 --prompt-s 6 --threads N --device cpu|cuda
             --only indextts2|indextts25 --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import engine as bench20  # noqa: E402  (bench/engine.py: the 2.0 full-size builder)

from models.config import GPTConfig, IndexTTSConfig  # noqa: E402
from models.contract import Sampling, SynthesisRequest  # noqa: E402
from models.indextts25.codec import EnhancedCodec  # noqa: E402
from models.indextts25.engine import IndexTTS25Engine, Parts25  # noqa: E402
from models.indextts25.gpt import T2S25  # noqa: E402
from models.indextts25.text import TextFrontEnd25  # noqa: E402
from models.indextts25.tokenizer import VOCAB_FILE  # noqa: E402

REFERENCE = REPO.parent / "shared" / "reference"
REFERENCE25 = REPO.parent / "shared" / "reference25"
# Reported by third-party ports for the released 2.5 gpt section (not verified).
GPT25 = {
    "model_dim": 1280,
    "layers": 24,
    "heads": 20,
    "number_text_tokens": 60509,
    "max_mel_tokens": 1815,
    "max_text_tokens": 600,
}
LINES = (
    ("Where have you been all this time?", "en"),
    ("I was waiting for the morning train, and it never came.", "en"),
    ("The train never came, did it?", "en"),
    ("No. So I walked the whole way home in the rain.", "en"),
)


def config25(cfg20: IndexTTSConfig) -> IndexTTSConfig:
    gpt: GPTConfig = dataclasses.replace(cfg20.gpt, **GPT25)
    raw = dict(cfg20.raw)
    raw["semantic_codec"] = {**cfg20.raw["semantic_codec"], "downsample_scale": 2}
    return dataclasses.replace(cfg20, gpt=gpt, raw=raw, version="2.5")


def build25(engine20, device: torch.device) -> IndexTTS25Engine:
    """The 2.5 engine from the 2.0 one's shared parts (moved, not copied)."""
    p = engine20.parts
    cfg = config25(p.cfg)
    with device:
        t2s = T2S25.build(cfg.gpt, seed=0, device=device)
        codec = EnhancedCodec(cfg.raw["semantic_codec"]).eval()
    mats = type(p.emotion_mats).from_tensors(
        torch.randn(sum(cfg.emo_num), 192),
        torch.randn(sum(cfg.emo_num), cfg.gpt.model_dim),
        cfg.emo_num,
    )
    parts = Parts25(
        cfg=cfg,
        text=TextFrontEnd25(REFERENCE25 / "checkpoints" / VOCAB_FILE, cfg.gpt.max_text_tokens),
        t2s=t2s,
        codec=codec,
        s2m=p.s2m,
        semantic=p.semantic,
        style=p.style,
        vocoder=p.vocoder,
        emotion_mats=mats,
        text_emotion=p.text_emotion,
        qwen_dir=p.qwen_dir,
        device=device,
    )
    return IndexTTS25Engine(parts)


def requests(handle, durations, steps: int, language: bool) -> list[SynthesisRequest]:
    sampling = dataclasses.replace(Sampling(), diffusion_steps=steps)
    out = []
    for i, d in enumerate(durations):
        text, lang = LINES[i % len(LINES)]
        out.append(
            SynthesisRequest(
                text,
                handle,
                duration_s=d,
                sampling=sampling,
                seed=i,
                language=lang if language else None,
            )
        )
    return out


def run_lines(engine, handle, durations, steps: int, language: bool) -> list[dict]:
    rows = []
    for req in requests(handle, durations, steps, language):
        t0 = time.perf_counter()
        (res,) = engine.synthesize([req])
        wall = time.perf_counter() - t0
        if not res.ok:
            print(f"  {engine.name}: {req.duration_s} s failed: {res.error}", flush=True)
        rows.append(
            {
                "duration_s": req.duration_s,
                "wall_s": round(wall, 3),
                "decoder_steps": int(res.tokens),
                "samples": None if res.audio is None else len(res.audio),
                "stages": {k: round(v, 3) for k, v in res.timings.items()},
            }
        )
        stages = " ".join(f"{k} {v:.2f}" for k, v in res.timings.items())
        print(
            f"  {engine.name:10s} {req.duration_s:4.1f} s line: {wall:7.2f} s, "
            f"{res.tokens:4d} decoder steps  ({stages})",
            flush=True,
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="2 and 3 s lines, 10 flow steps, 3 s prompt"
    )
    ap.add_argument("--durations", default="2,3,4,5")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--prompt-s", type=float, default=6.0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--only", choices=("indextts2", "indextts25"), default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.quick:
        args.durations, args.steps, args.prompt_s = "2,3", 10, 3.0
    if args.threads:
        torch.set_num_threads(args.threads)
    durations = [float(x) for x in args.durations.split(",")]
    device = torch.device(args.device)
    print(
        f"device {device}, {torch.get_num_threads()} threads, {args.steps} flow steps, "
        f"{args.prompt_s:.0f} s prompt, exact mode",
        flush=True,
    )
    t0 = time.perf_counter()
    engine20 = bench20.build_engine(REFERENCE, device=args.device)
    print(f"built 2.0 at full size in {time.perf_counter() - t0:.1f} s", flush=True)
    audio, rate = bench20.prompt_audio(args.prompt_s)
    report: dict = {"device": str(device), "steps": args.steps, "prompt_s": args.prompt_s}
    with torch.inference_mode():
        if args.only != "indextts25":
            handle = engine20.prepare_voice(audio, rate)
            report["indextts2"] = run_lines(engine20, handle, durations, args.steps, False)
        t0 = time.perf_counter()
        engine25 = build25(engine20, device)
        engine20.parts.t2s = engine20.parts.codec = None  # free 2.0's own parts
        del engine20
        gc.collect()
        print(f"built 2.5 at full size in {time.perf_counter() - t0:.1f} s", flush=True)
        if args.only != "indextts2":
            handle25 = engine25.prepare_voice(audio, rate)
            report["indextts25"] = run_lines(engine25, handle25, durations, args.steps, True)
    if "indextts2" in report and "indextts25" in report:
        print("\nline   2.0 s/line  steps   2.5 s/line  steps   2.5/2.0")
        for a, b in zip(report["indextts2"], report["indextts25"], strict=True):
            print(
                f"{a['duration_s']:4.1f} s {a['wall_s']:10.2f} {a['decoder_steps']:6d} "
                f"{b['wall_s']:12.2f} {b['decoder_steps']:6d}   {b['wall_s'] / a['wall_s']:6.2f}"
            )
        s20 = sum(r["wall_s"] for r in report["indextts2"])
        s25 = sum(r["wall_s"] for r in report["indextts25"])
        t20 = sum(r["stages"].get("t2s", 0) for r in report["indextts2"])
        t25 = sum(r["stages"].get("t2s", 0) for r in report["indextts25"])
        print(f"total  {s20:10.2f}        {s25:12.2f}          {s25 / s20:6.2f}")
        print(f"decoder (t2s) seconds: 2.0 {t20:.2f}, 2.5 {t25:.2f} ({t25 / max(t20, 1e-9):.2f}x)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
