"""Benchmark of the IndexTTS2 engine at full size (random weights) on the CPU.

Builds every model from the full-size configs (../shared/reference/keys/config.yaml for
T2S, S2M and the codec; the w2v-BERT 2.0 and BigVGAN v2 22 kHz configs recorded in keys/)
with random weights, prepares one voice from a spoken prompt, then renders batches of
2-4 s lines in exact mode and prints seconds per line with the per-stage split:

    features  voice preparation (w2v-BERT x2, codec, CAMPPlus, mel, latents), once per voice
    emotion   per line: the line's own reference clip through w2v-BERT (the dub's default)
    text      normalisation + BPE;  t2s  decoding;  latent  GPT latent pass
    s2m       CFM/DiT;  vocoder  BigVGAN

Random weights decode and diffuse exactly as much as real ones in exact mode (T tokens,
F frames), so the timings are representative; the audio is noise.

Usage:
    .venv/bin/python bench/engine.py                 # 1, 4, 16 lines x 25 and 10 steps
    .venv/bin/python bench/engine.py --quick         # 1 and 4 lines, 10 steps, 3 s prompt
    .venv/bin/python bench/engine.py --issue-table   # the issue 13 table (see below)
    options: --lines 1,4,16 --steps 25,10 --prompt-s 6 --threads N --batch N
             --emotion reference|voice --precision auto|fp32|bf16|fp16 --json out.json
             --model-dir DIR: load a folder the way a dub does (bench/fullsize_folder.py
             writes a full-size random one) instead of building fp32 models: the peak
             RSS is then the product's

--issue-table renders the 2 / 3 / 4 / 5 s lines of issue 13 (6 s prompt, exact mode):
  1. precision: the lines greedy in fp32, then in the chosen plan (weights stored once in
     it), per stage seconds and speed-up, and the error against fp32 (codes, latent, mel
     and wave SNR with the same codes; models/precision_check.py);
  2. at the product defaults in that plan: seconds per line one at a time, the sum, of
     which the flow model, and the 4 lines in one synthesize call;
  3. the draft preset: seconds per line, the sum, and its mel SNR against final (greedy,
     same codes).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.config import IndexTTSConfig, load_config  # noqa: E402
from models.contract import (  # noqa: E402
    EmotionSource,
    EmotionSpec,
    Sampling,
    SynthesisRequest,
)
from models.emotion import EmotionMatrices, TextEmotion  # noqa: E402
from models.indextts2.engine import IndexTTS2Engine  # noqa: E402
from models.indextts2.parts import Parts  # noqa: E402
from models.s2m import S2M, S2MConfig  # noqa: E402
from models.semantic import HIDDEN_LAYER, SemanticCodec, SemanticEncoder  # noqa: E402
from models.speaker import CAMPPlus, SpeakerStyle  # noqa: E402
from models.t2s import T2S  # noqa: E402
from models.text import TextFrontEnd  # noqa: E402
from models.vocoder import Vocoder, right_reach_frames  # noqa: E402
from tests import mediagen  # noqa: E402

if TYPE_CHECKING:
    from bigvgan import BigVGAN
    from bigvgan.env import AttrDict
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

REFERENCE = REPO.parent / "shared" / "reference"
TEXTS = (
    "Where have you been all this time?",
    "I was waiting for the morning train, and it never came.",
    "The train never came, did it?",
    "No. So I walked the whole way home in the rain.",
    "Then we should eat something before we talk.",
    "Tell me everything, and start from the beginning.",
)
DURATIONS = (2.0, 3.0, 4.0, 2.5, 3.5)
ISSUE_DURATIONS = (2.0, 3.0, 4.0, 5.0)
# The presets of core/settings.py (PRESET_SAMPLING), repeated here so the bench needs no core.
PRESETS = {"final": (25, None, 0.7), "draft": (10, 3.0, 0.0)}


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def reset_peak_rss() -> bool:
    """Linux: restart the peak-RSS count (VmHWM) so a phase's own peak can be read."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def phase_peak_gb() -> float:
    """VmHWM (peak RSS since the last reset_peak_rss) in GB; the process peak elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return rss_gb()


def build_engine(reference: Path, device: str = "cpu") -> IndexTTS2Engine:
    """Every model at full size with random weights, made directly on `device` (on a GPU
    the random draws happen there: seconds instead of minutes)."""
    dev = torch.device(device)
    with dev:
        return _build_engine(reference, dev)


def _build_engine(reference: Path, dev: torch.device) -> IndexTTS2Engine:
    keys = reference / "keys"
    cfg = full_config(keys)
    # The builders draw from the global stream in this order (bench figures since the start).
    torch.manual_seed(0)
    t2s = build_t2s(cfg, seed=0, device=dev)
    s2m = build_s2m(cfg)
    w2v, extractor = build_w2v(keys)
    hidden = int(w2v.config.hidden_size)
    semantic = SemanticEncoder(
        extractor,
        w2v.eval(),
        torch.zeros(hidden),
        torch.ones(hidden),
        dev,
        HIDDEN_LAYER,
    )
    codec = build_codec(cfg)
    style = SpeakerStyle(build_campplus(), dev)

    gan, h = build_bigvgan(keys)
    gan.remove_weight_norm()
    vocoder = Vocoder(gan.eval(), 256, 22050, dev, right_reach_frames(h))

    spk, emo = build_emotion_matrices(cfg)
    mats = EmotionMatrices.from_tensors(spk, emo, cfg.emo_num)
    parts = Parts(
        cfg=cfg,
        text=TextFrontEnd(reference / "checkpoints" / "bpe.model"),
        t2s=t2s,
        s2m=s2m,
        semantic=semantic,
        codec=codec,
        style=style,
        vocoder=vocoder,
        emotion_mats=mats,
        text_emotion=TextEmotion(Path("/nonexistent")),
        qwen_dir=Path("/nonexistent"),
        device=dev,
    )
    return IndexTTS2Engine(parts)


# ---- full-size builders (random weights), also used by bench/fullsize_folder.py --------
# Each builds one model from the full-size configs in `keys` (../shared/reference/keys) on
# the current default device; random draws come from the global torch stream unless said.


def full_config(keys: Path) -> IndexTTSConfig:
    return load_config(keys / "config.yaml")


def build_t2s(cfg: IndexTTSConfig, seed: int = 0, device: str | torch.device = "cpu") -> T2S:
    """T2S with its own seeded draws (models.t2s.T2S.build)."""
    return T2S.build(cfg.gpt, seed=seed, device=device)


def build_s2m(cfg: IndexTTSConfig) -> S2M:
    return S2M(S2MConfig.from_dict(cfg.raw)).eval()


def build_w2v(
    keys: Path, layers: int | None = HIDDEN_LAYER
) -> tuple[Wav2Vec2BertModel, SeamlessM4TFeatureExtractor]:
    """w2v-BERT 2.0 and its feature extractor. `layers`: the encoder layers to build; the
    default is the 17 that hidden_states[17] needs (what SemanticEncoder keeps after
    loading), None builds all of the release's (24, as the released file holds)."""
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    w2v_cfg = json.loads((keys / "w2v_bert_2_0.json").read_text())["config"]
    if layers is not None:
        w2v_cfg = {**w2v_cfg, "num_hidden_layers": layers}
    w2v = Wav2Vec2BertModel(Wav2Vec2BertConfig(**w2v_cfg))
    # The facebook/w2v-bert-2.0 preprocessor values (the class default pads with 0.0).
    extractor = SeamlessM4TFeatureExtractor(
        feature_size=80, num_mel_bins=80, padding_value=1.0, sampling_rate=16000, stride=2
    )
    return w2v, extractor


