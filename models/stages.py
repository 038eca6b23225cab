"""What the IndexTTS engines (2.0 and 2.5) do alike around their own stages: the order a
batch runs them in, the precision each runs under, the flow model's seeded noise and the
vocoder. The stages that differ (T2S / GPT, lengths, S2M conditioning) stay in each engine.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models.contract import StopFn
from models.duration import fit_to_samples
from models.vocoder import Vocoder

Stage = Callable[[list[Any]], None]


def t2s_context(device: torch.device, dtype: torch.dtype) -> AbstractContextManager:
    """The T2S (GPT) stage's precision: autocast in the engine's dtype on CUDA; nothing
    else runs under it."""
    if device.type == "cuda" and dtype != torch.float32:
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def fp32_context(device: torch.device) -> AbstractContextManager:
    """Float32 for the stages the official code keeps there, even if a caller entered
    autocast around the engine."""
    return torch.autocast(device.type, enabled=False)


def render_stages(
    jobs: list[Any],
    stop: StopFn,
    t2s_ctx: Callable[[], AbstractContextManager],
    fp32_ctx: Callable[[], AbstractContextManager],
    run_t2s: Stage,
    run_lengths: Stage,
    run_s2m: Stage,
    run_vocoder: Stage,
) -> None:
    """One batch through the chain. Jobs whose T2S is done (kept from a failed try) skip
    it; each later stage takes only the jobs still without error and its output."""
    todo = [j for j in jobs if not j.t2s_done]
    if todo:
        with t2s_ctx():
            run_t2s(todo)
    with fp32_ctx():
        # A stop between stages spares the flow model's minutes of work that would be
        # thrown away; the lines of this batch are then rendered afresh next time.
        if stop():
            return
        run_lengths([j for j in jobs if j.error is None and j.mel is None])
        run_s2m([j for j in jobs if j.error is None and j.mel is None])
        if stop():
            return
        run_vocoder([j for j in jobs if j.error is None and j.audio is None])


def flow_noise(job: Any, total_frames: int, channels: int, seed: int) -> Tensor:
    """The CFM start noise [channels, prompt + line frames]: injected (parity) or drawn from
    the request's own stream, so a line renders the same alone or in a batch."""
    if job.noise is not None:
        return job.noise
    gen = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn([channels, total_frames], generator=gen)


def run_vocoder(jobs: list[Any], vocoder: Vocoder, device: torch.device) -> None:
    """Mels -> waveforms, fitted to the slot's samples when the line has one."""
    if not jobs:
        return
    t0 = time.perf_counter()
    mels = [j.mel.float() for j in jobs]
    if device.type == "cpu":
        # Measured (bench/engine.py, 2 cores): a padded batch of 4 costs 2.9 s per audio
        # second against 1.0 s one by one; the batch only pays off on an accelerator.
        waves = [vocoder([m])[0] for m in mels]
    else:
        waves = vocoder(mels)
    dt = time.perf_counter() - t0
    for j, wave in zip(jobs, waves, strict=True):
        if j.trace is not None:
            j.trace["wave"] = wave
        if j.plan is not None:
            wave = fit_to_samples(wave, j.plan.samples)
        j.audio = np.ascontiguousarray(wave, dtype=np.float32)
        j.add_time("vocoder", dt / len(jobs))
