"""The IndexTTS2 engine: text + voice + emotion + duration -> 22050 Hz audio, in batches.

    engine = IndexTTS2Engine.load(model_dir, device="cuda")     # ModelFilesMissing if incomplete
    voice = engine.prepare_voice(audio, sample_rate)            # cached per prompt (audio hash)
    results = engine.synthesize([SynthesisRequest(...), ...], progress)

One request runs through the official IndexTTS2 chain:
  text front-end -> segments (<= 120 tokens) -> T2S codes (per segment) -> GPT latents ->
  S2M condition (vq2emb(codes) + gpt_layer(latent), length-regulated per segment, the
  segments joined without silence) -> CFM from the voice's prompt mel -> BigVGAN.

Duration (models.duration):
- exact: T = round(50 d) tokens split over the segments in proportion to their text tokens
  (stop forbidden before, forced at each share), F = round(d * 22050 / 256) frames split in
  proportion to the tokens, the waveform trimmed / padded to round(d * 22050) samples;
- natural: free decoding, then the same F frames and samples; flagged when the natural
  length is outside [0.8, 1.25] of the slot (it is fitted anyway: the slot is fixed);
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
`precision="auto"` picks per stage from the hardware (bf16 decoder and flow model on CPUs
with AMX / AVX-512 BF16, fp16 decoder weights for narrow products elsewhere on the CPU,
bf16 or fp16 on CUDA; BigVGAN fp32). Without a precision the CPU runs fp32 (parity) and
CUDA the auto plan. On CUDA the T2S stage also runs under autocast in the plan's dtype. The
prompt path (w2v-BERT, codec, mel, CAMPPlus) and the conditioning encoders stay float32.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models.config import IndexTTSConfig, load_config
from models.contract import (
    STOPPED,
    Capabilities,
    DurationMode,
    EmotionSource,
    EmotionSpec,
    ModelFilesMissing,
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
    fit_to_samples,
    pace_ratio,
    split_exact,
    within_fit_range,
)
from models.emotion import EmotionMatrices, EmotionReading, TextEmotion, vector_to_emovec
from models.layout import IndexTTS2Files, locate, read_torch
from models.precision import PrecisionPlan, plan_precision
from models.registry import indextts2_capabilities
from models.s2m import S2M, official_target_frames
from models.semantic import SemanticCodec, SemanticEncoder, load_codec_config
from models.speaker import SpeakerStyle
from models.t2s import T2S, DecodeSettings, decode, latents
from models.t2s.loading import CheckpointMismatch
from models.text import TextFrontEnd
from models.units import frames_for
from models.vocoder import Vocoder
from models.voice import Voice, prepare_voice, reference_emovec, voice_key

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
    token_targets: list[int | None]  # per segment; None = free decoding
    plan: LengthPlan | None  # exact / natural: the slot
    decode: DecodeSettings
    noise: Tensor | None = None  # [80, P + F] to inject (parity); None = seeded draw
    trace: dict[str, Any] | None = None  # filled with intermediates when not None
    codes: list[Tensor] = field(default_factory=list)
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


class RequestError(ValueError):
    """A request that cannot be rendered; the message is shown to the editor."""


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


def _hash_audio(audio: np.ndarray, rate: int) -> str:
    data = np.ascontiguousarray(np.asarray(audio, dtype=np.float32))
    return f"{rate}-{hashlib.sha256(data.tobytes()).hexdigest()[:24]}"


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
    problems = [
        f"{a} {wa} ({fa}) != {b} {wb} ({fb})"
        for a, wa, fa, b, wb, fb in links
        if int(wa) != int(wb)
    ]
    if problems:
        raise CheckpointMismatch(
            "the model files do not belong together (mixed releases?): "
            + "; ".join(problems)
            + ". Download a complete IndexTTS2 folder with installer/download_models.py."
        )


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _model_dir_of(path: Path) -> Path:
    """The model directory (the folder holding indextts2/) of a file inside it."""
    root = path.parent
    return root.parent if root.name == "indextts2" else root


def files_fingerprint(files: IndexTTS2Files) -> str:
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
        parts = Parts(
            cfg=cfg,
            text=TextFrontEnd(files.bpe, normalize=normalize_text),
            t2s=T2S.load(files.gpt, cfg.gpt, device=dev),
            s2m=S2M.load(files.s2mel, cfg.raw, device=dev),
            semantic=SemanticEncoder.load(files.w2v_bert, files.w2v_stats, device=dev),
            codec=SemanticCodec.load(
                files.semantic_codec, load_codec_config(files.config), device=dev
            ),
            style=SpeakerStyle.load(files.campplus, device=dev),
            vocoder=Vocoder.load(files.bigvgan, device=dev),
            emotion_mats=EmotionMatrices.from_tensors(
                read_torch(files.spk_matrix), read_torch(files.emo_matrix), cfg.emo_num
            ),
            text_emotion=TextEmotion(files.qwen_emotion, device=dev),
            qwen_dir=files.qwen_emotion,
            device=dev,
        )
        check_widths(parts, files)
        plan = _pick_plan(dev, dtype, precision)
        return cls(parts, files_digest=files_fingerprint(files), precision=plan)

    def apply_precision(self, plan: PrecisionPlan) -> None:
        """Store each stage's weights in the plan's dtype, in place (once, no fp32 copy
        kept). Only from float32: going back would not restore the lost bits."""
        p = self.parts
        current = self.precision
        for stage in ("t2s", "s2m", "vocoder"):
            have, want = getattr(current, stage), getattr(plan, stage)
            if have != want and have != torch.float32:
                raise ValueError(f"the {stage} weights are already {have}; load the engine again")
        if plan.t2s != torch.float32:
            p.t2s.store_decoder(plan.t2s, plan.t2s_narrow_rows)
        if plan.s2m != torch.float32:
            p.s2m.store_estimator(plan.s2m)
        if plan.vocoder != torch.float32:
            p.vocoder.model.to(plan.vocoder)
        self.precision = plan
        self.dtype = plan.t2s
        log.info("precision: %s", plan.describe())

    def use_precision(self, choice: str | torch.dtype | PrecisionPlan) -> str | None:
        """Switch to the plan of `choice` (auto, fp32, bf16, fp16) for this device if the
        weights are still fp32; returns a sentence for the user when something changed or
        could not (an engine already in half precision stays so: load it again)."""
        plan = (
            choice
            if isinstance(choice, PrecisionPlan)
            else plan_precision(self.parts.device, choice)
        )
        if plan == self.precision:
            return None
        if not self.precision.is_fp32:
            return (
                f"precision {plan.label()} not applied: this engine already runs "
                f"{self.precision.label()} (restart to change it)"
            )
        self.apply_precision(plan)
        return f"precision: {plan.describe()}"

    def _autocast(self):
        """The T2S (GPT) stage's precision context; nothing else runs under it."""
        if self.parts.device.type == "cuda" and self.dtype != torch.float32:
            return torch.autocast("cuda", dtype=self.dtype)
        return contextlib.nullcontext()

    def _fp32(self):
        """Float32 for the stages the official code keeps there, even if a caller entered
        autocast around the engine."""
        return torch.autocast(self.parts.device.type, enabled=False)

    # ---- voices -------------------------------------------------------------------------
    def prepare_voice(self, audio: np.ndarray, sample_rate: int) -> VoiceHandle:
        key = voice_key(audio, sample_rate)
        voice = self._voices.get(key)
        if voice is None:
            with self._fp32():
                voice = prepare_voice(self.parts, audio, sample_rate, t2s_context=self._autocast)
            self._voices[key] = voice
            while len(self._voices) > self.voice_cache_size:
                self._voices.popitem(last=False)
        else:
            self._voices.move_to_end(key)
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
        p = self.parts
        if spec.source is EmotionSource.VOICE:
            return voice.own_emovec
        if spec.source is EmotionSource.REFERENCE:
            emo = self._reference(spec.reference_audio, spec.reference_rate)
            base = voice.base_emovec
            return base + spec.alpha * (emo - base)
        if spec.source is EmotionSource.VECTOR:
            weights = list(spec.vector or ())
        elif spec.source is EmotionSource.TEXT:
            weights = self._text_weights(spec.text or "")
        else:  # pragma: no cover - the enum is closed
            raise RequestError(f"unknown emotion source {spec.source}")
        return vector_to_emovec(weights, voice.style, p.emotion_mats, voice.own_emovec, spec.alpha)

    def _reference(self, audio: np.ndarray | None, rate: int) -> Tensor:
        if audio is None:
            raise RequestError("a reference emotion needs audio")
        key = _hash_audio(audio, rate)
        emo = self._ref_emovecs.get(key)
        if emo is None:
            try:
                with self._fp32():
                    emo = reference_emovec(self.parts, audio, rate, t2s_context=self._autocast)
            except ValueError as exc:
                raise RequestError(str(exc)) from exc
            self._ref_emovecs[key] = emo
            while len(self._ref_emovecs) > self.reference_cache_size:
                self._ref_emovecs.popitem(last=False)
        return emo

    def _text_weights(self, text: str) -> list[float]:
        if text in self._text_readings:
            return self._text_readings[text].weights
        qwen = self.parts.qwen_dir
        if not (qwen / "config.json").is_file():
            raise RequestError(
                f"emotion from a text description needs the optional Qwen text-to-emotion "
                f"model, which is missing ({qwen} not found). Download it, from the Dubsmith "
                f"folder, with: .venv/bin/python installer/download_models.py --model-dir "
                f"{_model_dir_of(qwen)} (it is the qwen0.6bemo4-merge folder of "
                f"IndexTeam/IndexTTS-2), or use the emotion sliders or a reference clip instead."
            )
        try:
            reading = self.parts.text_emotion.read(text)
        except ModelFilesMissing as exc:
            raise RequestError(str(exc)) from exc
        self._text_readings[text] = reading
        return reading.weights

    # ---- requests -> jobs ---------------------------------------------------------------
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
        if plan is not None and req.mode is DurationMode.EXACT:
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
        """Settings that would fail (or hang) a decode: refused before any work, so the
        request fails alone instead of sinking its batch."""
        s = req.sampling
        problems = []
        if s.do_sample and not s.temperature > 0:
            problems.append(f"temperature {s.temperature} (sampling needs > 0)")
        if not s.repetition_penalty > 0:
            problems.append(f"repetition_penalty {s.repetition_penalty} (needs > 0)")
        if int(s.max_tokens) < 1:
            problems.append(f"max_tokens {s.max_tokens} (needs >= 1)")
        if int(s.num_beams) < 1:
            problems.append(f"num_beams {s.num_beams} (needs >= 1)")
        if int(s.diffusion_steps) < 1:
            problems.append(f"diffusion_steps {s.diffusion_steps} (needs >= 1)")
        if s.flow_prompt_s is not None and not s.flow_prompt_s > 0:
            problems.append(f"flow_prompt_s {s.flow_prompt_s} (needs > 0, or None: all)")
        if problems:
            raise RequestError("invalid sampling settings: " + ", ".join(problems))

    # ---- synthesis ----------------------------------------------------------------------
    def synthesize(
        self,
        requests: Sequence[SynthesisRequest],
        progress: ProgressFn | None = None,
        *,
        on_result: ResultFn | None = None,
        should_stop: StopFn | None = None,
    ) -> list[SynthesisResult]:
        total = len(requests)
        results: list[SynthesisResult | None] = [None] * total
        stop = should_stop or (lambda: False)

        def finish(index: int, result: SynthesisResult) -> None:
            results[index] = result
            if on_result:
                on_result(index, result)

        jobs: list[Job] = []
        for i, req in enumerate(requests):
            try:
                jobs.append(self.make_job(i, req))
            except Exception as exc:  # noqa: BLE001 - one bad request must not sink the rest
                finish(i, SynthesisResult(None, req.target_samples(), error=_message(exc)))
        done = sum(r is not None for r in results)
        if progress:
            progress(done, total)
        # Same voice together (its prompt is shared), then similar lengths (less padding).
        jobs.sort(key=lambda j: (j.voice.key, self._length_key(j)))
        for chunk in self._batches(jobs):
            if stop():
                break
            self.render_jobs(chunk, stop)
            for job in chunk:
                if job.audio is not None or job.error is not None:
                    finish(job.index, self._result(job))
            done += len(chunk)
            if progress:
                progress(done, total)
        return [
            r if r is not None else SynthesisResult(None, req.target_samples(), error=STOPPED)
            for r, req in zip(results, requests, strict=True)
        ]

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
        want = job.request.target_samples() if job.plan is not None else None
        if job.error is not None or job.audio is None:
            return SynthesisResult(
                None,
                job.request.target_samples(),
                error=job.error or "rendering produced no audio",
                timings=dict(job.timings),
            )
        return SynthesisResult(
            job.audio,
            want,
            flagged=job.flagged,
            notes=list(job.notes),
            timings={k: round(v, 6) for k, v in job.timings.items()},
            tokens=sum(int(c.numel()) for c in job.codes),
        )

    def render_jobs(self, jobs: list[Job], stop: StopFn = lambda: False) -> None:
        """Render jobs in place; halve the batch on out-of-memory, isolate failures. Once
        `stop()` says so, the stages not yet begun are left undone."""
        live = [j for j in jobs if j.error is None]
        if not live or stop():
            return
        oom, message = False, ""
        try:
            self._render(live, stop)
            return
        except Exception as exc:  # noqa: BLE001
            # Only note what happened: recursing from here would keep the traceback, and
            # with it the failed frames' KV caches and activations, alive during the retry.
            oom, message = _is_oom(exc), _message(exc)
        self._release_memory()
        if len(live) == 1:
            live[0].error = (
                "out of GPU memory even alone; try a shorter line or voice prompt"
                if oom
                else message
            )
            log.warning("request %d failed: %s", live[0].index, live[0].error)
            return
        if not oom:
            log.info("a batch of %d failed (%s); rendering it in halves", len(live), message)
        for job in live:  # unfinished stages start afresh; finished ones are kept
            if not job.t2s_done:
                job.codes, job.latents = [], []
        half = len(live) // 2
        self.render_jobs(live[:half], stop)
        self.render_jobs(live[half:], stop)

    def _release_memory(self) -> None:
        gc.collect()  # frames of the failed batch may sit in reference cycles
        if self.parts.device.type == "cuda":
            torch.cuda.empty_cache()

    def _render(self, jobs: list[Job], stop: StopFn = lambda: False) -> None:
        todo = [j for j in jobs if not j.t2s_done]
        if todo:
            with self._autocast():
                self._run_t2s(todo)
        with self._fp32():
            # A stop between stages spares the flow model's minutes of work that would be
            # thrown away; the lines of this batch are then rendered afresh next time.
            if stop():
                return
            self._run_lengths([j for j in jobs if j.error is None and j.mel is None])
            self._run_s2m([j for j in jobs if j.error is None and j.mel is None])
            if stop():
                return
            self._run_vocoder([j for j in jobs if j.error is None and j.audio is None])

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
                targets=[j.token_targets[k] for j, k in items],
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
                j.codes, j.latents = [], []
            for i, (j, k) in enumerate(items):
                j.codes.append(codes[i])
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
        if job.noise is not None:
            return job.noise
        gen = torch.Generator(device="cpu").manual_seed(stream_seed(job.request.seed, "cfm"))
        return torch.randn([self.parts.s2m.cfg.dit.in_channels, total], generator=gen)

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
        if not jobs:
            return
        t0 = time.perf_counter()
        mels = [j.mel.float() for j in jobs]
        if self.parts.device.type == "cpu":
            # Measured (bench/engine.py, 2 cores): a padded batch of 4 costs 2.9 s per audio
            # second against 1.0 s one by one; the batch only pays off on an accelerator.
            waves = [self.parts.vocoder([m])[0] for m in mels]
        else:
            waves = self.parts.vocoder(mels)
        dt = time.perf_counter() - t0
        for j, wave in zip(jobs, waves, strict=True):
            if j.trace is not None:
                j.trace["wave"] = wave
            if j.plan is not None:
                wave = fit_to_samples(wave, j.plan.samples)
            j.audio = np.ascontiguousarray(wave, dtype=np.float32)
            j.add_time("vocoder", dt / len(jobs))


def _message(exc: BaseException) -> str:
    if isinstance(exc, (RequestError, ModelFilesMissing)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