def build_codec(cfg: IndexTTSConfig) -> SemanticCodec:
    return SemanticCodec(dict(cfg.raw["semantic_codec"])).eval()


def build_campplus() -> CAMPPlus:
    return CAMPPlus(80, 192).eval()


def build_bigvgan(keys: Path) -> tuple[BigVGAN, AttrDict]:
    """BigVGAN v2 22 kHz (80 bands, 256x) with its weight norm, as the released file holds
    it, and its hparams (AttrDict)."""
    from bigvgan import BigVGAN
    from bigvgan.env import AttrDict

    h = AttrDict(json.loads((keys / "bigvgan_v2_22khz_80band_256x.json").read_text())["h"])
    return BigVGAN(h, use_cuda_kernel=False), h


def build_emotion_matrices(cfg: IndexTTSConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """feat1 (speaker rows, [N, 192]) and feat2 (emotion rows, [N, model_dim]), N rows in
    all of emo_num's groups."""
    rows = sum(cfg.emo_num)
    return torch.randn(rows, 192), torch.randn(rows, cfg.gpt.model_dim)


def prompt_audio(seconds: float) -> tuple[np.ndarray, int]:
    """Spoken prompt (espeak-ng) repeated to `seconds` at 48 kHz."""
    speech = mediagen.speak("Good evening. I am the voice that this benchmark clones.", "en-us")
    n = int(seconds * mediagen.RATE)
    reps = int(np.ceil(n / len(speech)))
    return np.tile(speech, reps)[:n].astype(np.float32), mediagen.RATE


def line_requests(engine, voice, n: int, steps: int, emotion: str, ref) -> list[SynthesisRequest]:
    sampling = dataclasses.replace(Sampling(), diffusion_steps=steps)
    out = []
    for i in range(n):
        d = DURATIONS[i % len(DURATIONS)]
        if emotion == "reference":
            # Each line's "original audio": a slice of the reference, as long as the line.
            audio, rate = ref
            start = (i * 7919) % max(1, len(audio) - int(d * rate))
            emo = EmotionSpec(
                EmotionSource.REFERENCE,
                reference_audio=audio[start : start + int(d * rate)],
                reference_rate=rate,
            )
        else:
            emo = EmotionSpec()
        out.append(
            SynthesisRequest(TEXTS[i % len(TEXTS)], voice, emo, d, sampling=sampling, seed=i)
        )
    return out


def issue_requests(voice, ref, sampling: Sampling) -> list[SynthesisRequest]:
    """The issue's 2 / 3 / 4 / 5 s lines, each with its own reference emotion clip."""
    audio, rate = ref
    out = []
    for i, d in enumerate(ISSUE_DURATIONS):
        start = (i * 7919) % max(1, len(audio) - int(d * rate))
        emo = EmotionSpec(
            EmotionSource.REFERENCE,
            reference_audio=audio[start : start + int(d * rate)],
            reference_rate=rate,
        )
        out.append(SynthesisRequest(TEXTS[i], voice, emo, d, sampling=sampling, seed=i))
    return out


def _preset(sampling: Sampling, name: str) -> Sampling:
    steps, prompt_s, guidance = PRESETS[name]
    return dataclasses.replace(
        sampling, diffusion_steps=steps, flow_prompt_s=prompt_s, cfg_rate=guidance
    )


def _one_by_one(engine, reqs) -> tuple[list[float], list[float]]:
    """Wall seconds per line rendered alone, and the flow model's share of each."""
    walls, flows = [], []
    for req in reqs:
        t0 = time.perf_counter()
        (res,) = engine.synthesize([req])
        walls.append(time.perf_counter() - t0)
        if not res.ok:
            print(f"  failed: {res.error}")
        flows.append(res.timings.get("s2m", 0.0))
    return walls, flows


def _mels_same_codes(engine, reqs, codes_of=None) -> list:
    """Jobs rendered to mel with the codes of `codes_of` (jobs) when given."""
    from models.t2s import latents

    jobs = []
    for i, req in enumerate(reqs):
        job = engine.make_job(i, req)
        if codes_of is not None:
            conds = engine._conds(job)
            texts = [torch.tensor(s, dtype=torch.long) for s in job.segments]
            job.codes = list(codes_of[i].codes)
            job.latents = latents(engine.parts.t2s, conds, texts, job.codes)
            job.t2s_done = True
        engine._render([job])
        jobs.append(job)
    return jobs


def issue_table(engine, handle, ref, plan, report: dict) -> None:
    from models.precision import snr_db
    from models.precision_check import compare_precision

    fmt = " / ".join(f"{d:.0f}" for d in ISSUE_DURATIONS)
    greedy = dataclasses.replace(Sampling.greedy(), diffusion_steps=25)
    if not plan.is_fp32 and not engine.precision.is_fp32:
        print("precision against fp32: not with --model-dir (loaded in the plan already)")
    elif not plan.is_fp32:
        cmp = compare_precision(engine, plan, issue_requests(handle, ref, greedy))
        print(cmp.table(), flush=True)
        report["precision"] = {
            "plan": plan.label(),
            "fp32_s": cmp.fp32_s,
            "plan_s": cmp.plan_s,
            "lines": [dataclasses.asdict(x) for x in cmp.lines],
        }
    print(f"precision in use: {engine.precision.describe()}", flush=True)
    import gc

    gc.collect()
    reset_peak_rss()
    reqs = issue_requests(handle, ref, Sampling())
    walls, flows = _one_by_one(engine, reqs)
    print(
        f"product defaults, {fmt} s lines, one at a time: "
        + " / ".join(f"{w:.1f}" for w in walls)
        + f" s; sum {sum(walls):.1f} s, of which flow model {sum(flows):.1f} s",
        flush=True,
    )
    t0 = time.perf_counter()
    engine.synthesize(reqs)
    batch_s = time.perf_counter() - t0
    print(f"the 4 lines in one synthesize call: {batch_s:.1f} s in all", flush=True)
    render_peak = phase_peak_gb()
    draft = [dataclasses.replace(r, sampling=_preset(r.sampling, "draft")) for r in reqs]
    d_walls, d_flows = _one_by_one(engine, draft)
    print(
        f"draft preset {PRESETS['draft']} (steps, prompt s, guidance): "
        + " / ".join(f"{w:.1f}" for w in d_walls)
        + f" s; sum {sum(d_walls):.1f} s, of which flow model {sum(d_flows):.1f} s",
        flush=True,
    )
    final_jobs = _mels_same_codes(engine, issue_requests(handle, ref, greedy))
    draft_greedy = _preset(greedy, "draft")
    draft_jobs = _mels_same_codes(engine, issue_requests(handle, ref, draft_greedy), final_jobs)
    diff = [snr_db(f.mel, d.mel) for f, d in zip(final_jobs, draft_jobs, strict=True)]
    print(
        "draft vs final, same codes: mel SNR "
        + " / ".join(f"{x:.1f}" for x in diff)
        + " dB (random weights: a measure of change, not of quality)",
        flush=True,
    )
    report["issue_table"] = {
        "durations": ISSUE_DURATIONS,
        "final_s": walls,
        "final_flow_s": flows,
        "batch_s": batch_s,
        "draft_s": d_walls,
        "draft_flow_s": d_flows,
        "draft_vs_final_mel_snr_db": diff,
        "render_peak_rss_gb": render_peak,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 and 4 lines, 10 steps, 3 s prompt")
    ap.add_argument("--lines", default="1,4,16")
    ap.add_argument("--steps", default="25,10")
    ap.add_argument("--prompt-s", type=float, default=6.0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--batch", type=int, default=0, help="engine batch size (0: engine default)")
    ap.add_argument("--emotion", choices=("reference", "voice"), default="reference")
    ap.add_argument("--reference", type=Path, default=REFERENCE)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="fp32")
    ap.add_argument("--issue-table", action="store_true", help="the issue 13 table (above)")
    ap.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="load this model folder (bench/fullsize_folder.py writes one) the way a dub does, "
        "instead of building random models in fp32",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.lines, args.steps, args.prompt_s = "1,4", "10", 3.0
    if args.threads:
        torch.set_num_threads(args.threads)
    lines = [int(x) for x in args.lines.split(",")]
    steps_list = [int(x) for x in args.steps.split(",")]

    t0 = time.perf_counter()
    if args.model_dir:
        # The product's own load path: files read and each stage put in the plan's format
        # as it loads, so the peak RSS printed at the end is what a dub costs.
        engine = IndexTTS2Engine.load(args.model_dir, device="cpu", precision=args.precision)
        what = f"loaded {args.model_dir} in the {args.precision} plan"
    else:
        engine = build_engine(args.reference)
        what = "built full-size models (random weights)"
    if args.batch:
        engine.max_batch = args.batch
    print(
        f"{what} in {time.perf_counter() - t0:.1f} s; {torch.get_num_threads()} threads; "
        f"batch {engine.max_batch}; RSS peak {rss_gb():.1f} GB",
        flush=True,
    )
    audio, rate = prompt_audio(args.prompt_s)
    engine.parts.text.encode("Warm up the normaliser.")  # loads its grammars (a few seconds)
    t0 = time.perf_counter()
    handle = engine.prepare_voice(audio, rate)
    features_s = time.perf_counter() - t0
    print(
        f"features (voice preparation, {args.prompt_s:.0f} s prompt): {features_s:.2f} s",
        flush=True,
    )

    report = {"features_s": features_s, "prompt_s": args.prompt_s, "runs": []}
    from models.precision import plan_precision

    plan = plan_precision(engine.parts.device, args.precision)
    if args.issue_table:
        issue_table(engine, handle, (audio, rate), plan, report)
        report["peak_rss_gb"] = rss_gb()
        report["render_peak_rss_gb"] = report["issue_table"]["render_peak_rss_gb"]
        print(
            f"peak RSS {report['peak_rss_gb']:.2f} GB (process: build or load included); "
            f"{report['render_peak_rss_gb']:.2f} GB while rendering in the plan",
            flush=True,
        )
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
        return 0
    if not plan.is_fp32:
        engine.apply_precision(plan)
        print(f"precision: {plan.describe()}", flush=True)
    stages = ("emotion", "text", "t2s", "latent", "s2m", "vocoder")
    header = f"{'steps':>5} {'lines':>5} {'s/line':>7} {'RTF':>5} " + " ".join(
        f"{s:>8}" for s in stages
    )
    print(header, flush=True)
    for steps in steps_list:
        for n in lines:
            reqs = line_requests(engine, handle, n, steps, args.emotion, (audio, rate))
            t0 = time.perf_counter()
            results = engine.synthesize(reqs)
            wall = time.perf_counter() - t0
            bad = [r.error for r in results if not r.ok]
            if bad:
                print(f"  {len(bad)} failed: {bad[0]}")
            audio_s = sum(r.target_samples or 0 for r in results) / 22050
            per_stage = {s: sum(r.timings.get(s, 0.0) for r in results) / n for s in stages}
            row = f"{steps:>5} {n:>5} {wall / n:>7.2f} {wall / audio_s:>5.1f} " + " ".join(
                f"{per_stage[s]:>8.2f}" for s in stages
            )
            print(row, flush=True)
            report["runs"].append(
                {
                    "steps": steps,
                    "lines": n,
                    "wall_s": wall,
                    "s_per_line": wall / n,
                    "audio_s": audio_s,
                    "stage_s_per_line": per_stage,
                }
            )
    report["peak_rss_gb"] = rss_gb()
    print(f"peak RSS {report['peak_rss_gb']:.2f} GB", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
