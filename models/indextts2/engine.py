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
import logging
import time
from pathlib import Path

import torch
from torch import Tensor

from models.batching import RequestError, check_sampling
from models.common import files_fingerprint, indextts2_capabilities, stream_seed
from models.config import load_config
from models.contract import (
    Capabilities,
    DurationMode,
    EmotionSource,
    Sampling,
    SynthesisRequest,
)
from models.duration import (
    NATURAL_FIT_RANGE,
    LengthPlan,
    pace_ratio,
    split_exact,
    within_fit_range,
)
from models.emotion import EmotionMatrices, TextEmotion
from models.emotion_request import read_description
from models.guided import SLOT_MODES, decode_targets, job_fit, segment_stops
from models.indextts2.parts import Job, Parts, _pick_plan, check_widths, model_dir_of, store_stage
from models.indextts2.voice import Voice, prepare_voice
from models.indextts_chain import IndexTTSChain
from models.layout import IndexTTS2Files, locate, read_torch
from models.line_limit import indextts2_line_limit
from models.precision import PrecisionPlan, plan_precision
from models.s2m import S2M, official_target_frames
from models.semantic import SemanticCodec, SemanticEncoder, load_codec_config
from models.speaker import SpeakerStyle
from models.t2s import T2S, decode, latents
from models.text import TextFrontEnd
from models.units import frames_for
from models.vocoder import Vocoder

log = logging.getLogger(__name__)

MAX_SEGMENT_TOKENS = 120  # the official max_text_tokens_per_segment
STAGES = ("text", "emotion", "t2s", "latent", "s2m", "vocoder")


class IndexTTS2Engine(IndexTTSChain):
    name = "indextts2"
    voice_type = Voice
    make_voice = staticmethod(prepare_voice)

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
        self._init_caches(reference_cache_size=256)

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

    def _text_weights(self, text: str) -> list[float]:
        qwen = self.parts.qwen_dir
        missing = (
            f"emotion from a text description needs the optional Qwen text-to-emotion "
            f"model, which is missing ({qwen} not found). Download it, from the Dubsmith "
            f"folder, with: .venv/bin/python installer/download_models.py --model-dir "
            f"{model_dir_of(qwen)} (it is the qwen0.6bemo4-merge folder of "
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
        settings = req.sampling.decoding()
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
            s.steps(),
            float(s.cfg_rate),
        )

    @staticmethod
    def _length_key(job: Job) -> int:
        if job.plan is not None:
            return job.plan.tokens
        return sum(len(s) for s in job.segments) * 4  # about 4 codes per text token

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
        groups: dict[Sampling, list[Job]] = {}
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
