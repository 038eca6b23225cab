"""The chain both IndexTTS engines run (2.0: models/indextts2/, 2.5: models/indextts25/),
written once: the loaded parts they share, a request on its way through the stages, and the
engine methods that do not differ between the versions (voices, emotion, batching, the flow
model and the vocoder stages). Each engine adds its own text front-end, GPT, codec and the
stages that differ (T2S decoding, lengths, the flow model's target condition)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from models.batching import RequestError, job_result, render_halving, run_batches
from models.common import stream_seed
from models.config import IndexTTSConfig
from models.contract import (
    EmotionSpec,
    ProgressFn,
    ResultFn,
    Sampling,
    StopFn,
    SynthesisRequest,
    SynthesisResult,
    VoiceHandle,
)
from models.emotion import EmotionMatrices, EmotionReading, TextEmotion
from models.emotion_request import cached_reference, emotion_vector
from models.s2m import S2M
from models.semantic import SemanticEncoder
from models.speaker import SpeakerStyle
from models.stages import flow_noise, fp32_context, render_stages, run_vocoder, t2s_context
from models.vocoder import Vocoder
from models.voice import cached_voice, reference_emovec, voice_key


@dataclass(kw_only=True)
class ChainParts:
    """The loaded models both versions have; each engine's Parts adds text, t2s, codec."""

    cfg: IndexTTSConfig
    s2m: S2M
    semantic: SemanticEncoder
    style: SpeakerStyle
    vocoder: Vocoder
    emotion_mats: EmotionMatrices
    text_emotion: TextEmotion
    qwen_dir: Path
    device: torch.device


