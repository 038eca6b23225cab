"""IndexTTS2's loaded models and one request on its way through them, how each stage's
weights are stored in the precision plan, and the check that the checkpoints chain."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from models.duration import LengthPlan
from models.indextts2.voice import Voice
from models.indextts_chain import ChainJob, ChainParts
from models.layout import IndexTTS2Files
from models.precision import PrecisionPlan, plan_precision
from models.semantic import SemanticCodec
from models.t2s import T2S
from models.t2s.loading import check_links
from models.text import TextFrontEnd

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Parts(ChainParts):
    """The loaded models of one engine."""

    text: TextFrontEnd
    t2s: T2S
    codec: SemanticCodec


@dataclass(kw_only=True)
class Job(ChainJob):
    """One request on its way through the chain (engine-internal; the e2e parity stage
    drives it directly)."""

    voice: Voice
    token_targets: list[int | None]  # per segment: the slot's count (None = free decoding)
    plan: LengthPlan | None  # guided / exact / natural: the slot
    latents: list[Tensor] = field(default_factory=list)

    def forget_unfinished(self) -> None:
        """Before a retry: unfinished T2S output (codes and latents) starts afresh."""
        if not self.t2s_done:
            self.codes, self.latents, self.stops = [], [], []


def store_stage(stage: str, part: Any, plan: PrecisionPlan) -> Any:
    """Put one stage's weights (t2s, s2m or vocoder) in the plan's format, in place and
    once; returns the part."""
    dtype = getattr(plan, stage)
    if dtype == torch.float32:
        return part
    if stage == "t2s":
        part.store_decoder(dtype, plan.t2s_narrow_rows, plan.t2s_wide)
        if plan.t2s_conditioning != torch.float32:
            part.store_conditioning(plan.t2s_conditioning)
    elif stage == "s2m":
        part.store_estimator(dtype)
    else:
        part.model.to(dtype)
    return part


def _pick_plan(
    device: torch.device,
    dtype: torch.dtype | str | None,
    precision: str | torch.dtype | PrecisionPlan | None,
) -> PrecisionPlan:
    """The plan for load(): `precision` wins; else a given `dtype` (the older argument);
    else fp32 on the CPU and the auto plan on CUDA (where the official code uses half)."""
    if isinstance(precision, PrecisionPlan):
        return precision
    if precision is not None:
        return plan_precision(device, precision)
    if dtype is not None:
        return plan_precision(device, _pick_dtype(device, dtype))
    return plan_precision(device, "auto" if device.type == "cuda" else "fp32")


def _pick_dtype(device: torch.device, dtype: torch.dtype | str | None) -> torch.dtype:
    if isinstance(dtype, str):
        names = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16}
        names |= {"float16": torch.float16, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
        if dtype not in names:
            raise ValueError(f"unknown dtype {dtype!r} (fp32, fp16 or bf16)")
        dtype = names[dtype]
    if device.type != "cuda":
        if dtype not in (None, torch.float32):
            log.info("%s requested on %s: the CPU runs in float32", dtype, device)
        return torch.float32
    if dtype is None:
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return dtype


def check_widths(parts: Parts, files: IndexTTS2Files) -> None:
    """The checkpoints must chain: w2v-BERT features feed the T2S conditioning encoders and
    the semantic codec; the T2S latent feeds the S2M gpt_layer, whose output is added to the
    codec embeddings and regulated. Files from different releases load one by one but not
    together: raise CheckpointMismatch naming both files of every broken link."""
    s2m = parts.s2m.cfg
    w2v = int(parts.semantic.mean.numel())
    links = [
        (
            "T2S model width",
            parts.t2s.dim,
            files.gpt,
            "S2M gpt_layer input",
            s2m.gpt_layer_dims[0],
            files.s2mel,
        ),
        (
            "S2M gpt_layer output",
            s2m.gpt_layer_dims[-1],
            files.s2mel,
            "semantic codec width",
            parts.codec.hidden_size,
            files.semantic_codec,
        ),
        (
            "S2M length regulator input",
            s2m.length_regulator.in_channels,
            files.s2mel,
            "semantic codec width",
            parts.codec.hidden_size,
            files.semantic_codec,
        ),
        (
            "w2v-BERT feature width",
            w2v,
            files.w2v_stats,
            "T2S conditioning input",
            parts.t2s.cfg.cond_input_size,
            files.gpt,
        ),
        (
            "w2v-BERT feature width",
            w2v,
            files.w2v_stats,
            "semantic codec width",
            parts.codec.hidden_size,
            files.semantic_codec,
        ),
    ]
    check_links(
        links,
        "the model files do not belong together (mixed releases?): ",
        ". Download a complete IndexTTS2 folder with installer/download_models.py.",
    )


def model_dir_of(path: Path) -> Path:
    """The model directory (the folder holding indextts2/) of a file inside it."""
    root = path.parent
    return root.parent if root.name == "indextts2" else root
