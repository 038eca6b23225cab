"""The IndexTTS2 engine: text + voice + emotion + duration -> 22050 Hz audio, in batches.

    engine = IndexTTS2Engine.load(model_dir, device="cuda")     # ModelFilesMissing if incomplete
    voice = engine.prepare_voice(audio, sample_rate)            # cached per prompt (audio hash)
    results = engine.synthesize([SynthesisRequest(...), ...], progress)

One request runs through the official IndexTTS2 chain:
  text front-end -> segments (<= 120 tokens) -> T2S codes (per segment) -> GPT latents ->
  S2M condition (vq2emb(codes) + gpt_layer(latent), length-regulated per segment, the
  segments joined without silence) -> CFM from the voice's prompt mel -> BigVGAN.

Duration (models.duration, models.guided): T = round(50 d) tokens split over the segments
in proportion to their text tokens, each share as W_sem[share] in the duration slot, then
- guided (the dub's default): the stop allowed within [0.85, 1.15] x each share, forced at
  its end; exact: stop forbidden before each share, forced at it; natural: free decoding,
  flagged outside [0.8, 1.25] of the slot (fitted anyway: the slot is fixed);
- F = round(d * 22050 / 256) frames split in proportion to the decoded codes, the waveform
  trimmed / padded to round(d * 22050) samples; the fit report in SynthesisResult.fit;
- free, or no duration: the official rule, (codes * 1.72) frames per segment.

Batches: requests are grouped by voice and length and rendered up to `max_batch` at a time;
T2S and S2M batches are further split by decoding / diffusion settings. Every random draw
is seeded per request and stream (`stream_seed(seed, stage, segment)`: a hash, so streams of
neighbouring seeds or segments never coincide), so a request renders the same alone or in a
batch (up to float rounding). Requests are validated before any decoding (one bad request
fails alone). On CUDA out-of-memory a batch is halved and retried after the failed batch's
memory is released; results of finished stages (T2S codes, mels) are kept for the retry, so
a failure in S2M or the vocoder does not decode T2S again; a request that still cannot be
rendered fails alone.

Device and precision (models.precision): a PrecisionPlan names the dtype of the T2S
decoder, the flow model (DiT) and BigVGAN; their weights are stored once in it at load.
`precision="auto"` picks per stage from the hardware (on CPUs with AMX / AVX-512 BF16:
fp16 decode steps, bf16 wide products, conditioning encoders and flow model; elsewhere on
the CPU fp16 decoder weights for narrow products only; bf16 or fp16 on CUDA; BigVGAN fp32).
Each stage is put in its format as soon as it is loaded. Without a precision the CPU runs
fp32 (parity) and CUDA the auto plan. On CUDA the T2S stage also runs under autocast in the
plan's dtype. The prompt path (w2v-BERT, codec, mel, CAMPPlus) stays float32.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from models.batching import (
    RequestError,
    check_sampling,
    job_result,
    render_halving,
    run_batches,
)
from models.config import IndexTTSConfig, load_config
from models.contract import (
    Capabilities,
    DurationMode,
    EmotionSource,
    EmotionSpec,
    ProgressFn,
    ResultFn,
    StopFn,
    SynthesisRequest,
    SynthesisResult,
    VoiceHandle,
)
from models.duration import (
    NATURAL_FIT_RANGE,
    LengthPlan,
    pace_ratio,
    split_exact,
    within_fit_range,
)
from models.emotion import EmotionMatrices, EmotionReading, TextEmotion
from models.emotion_request import cached_reference, emotion_vector, read_description
from models.guided import SLOT_MODES, decode_targets, job_fit, segment_stops
from models.layout import IndexTTS2Files, locate, read_torch
from models.line_limit import indextts2_line_limit
from models.precision import PrecisionPlan, plan_precision
from models.registry import indextts2_capabilities
from models.s2m import S2M, official_target_frames
from models.semantic import SemanticCodec, SemanticEncoder, load_codec_config
from models.speaker import SpeakerStyle
from models.stages import flow_noise, fp32_context, render_stages, run_vocoder, t2s_context
from models.t2s import T2S, DecodeSettings, decode, latents
from models.t2s.loading import check_links
from models.text import TextFrontEnd
from models.units import frames_for
from models.vocoder import Vocoder
from models.voice import Voice, cached_voice, prepare_voice, reference_emovec, voice_key

log = logging.getLogger(__name__)

MAX_SEGMENT_TOKENS = 120  # the official max_text_tokens_per_segment
STAGES = ("text", "emotion", "t2s", "latent", "s2m", "vocoder")


@dataclass
class Parts:
    """The loaded models of one engine."""

    cfg: IndexTTSConfig
    text: TextFrontEnd
    t2s: T2S
    s2m: S2M
    semantic: SemanticEncoder
    codec: SemanticCodec
    style: SpeakerStyle
    vocoder: Vocoder
    emotion_mats: EmotionMatrices
    text_emotion: TextEmotion
    qwen_dir: Path
    device: torch.device


@dataclass
class Job:
    """One request on its way through the chain (engine-internal; the e2e parity stage
    drives it directly)."""

    index: int
    request: SynthesisRequest
    voice: Voice
    segments: list[list[int]]  # text ids per segment
    emovec: Tensor  # [1, D]
    token_targets: list[int | None]  # per segment: the slot's count (None = free decoding)
    decode_targets: list[Any]  # per segment: what the decoder gets (T, a StopWindow, None)
    plan: LengthPlan | None  # guided / exact / natural: the slot
    decode: DecodeSettings
    noise: Tensor | None = None  # [80, P + F] to inject (parity); None = seeded draw
    trace: dict[str, Any] | None = None  # filled with intermediates when not None
    codes: list[Tensor] = field(default_factory=list)
    stops: list[tuple[bool, int | None]] = field(default_factory=list)  # (forced, stop_wish)
    fit: dict[str, Any] | None = None  # the fit report (models/guided.py)
    latents: list[Tensor] = field(default_factory=list)
    seg_frames: list[int] = field(default_factory=list)
    t2s_done: bool = False  # codes and latents of every segment are in (kept on a retry)
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


SEED_MODULUS = 2**63  # torch.Generator seeds: kept inside the int64 range


def stream_seed(seed: int, stage: str, segment: int = 0) -> int:
    """The seed of one random stream of a request: a hash of (seed, stage, segment), so the
    T2S sampling of segment k, the CFM noise and the streams of the next cue (core uses
    base + cue index) never share a seed. Any integer is accepted (reduced into int64)."""
    digest = hashlib.blake2b(f"{int(seed)}|{stage}|{int(segment)}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little") % SEED_MODULUS


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


def _forget_unfinished(job: Job) -> None:
    """Before a retry: unfinished T2S output starts afresh; finished stages are kept."""
    if not job.t2s_done:
        job.codes, job.latents, job.stops = [], [], []


def _model_dir_of(path: Path) -> Path:
    """The model directory (the folder holding indextts2/) of a file inside it."""
    root = path.parent
    return root.parent if root.name == "indextts2" else root


class ModelFiles(Protocol):
    """A model folder's files (IndexTTS2Files, IndexTTS25Files: the 2.5 engine uses the
    fingerprint too)."""

    def required(self) -> dict[str, Path]: ...


def files_fingerprint(files: ModelFiles) -> str:
    """A digest of where the model files are and their size and modification time: cheap
    (no hashing of gigabytes) and changes whenever a checkpoint is replaced."""
    h = hashlib.sha256()
    for name, path in sorted(files.required().items()):
        try:
            st = Path(path).resolve().stat()
            h.update(f"{name}={Path(path).resolve()}:{st.st_size}:{st.st_mtime_ns};".encode())
        except OSError:
            h.update(f"{name}=?;".encode())
    return h.hexdigest()[:16]


class IndexTTS2Engine:
    name = "indextts2"

    def __init__(
        self,
        parts: Parts,
        dtype: torch.dtype = torch.float32,
        files_digest: str = "",
        precision: PrecisionPlan | None = None,
    ) -> None:
        self.parts = parts
        self.precision = PrecisionPlan()
        self.dtype = dtype  # the T2S stage's autocast dtype on CUDA (kept: older callers)
        if precision is not None:
            self.apply_precision(precision)
        elif dtype != torch.float32 and parts.device.type == "cuda":
            self.precision = PrecisionPlan(t2s=dtype, reasons={"gpu": f"{dtype} asked"})
        self.files_digest = files_digest  # which checkpoint files (see files_fingerprint)
        self.max_batch = 8 if parts.device.type == "cuda" else 4
        self.max_segment_tokens = MAX_SEGMENT_TOKENS
        self.split_mode = "clean"  # every text piece exactly once (see TextFrontEnd)
        self.duration_embedding = "paper"  # exact mode: p = W_sem[T] in the duration slot
        self._voices: OrderedDict[str, Voice] = OrderedDict()
        self._ref_emovecs: OrderedDict[str, Tensor] = OrderedDict()
        self._text_readings: dict[str, EmotionReading] = {}
        self.voice_cache_size = 64
        self.reference_cache_size = 256

    @property
    def capabilities(self) -> Capabilities:
        return indextts2_capabilities(self.parts.qwen_dir, self.max_batch)

    @property
    def identity(self) -> str:
        """What shapes this engine's audio besides a request: the checkpoint files, device
        type, precision and rendering choices. Take caches key on it, so swapping a
        checkpoint or a setting never serves audio made by another model."""
        text = self.parts.text
        return "|".join(
            [
                self.name,
                self.files_digest,
                self.parts.device.type,
                self.precision.label(),
                self.split_mode,
                self.duration_embedding,
                str(self.max_segment_tokens),
                str(text.normalizer_backend),
            ]
        )

    # ---- loading ------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        model_dir: Path,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | str | None = None,
        normalize_text: bool = True,
        precision: str | torch.dtype | PrecisionPlan | None = None,
    ) -> IndexTTS2Engine:
        """Load every model of an IndexTTS2 folder (model_dir/indextts2 or a checkpoints/
        folder itself). Raises ModelFilesMissing naming every missing file, or its
        subclass ModelFilesDamaged naming every damaged one. `precision`: auto, fp32, bf16,
        fp16 or a PrecisionPlan (see the module docstring)."""
        files = locate(Path(model_dir)).check(Path(model_dir))
        return cls.from_files(
            files, device=device, dtype=dtype, normalize_text=normalize_text, precision=precision
        )

    @classmethod
    def from_files(
        cls,
        files: IndexTTS2Files,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | str | None = None,
        normalize_text: bool = True,
        precision: str | torch.dtype | PrecisionPlan | None = None,
    ) -> IndexTTS2Engine:
        files.check()  # raises with the download hint when files are missing
        dev = torch.device(device)
        cfg = load_config(files.config)
        plan = _pick_plan(dev, dtype, precision)
        # Each stage goes into the plan's format as soon as it is loaded, before the next
        # loads: the fp32 GPT never sits beside the rest (peak memory, issue 13).
        t2s = store_stage("t2s", T2S.load(files.gpt, cfg.gpt, device=dev), plan)
        t2s.drop_text_head()
        s2m = store_stage("s2m", S2M.load(files.s2mel, cfg.raw, device=dev), plan)
        parts = Parts(
            cfg=cfg,
            text=TextFrontEnd(files.bpe, normalize=normalize_text),
            t2s=t2s,
            s2m=s2m,
            semantic=SemanticEncoder.load(files.w2v_bert, files.w2v_stats, device=dev),
            codec=SemanticCodec.load(
                files.semantic_codec, load_codec_config(files.config), device=dev
            ),
            style=SpeakerStyle.load(files.campplus, device=dev),
            vocoder=store_stage("vocoder", Vocoder.load(files.bigvgan, device=dev), plan),
            emotion_mats=EmotionMatrices.from_tensors(
                read_torch(files.spk_matrix), read_torch(files.emo_matrix), cfg.emo_num
            ),
            text_emotion=TextEmotion(files.qwen_emotion, device=dev),
            qwen_dir=files.qwen_emotion,
            device=dev,
        )
        check_widths(parts, files)
        engine = cls(parts, files_digest=files_fingerprint(files))
        engine.adopt_precision(plan)
        return engine

    def apply_precision(self, plan: PrecisionPlan) -> None:
        """Store each stage's weights in the plan's dtype, in place (once, no fp32 copy
        kept). Only from float32: going back would not restore the lost bits."""
        p = self.parts
        current = self.precision
        for stage in ("t2s", "s2m", "vocoder"):
            have, want = getattr(current, stage), getattr(plan, stage)
            if have != want and have != torch.float32:
                raise ValueError(f"the {stage} weights are already {have}; load the engine again")
        for stage in ("t2s", "s2m", "vocoder"):
            store_stage(stage, getattr(p, stage), plan)
        self.adopt_precision(plan)

    def adopt_precision(self, plan: PrecisionPlan) -> None:
        """Record `plan` as the one the weights are stored in (they already are)."""
        self.precision = plan
        self.dtype = plan.t2s
        log.info("precision: %s", plan.describe())

    def use_precision(self, choice: str | torch.dtype | PrecisionPlan) -> str | None:
        """Switch to the plan of `choice` (auto, fp32, bf16, fp16) for this device if the
        weights are still fp32; returns a sentence for the user: the plan in use (loaded so,
        or switched to), or why the asked one could not be applied (an engine already in
        half precision stays so: load it again)."""
        plan = (
            choice
            if isinstance(choice, PrecisionPlan)
            else plan_precision(self.parts.device, choice)
        )
        if plan == self.precision:
            return f"precision: {plan.describe()}"
        if not self.precision.is_fp32:
            return (
                f"precision {plan.label()} not applied: this engine already runs "
                f"{self.precision.label()} (restart to change it)"
            )
        self.apply_precision(plan)
        return f"precision: {plan.describe()}"

    def _autocast(self):
        return t2s_context(self.parts.device, self.dtype)

    def _fp32(self):
        return fp32_context(self.parts.device)

    # ---- voices -------------------------------------------------------------------------
    def prepare_voice(self, audio: np.ndarray, sample_rate: int) -> VoiceHandle:
        def prepare() -> Voice:
            with self._fp32():
                return prepare_voice(self.parts, audio, sample_rate, t2s_context=self._autocast)

        key = voice_key(audio, sample_rate)
        voice = cached_voice(self._voices, self.voice_cache_size, key, prepare)
        return VoiceHandle(key=key, data=voice)

    def _voice_of(self, handle: VoiceHandle) -> Voice:
        if isinstance(handle.data, Voice):
            return handle.data
        voice = self._voices.get(handle.key)
        if voice is None:
            raise RequestError(f"voice {handle.key} was not prepared by this engine")
        return voice

    # ---- emotion ------------------------------------------------------------------------
    def emotion_vector(self, voice: Voice, spec: EmotionSpec) -> Tensor:
        """The emotion vector [1, D] added to the voice's latents for this request."""
        mats = self.parts.emotion_mats
        return emotion_vector(voice, spec, mats, self._reference, self._text_weights)

    def _reference(self, audio: np.ndarray | None, rate: int) -> Tensor:
        def compute(audio: np.ndarray, rate: int) -> Tensor:
            with self._fp32():
                return reference_emovec(self.parts, audio, rate, t2s_context=self._autocast)

        return cached_reference(self._ref_emovecs, self.reference_cache_size, audio, rate, compute)

    def _text_weights(self, text: str) -> list[float]:
        qwen = self.parts.qwen_dir
        missing = (
            f"emotion from a text description needs the optional Qwen text-to-emotion "
            f"model, which is missing ({qwen} not found). Download it, from the Dubsmith "
            f"folder, with: .venv/bin/python installer/download_models.py --model-dir "
            f"{_model_dir_of(qwen)} (it is the qwen0.6bemo4-merge folder of "
            f"IndexTeam/IndexTTS-2), or use the emotion sliders or a reference clip instead."
        )
        reader = self.parts.text_emotion
        return read_description(self._text_readings, text, reader, qwen, missing).weights

    # ---- requests -> jobs ---------------------------------------------------------------
    line_limit = indextts2_line_limit  # what the model cannot hold, asked at planning

    @property
    def segment_limit(self) -> int:
        """Text tokens per segment: 120 (official), or less if the text position table of
        the checkpoint is shorter (max_text_tokens; 80 in the tiny test models)."""
        return min(self.max_segment_tokens, self.parts.cfg.gpt.max_text_tokens)

    def encode_text(
        self, text: str, language: str | None = None
    ) -> tuple[list[list[int]], list[str]]:
        """Text ids per segment, and the pieces the vocabulary does not know (they become
        the unk id, as in the official code, and are reported with the line)."""
        fe = self.parts.text
        tok = fe.encode(text, language)
        if not tok.pieces:
            raise RequestError("the line has no text to speak")
        segs = fe.split_segments(tok.pieces, self.segment_limit, mode=self.split_mode)
        return [fe.pieces_to_ids(s) for s in segs if s], list(tok.unknown)

    def text_segments(self, text: str, language: str | None = None) -> list[list[int]]:
        return self.encode_text(text, language)[0]

    def make_job(self, index: int, req: SynthesisRequest) -> Job:
        t0 = time.perf_counter()
        voice = self._voice_of(req.voice)
        segments, unknown = self.encode_text(req.text, req.language)
        self._validate(req)
        plan = None
        if req.duration_s is not None and req.mode is not DurationMode.FREE:
            try:
                plan = LengthPlan.for_duration(req.duration_s)
            except ValueError as exc:
                raise RequestError(str(exc)) from exc
            block = self.parts.s2m.cfg.dit.block_size
            cut = req.sampling.flow_prompt_s
            prompt = (
                voice.prompt_frames if cut is None else min(voice.prompt_frames, frames_for(cut))
            )
            if prompt + plan.frames > block:
                raise RequestError(
                    f"{req.duration_s:.2f} s with a {voice.seconds:.1f} s voice prompt needs "
                    f"{prompt + plan.frames} mel frames, the S2M model renders at "
                    f"most {block}; split the line or use a shorter voice prompt"
                )
        t1 = time.perf_counter()
        with self._fp32():
            emovec = self.emotion_vector(voice, req.emotion).float()
        t2 = time.perf_counter()
        if plan is not None and req.mode in SLOT_MODES:
            if plan.tokens < len(segments) or plan.frames < len(segments):
                raise RequestError(
                    f"{req.duration_s:.3f} s is too short for a line of {len(segments)} segments"
                )
            targets: list[int | None] = list(split_exact(plan.tokens, [len(s) for s in segments]))
        else:
            targets = [None] * len(segments)
        limit = self.parts.cfg.gpt.max_mel_tokens
        flagged = None
        if any(t is not None and t > limit for t in targets):
            # The semantic position table ends at `limit`: decode that many and let S2M
            # stretch them to the slot (frames and samples stay exact).
            longest = max(t for t in targets if t is not None)
            flagged = (
                f"slot needs {longest} tokens in one segment, the model renders at most "
                f"{limit}; speech stretched {longest / limit:.2f}x"
            )
            targets = [None if t is None else min(t, limit) for t in targets]
        settings = DecodeSettings.from_sampling(req.sampling)
        if settings.max_tokens > limit:
            # The semantic position table ends there (config max_mel_tokens).
            settings = dataclasses.replace(settings, max_tokens=limit)
        job = Job(
            index=index,
            request=req,
            voice=voice,
            segments=segments,
            emovec=emovec,
            token_targets=targets,
            decode_targets=decode_targets(req.mode, targets, req.sampling.stop_window, limit),
            plan=plan,
            decode=settings,
            flagged=flagged,
        )
        reading = self._text_readings.get(req.emotion.text or "")
        if req.emotion.source is EmotionSource.TEXT and reading is not None and reading.fallback:
            job.notes.append(f"emotion text not understood, spoken calm: {reading.note}")
        if unknown:
            job.notes.append(
                "the model's vocabulary lacks "
                + ", ".join(repr(p) for p in unknown)
                + "; spoken as unknown tokens"
            )
        job.add_time("text", t1 - t0)
        job.add_time("emotion", t2 - t1)
        return job

    @staticmethod
    def _validate(req: SynthesisRequest) -> None:
        check_sampling(req)

    # ---- synthesis ----------------------------------------------------------------------
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

    def _batches(self, jobs: list[Job]) -> list[list[Job]]:
        """Jobs (sorted by voice and length) in the batches they render in. On an
        accelerator up to max_batch neighbours (similar lengths). On the CPU a batch
        shares no weight reads worth its padding (measured: 4 mixed lines batched were 9 %
        slower than one at a time), so only lines of exactly the same shape (voice, token
        and frame counts, flow settings) go together; the rest render one at a time."""
        size = max(1, self.max_batch)
        if self.parts.device.type != "cpu":
            return [jobs[i : i + size] for i in range(0, len(jobs), size)]
        out: list[list[Job]] = []
        for job in jobs:
            shape = self._shape(job)
            last = out[-1] if out else None
            if last and shape is not None and len(last) < size and self._shape(last[0]) == shape:
                last.append(job)
            else:
                out.append([job])
        return out

    def _shape(self, job: Job) -> tuple | None:
        """What must match for two CPU lines to batch without padding; None: never (free
        pace, whose length is known only after decoding)."""
        if job.plan is None or any(t is None for t in job.token_targets):
            return None
        s = job.request.sampling
        return (
            job.voice.key,
            tuple(job.token_targets),
            job.plan.frames,
            self.flow_prompt_frames(job),
            job.decode,
            int(s.diffusion_steps),
            float(s.cfg_rate),
        )

    @staticmethod
    def _length_key(job: Job) -> int:
        if job.plan is not None:
            return job.plan.tokens
        return sum(len(s) for s in job.segments) * 4  # about 4 codes per text token

    def _result(self, job: Job) -> SynthesisResult:
        return job_result(job)

    def render_jobs(self, jobs: list[Job], stop: StopFn = lambda: False) -> None:
        """Render jobs in place; halve the batch on out-of-memory, isolate failures. Once
        `stop()` says so, the stages not yet begun are left undone."""
        render_halving(jobs, self._render, _forget_unfinished, self.parts.device, stop)

    def _render(self, jobs: list[Job], stop: StopFn = lambda: False) -> None:
        stages = (self._run_t2s, self._run_lengths, self._run_s2m, self._run_vocoder)
        render_stages(jobs, stop, self._autocast, self._fp32, *stages)

    # ---- stages -------------------------------------------------------------------------
    def _conds(self, job: Job) -> list[Tensor]:
        t2s = self.parts.t2s
        out = []
        for target in job.token_targets:
            c = t2s.conds(
                job.voice.spk_latents,
                job.emovec,
                duration_tokens=target,
                duration_embedding=self.duration_embedding if target is not None else "speed",
            )
            out.append(c[0])
        return out

    def _run_t2s(self, jobs: list[Job]) -> None:
        t2s = self.parts.t2s
        groups: dict[DecodeSettings, list[Job]] = {}
        for j in jobs:
            groups.setdefault(j.decode, []).append(j)
        for settings, group in groups.items():
            items = [(j, k) for j in group for k in range(len(j.segments))]
            conds = {j.index: self._conds(j) for j in group}
            item_conds = [conds[j.index][k] for j, k in items]
            texts = [torch.tensor(j.segments[k], dtype=torch.long) for j, k in items]
            t0 = time.perf_counter()
            decoded = decode(
                t2s,
                item_conds,
                texts,
                settings,
                targets=[j.decode_targets[k] for j, k in items],
                seeds=[stream_seed(j.request.seed, "t2s", k) for j, k in items],
            )
            t1 = time.perf_counter()
            codes = [d.codes for d in decoded]
            keep = [i for i, c in enumerate(codes) if c.numel() > 0]
            lat = latents(
                t2s,
                [item_conds[i] for i in keep],
                [texts[i] for i in keep],
                [codes[i] for i in keep],
            )
            lat_of = dict(zip(keep, lat, strict=True))
            t2 = time.perf_counter()
            for j in group:
                j.codes, j.latents, j.stops = [], [], []
            for i, (j, k) in enumerate(items):
                j.codes.append(codes[i])
                j.stops += segment_stops(decoded[i : i + 1])
                j.latents.append(lat_of.get(i, torch.zeros(0, t2s.dim)))
                if not decoded[i].stopped and j.token_targets[k] is None:
                    log.warning(
                        "request %d: generation stopped at max_tokens (%d)",
                        j.index,
                        settings.max_tokens,
                    )
                    where = f"segment {k + 1} of {len(j.segments)}" if len(j.segments) > 1 else ""
                    j.note(
                        f"speech cut at max_tokens ({settings.max_tokens} tokens)"
                        + (f" in {where}" if where else "")
                        + "; the end of the line may be missing (raise max_tokens or split it)"
                    )
            for j in group:
                j.t2s_done = True
                j.add_time("t2s", (t1 - t0) / len(group))
                j.add_time("latent", (t2 - t1) / len(group))
                if j.trace is not None:
                    j.trace["conds"] = conds[j.index]
                    j.trace["codes"] = list(j.codes)
                    j.trace["latents"] = list(j.latents)

    def _run_lengths(self, jobs: list[Job]) -> None:
        """Mel frames per segment (see the module docstring), or an error for the job."""
        for j in jobs:
            counts = [int(c.numel()) for c in j.codes]
            if sum(counts) == 0:
                j.error = "the T2S model produced no speech tokens for this line"
                continue
            natural = [official_target_frames(n) if n else 0 for n in counts]
            if j.plan is None:
                j.seg_frames = natural
                continue
            spoken = [i for i, n in enumerate(counts) if n > 0]
            if j.plan.frames < len(spoken):
                j.error = f"{j.request.duration_s:.3f} s is too short for this line"
                continue
            shares = split_exact(j.plan.frames, [counts[i] for i in spoken])
            j.seg_frames = [0] * len(counts)
            for i, f in zip(spoken, shares, strict=True):
                j.seg_frames[i] = f
            j.fit = job_fit(j, j.plan.tokens, sum(natural))
            if j.request.mode is DurationMode.NATURAL:
                ratio = pace_ratio(sum(natural), j.plan.frames)
                if not within_fit_range(ratio):
                    lo, hi = NATURAL_FIT_RANGE
                    j.flagged = (
                        f"natural length {ratio:.2f}x the slot, outside [{lo}, {hi}]; "
                        f"time-fitted anyway"
                    )

    def _target_cond(self, job: Job) -> Tensor:
        """vq2emb(codes) + gpt_layer(latent), regulated per segment, joined: [F, C]."""
        p = self.parts
        conds = []
        for codes, lat, frames in zip(job.codes, job.latents, job.seg_frames, strict=True):
            if frames == 0 or codes.numel() == 0:
                continue
            emb = p.codec.vq2emb(codes[None].to(p.device))  # [1, H, N]
            gl = p.s2m.gpt_latent_to_cond(lat[None].to(p.device))  # [1, N, H]
            s_infer = emb.transpose(1, 2).float() + gl.float()
            cond = p.s2m.regulate(s_infer, [frames])[0]
            conds.append(cond.float())
            if job.trace is not None:
                job.trace.setdefault("vq2emb", []).append(emb)
                job.trace.setdefault("gpt_layer", []).append(gl)
                job.trace.setdefault("s_infer", []).append(s_infer)
                job.trace.setdefault("cond", []).append(cond)
        return torch.cat(conds, dim=0)

    @staticmethod
    def flow_prompt_frames(job: Job) -> int:
        """Prompt frames the flow model sees: all, or the first flow_prompt_s seconds."""
        have = job.voice.prompt_frames
        limit = job.request.sampling.flow_prompt_s
        if limit is None:
            return have
        return max(1, min(have, frames_for(float(limit))))

    def _noise(self, job: Job, frames: int) -> Tensor:
        total = self.flow_prompt_frames(job) + frames
        channels = self.parts.s2m.cfg.dit.in_channels
        return flow_noise(job, total, channels, stream_seed(job.request.seed, "cfm"))

    def _run_s2m(self, jobs: list[Job]) -> None:
        s2m = self.parts.s2m
        block = s2m.cfg.dit.block_size
        groups: dict[tuple[int, float], list[Job]] = {}
        for j in jobs:
            total = self.flow_prompt_frames(j) + sum(j.seg_frames)
            if total > block:  # free pace: known only now; fail this line, not the batch
                j.error = (
                    f"the line needs {total} mel frames with its voice prompt, the S2M model "
                    f"renders at most {block}; split the line or use a shorter voice prompt"
                )
                continue
            s = j.request.sampling
            groups.setdefault((int(s.diffusion_steps), float(s.cfg_rate)), []).append(j)
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
            for j, mel in zip(group, mels, strict=True):
                j.mel = mel
                j.add_time("s2m", dt / len(group))
                if j.trace is not None:
                    j.trace["target_cond"] = targets[group.index(j)]
                    j.trace["mel"] = mel

    def _run_vocoder(self, jobs: list[Job]) -> None:
        run_vocoder(jobs, self.parts.vocoder, self.parts.device)