@dataclass(kw_only=True)
class ChainJob:
    """One request on its way through the chain (engine-internal; the e2e parity stages
    drive it directly). Each engine's Job adds its voice, targets and length plan."""

    index: int
    request: SynthesisRequest
    segments: list[list[int]]  # text ids per segment
    emovec: Tensor  # [1, D]
    decode_targets: list[Any]  # per segment: what the decoder gets (T, a StopWindow, None)
    decode: Sampling  # the T2S decoding settings (Sampling.decoding())
    noise: Tensor | None = None  # [80, P + F] to inject (parity); None = seeded draw
    trace: dict[str, Any] | None = None  # filled with intermediates when not None
    codes: list[Tensor] = field(default_factory=list)
    stops: list[tuple[bool, int | None]] = field(default_factory=list)  # (forced, stop_wish)
    fit: dict[str, Any] | None = None  # the fit report (models/guided.py)
    seg_frames: list[int] = field(default_factory=list)
    t2s_done: bool = False  # codes of every segment are in (kept on a retry)
    mel: Tensor | None = None
    audio: np.ndarray | None = None
    flagged: str | None = None
    notes: list[str] = field(default_factory=list)  # per-line remarks (unknown text, cuts)
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def add_time(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def forget_unfinished(self) -> None:
        """Before a retry: unfinished T2S output starts afresh; finished stages are kept."""
        if not self.t2s_done:
            self.codes, self.stops = [], []


def _forget_unfinished(job: ChainJob) -> None:
    job.forget_unfinished()


class IndexTTSChain:
    """The engine methods both versions share. A subclass sets `parts`, `dtype` and the
    caches (see `_init_caches`), and gives make_job, _batches, _length_key, _run_t2s,
    _run_lengths and _target_cond."""

    name: ClassVar[str]
    voice_type: ClassVar[type]
    make_voice: ClassVar[Callable[..., Any]]  # (parts, audio, rate, t2s_context) -> voice
    prepared_by: ClassVar[str] = "this engine"  # says whose voice a handle is not
    flow_name: ClassVar[str] = "the S2M model"

    parts: Any
    dtype: torch.dtype

    def _init_caches(self, reference_cache_size: int) -> None:
        self._voices: OrderedDict[str, Any] = OrderedDict()
        self._ref_emovecs: OrderedDict[str, Tensor] = OrderedDict()
        self._text_readings: dict[str, EmotionReading] = {}
        self.voice_cache_size = 64
        self.reference_cache_size = reference_cache_size

    def _autocast(self):
        return t2s_context(self.parts.device, self.dtype)

    def _fp32(self):
        return fp32_context(self.parts.device)

    # ---- voices and emotion -------------------------------------------------------------
    def prepare_voice(self, audio: np.ndarray, sample_rate: int) -> VoiceHandle:
        def prepare() -> Any:
            with self._fp32():
                return type(self).make_voice(self.parts, audio, sample_rate, self._autocast)

        key = voice_key(audio, sample_rate)
        voice = cached_voice(self._voices, self.voice_cache_size, key, prepare)
        return VoiceHandle(key=key, data=voice)

    def _voice_of(self, handle: VoiceHandle) -> Any:
        if isinstance(handle.data, self.voice_type):
            return handle.data
        voice = self._voices.get(handle.key)
        if voice is None:
            raise RequestError(f"voice {handle.key} was not prepared by {self.prepared_by}")
        return voice

    def emotion_vector(self, voice: Any, spec: EmotionSpec) -> Tensor:
        """The emotion vector [1, D] added to the voice's latents for this request: the
        voice's own, a reference clip's blended by alpha, or 8 weights mixed through
        feat1/feat2 (the same in 2.0 and 2.5)."""
        mats = self.parts.emotion_mats
        return emotion_vector(voice, spec, mats, self._reference, self._text_weights)

    def _reference(self, audio: np.ndarray | None, rate: int) -> Tensor:
        def compute(audio: np.ndarray, rate: int) -> Tensor:
            with self._fp32():
                return reference_emovec(self.parts, audio, rate, self._autocast)

        return cached_reference(self._ref_emovecs, self.reference_cache_size, audio, rate, compute)

    def _text_weights(self, text: str) -> list[float]:
        raise NotImplementedError

    # ---- synthesis ----------------------------------------------------------------------
    def make_job(self, index: int, req: SynthesisRequest) -> Any:
        raise NotImplementedError

    def synthesize(
        self,
        requests: Sequence[SynthesisRequest],
        progress: ProgressFn | None = None,
        *,
        on_result: ResultFn | None = None,
        should_stop: StopFn | None = None,
    ) -> list[SynthesisResult]:
        # Same voice together (its prompt is shared), then similar lengths (less padding).
        return run_batches(
            requests,
            self.make_job,
            lambda j: (j.voice.key, self._length_key(j)),
            self._batches,
            self.render_jobs,
            progress,
            on_result,
            should_stop,
        )

    def _batches(self, jobs: list[Any]) -> list[list[Any]]:
        size = max(1, self.max_batch)
        return [jobs[i : i + size] for i in range(0, len(jobs), size)]

    def _length_key(self, job: Any) -> int:
        raise NotImplementedError

    def _result(self, job: ChainJob) -> SynthesisResult:
        return job_result(job)

    def render_jobs(self, jobs: list[Any], stop: StopFn = lambda: False) -> None:
        """Render jobs in place; halve the batch on out-of-memory, isolate failures. Once
        `stop()` says so, the stages not yet begun are left undone."""
        render_halving(jobs, self._render, _forget_unfinished, self.parts.device, stop)

    def _render(self, jobs: list[Any], stop: StopFn = lambda: False) -> None:
        stages = (self._run_t2s, self._run_lengths, self._run_s2m, self._run_vocoder)
        render_stages(jobs, stop, self._autocast, self._fp32, *stages)

    # ---- stages -------------------------------------------------------------------------
    def _run_t2s(self, jobs: list[Any]) -> None:
        raise NotImplementedError

    def _run_lengths(self, jobs: list[Any]) -> None:
        raise NotImplementedError

    def _target_cond(self, job: Any) -> Tensor:
        raise NotImplementedError

    @staticmethod
    def flow_prompt_frames(job: Any) -> int:
        """Prompt frames the flow model sees (2.5: all of them)."""
        return job.voice.prompt_frames

    def _noise(self, job: Any, frames: int) -> Tensor:
        total = self.flow_prompt_frames(job) + frames
        channels = self.parts.s2m.cfg.dit.in_channels
        return flow_noise(job, total, channels, stream_seed(job.request.seed, "cfm"))

    def _run_s2m(self, jobs: list[Any]) -> None:
        s2m = self.parts.s2m
        block = s2m.cfg.dit.block_size
        groups: dict[tuple[int, float], list[Any]] = {}
        for j in jobs:
            total = self.flow_prompt_frames(j) + sum(j.seg_frames)
            if total > block:  # free pace: known only now; fail this line, not the batch
                j.error = (
                    f"the line needs {total} mel frames with its voice prompt, {self.flow_name} "
                    f"renders at most {block}; split the line or use a shorter voice prompt"
                )
                continue
            s = j.request.sampling
            groups.setdefault((s.steps(), float(s.cfg_rate)), []).append(j)
        for (steps, rate), group in groups.items():
            t0 = time.perf_counter()
            targets = [self._target_cond(j) for j in group]
            cut = [self.flow_prompt_frames(j) for j in group]
            mels = s2m.synthesize(
                [j.voice.prompt_cond[:n] for j, n in zip(group, cut, strict=True)],
                [j.voice.ref_mel[0, :, :n] for j, n in zip(group, cut, strict=True)],
                [j.voice.style[0] for j in group],
                targets,
                steps=steps,
                cfg_rate=rate,
                noise=[self._noise(j, t.shape[0]) for j, t in zip(group, targets, strict=True)],
            )
            dt = time.perf_counter() - t0
            for j, target, mel in zip(group, targets, mels, strict=True):
                j.mel = mel
                j.add_time("s2m", dt / len(group))
                if j.trace is not None:
                    j.trace["target_cond"] = target
                    j.trace["mel"] = mel

    def _run_vocoder(self, jobs: list[Any]) -> None:
        run_vocoder(jobs, self.parts.vocoder, self.parts.device)
