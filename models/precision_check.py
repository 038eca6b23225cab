"""The error and speed of a precision plan against float32, stage by stage, on one engine.

    report = compare_precision(engine, plan, requests)   # engine loaded in fp32
    print(report.table())

The engine renders the requests in float32 first (kept: codes, latents, mel, wave, stage
times), then its weights are stored in the plan's dtypes (in place: the engine stays in
the plan afterwards) and the same requests are rendered again:
- t2s: the codes decoded in the plan against the fp32 codes (share of equal codes; greedy
  requests make this a precision figure, sampled ones diverge at the first flip);
- latent: the GPT latents of the *fp32 codes* in the plan (SNR, dB);
- mel / wave: the flow model and vocoder from those latents (SNR against fp32, dB): the
  error the plan adds to the audio when both decode the same codes;
- seconds per stage in fp32 and in the plan.
Used by bench/engine.py (full size) and the precision tests (tiny reference models).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from models.contract import SynthesisRequest
from models.precision import PrecisionPlan, snr_db
from models.t2s import latents

STAGES = ("t2s", "latent", "s2m", "vocoder")


@dataclass
class LineError:
    code_match: float  # share of positions with equal codes (decoded in the plan)
    latent_snr: float
    mel_snr: float
    wave_snr: float
    # Tensors holding NaN or inf (an SNR over them is NaN): named so a run says which.
    nonfinite: list[str] = field(default_factory=list)


@dataclass
class PrecisionReport:
    plan: PrecisionPlan
    lines: list[LineError] = field(default_factory=list)
    fp32_s: dict[str, float] = field(default_factory=dict)  # summed over lines
    plan_s: dict[str, float] = field(default_factory=dict)

    def worst(self, name: str) -> float:
        return min(getattr(line, name) for line in self.lines)

    def speedup(self, stage: str) -> float:
        return self.fp32_s.get(stage, 0.0) / max(1e-9, self.plan_s.get(stage, 0.0))

    def table(self) -> str:
        rows = [f"precision {self.plan.describe()}"]
        rows.append(f"{'stage':>8} {'fp32 s':>8} {'plan s':>8} {'speed-up':>8}")
        for s in STAGES:
            rows.append(
                f"{s:>8} {self.fp32_s.get(s, 0.0):>8.2f} {self.plan_s.get(s, 0.0):>8.2f} "
                f"{self.speedup(s):>7.2f}x"
            )
        rows.append(
            "error vs fp32 (worst line): "
            f"codes equal {100 * self.worst('code_match'):.1f} %, "
            f"latent SNR {self.worst('latent_snr'):.1f} dB, "
            f"mel SNR {self.worst('mel_snr'):.1f} dB, "
            f"wave SNR {self.worst('wave_snr'):.1f} dB"
        )
        for i, line in enumerate(self.lines):
            if line.nonfinite:
                rows.append(f"line {i}: NaN or inf in {', '.join(line.nonfinite)}")
        return "\n".join(rows)


def _code_match(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    total = sum(max(x.numel(), y.numel()) for x, y in zip(a, b, strict=True))
    same = 0
    for x, y in zip(a, b, strict=True):
        n = min(x.numel(), y.numel())
        same += int((x[:n] == y[:n]).sum())
    return same / max(1, total)


def _add(times: dict[str, float], job) -> None:
    for s in STAGES:
        times[s] = times.get(s, 0.0) + job.timings.get(s, 0.0)


def compare_precision(
    engine, plan: PrecisionPlan, requests: Sequence[SynthesisRequest]
) -> PrecisionReport:
    """See the module docstring. Lines render one at a time (no batching effects)."""
    if not engine.precision.is_fp32:
        raise ValueError("compare_precision needs an engine loaded in fp32")
    report = PrecisionReport(plan)
    reference = []
    for i, req in enumerate(requests):
        job = engine.make_job(i, req)
        job.trace = {}
        engine._render([job])
        if job.error:
            raise RuntimeError(f"line {i} failed in fp32: {job.error}")
        _add(report.fp32_s, job)
        reference.append(job)
    engine.apply_precision(plan)
    for i, req in enumerate(requests):
        ref = reference[i]
        decoded = engine.make_job(i, req)
        engine._run_t2s([decoded])
        job = engine.make_job(i, req)
        conds = engine._conds(job)
        texts = [torch.tensor(s, dtype=torch.long) for s in job.segments]
        t0 = time.perf_counter()
        job.codes, job.stops = list(ref.codes), list(ref.stops)  # the fit record reads both
        job.latents = latents(engine.parts.t2s, conds, texts, job.codes)
        job.add_time("latent", time.perf_counter() - t0)
        job.t2s_done = True
        job.trace = {}
        engine._render([job])
        if job.error:
            raise RuntimeError(f"line {i} failed in {plan.label()}: {job.error}")
        job.add_time("t2s", decoded.timings.get("t2s", 0.0))
        _add(report.plan_s, job)
        tensors = {
            "fp32 latent": torch.cat(ref.latents),
            "plan latent": torch.cat(job.latents),
            "fp32 target cond": ref.trace["target_cond"],
            "plan target cond": job.trace["target_cond"],
            "fp32 mel": ref.mel,
            "plan mel": job.mel,
            "fp32 wave": torch.from_numpy(ref.trace["wave"]),
            "plan wave": torch.from_numpy(job.trace["wave"]),
        }
        bad = [name for name, t in tensors.items() if not bool(torch.isfinite(t).all())]
        report.lines.append(
            LineError(
                code_match=_code_match(ref.codes, decoded.codes),
                latent_snr=min(snr_db(a, b) for a, b in zip(ref.latents, job.latents, strict=True)),
                mel_snr=snr_db(ref.mel, job.mel),
                nonfinite=bad,
                wave_snr=snr_db(
                    torch.from_numpy(ref.trace["wave"]), torch.from_numpy(job.trace["wave"])
                ),
            )
        )
    return report
