"""The IndexTTS-2.5 engine: text + language + voice + emotion + duration -> 22050 Hz audio.

    engine = IndexTTS25Engine.load(model_dir, device="cuda")    # ModelFilesMissing if incomplete
    voice = engine.prepare_voice(audio, sample_rate)
    results = engine.synthesize([SynthesisRequest(..., language="ja"), ...])

One request runs through the official infer_v2_5 chain:
  text front-end (language token, per-language rules) -> segments -> GPT codes at 25/s per
  segment (speaker row = spk_emb_proj(CAMPPlus style) + emotion vector, language row on the
  text) -> codec.decode(codes) (50 Hz content, no GPT latent) -> length regulator per
  segment, segments joined without silence -> CFM from the voice's prompt -> BigVGAN.

Duration: models/indextts25/duration.py and models/guided.py (guided, the default: the stop
allowed within [0.85, 1.15] x round(25 d) codes; exact: that count forced; natural: free,
flagged outside [0.8, 1.25]; all then round(d * 22050 / 256) frames; free: int(2N * 1.72)).

Languages: zh, en, ja, es, ar (the request's `language`; without one the script of the text
decides: kana -> ja, Han -> zh, Arabic -> ar, Spanish marks -> es, else en, and the guess is
noted). Requests are grouped by voice and length, decoded per language and decoding settings,
rendered per diffusion settings; on out-of-memory a batch is halved; one bad request fails
alone. Float32 on the CPU; on CUDA the GPT runs under bf16/fp16 autocast, the rest float32.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from models.batching import RequestError, check_sampling
from models.common import files_fingerprint, indextts2_capabilities, stream_seed
from models.config import load_config
from models.contract import (
    SAMPLE_RATE,
    Capabilities,
    DurationMode,
    Sampling,
    StopFn,
    SynthesisRequest,
)
from models.duration import pace_ratio, split_exact, within_fit_range
from models.emotion import EmotionMatrices, TextEmotion
from models.emotion_request import read_description
from models.guided import SLOT_MODES, decode_targets, job_fit, segment_stops
from models.indextts25.campplus import load_speaker_style
from models.indextts25.codec import EnhancedCodec
from models.indextts25.duration import LengthPlan25, implied_duration_factor, release_frames
from models.indextts25.files import IndexTTS25Files, locate25
from models.indextts25.gpt import T2S25, with_language
from models.indextts25.s2m import load_s2m25
from models.indextts25.text import LANGUAGES, TextFrontEnd25
from models.indextts25.voice import Voice25, prepare_voice25
from models.indextts_chain import ChainJob, ChainParts, IndexTTSChain
from models.layout import read_torch
from models.line_limit import indextts25_line_limit
from models.semantic import SemanticEncoder
from models.t2s import decode
from models.t2s.loading import CheckpointMismatch, check_links
from models.units import PACE_RANGE
from models.vocoder import Vocoder

log = logging.getLogger(__name__)

MAX_SEGMENT_TOKENS = 120  # the official max_text_tokens_per_segment


def indextts25_capabilities(qwen_dir: Path, max_batch: int) -> Capabilities:
    """2.0's (the same emotion inputs and fits: models/guided.py) in 2.5's languages."""
    return dataclasses.replace(
        indextts2_capabilities(Path(qwen_dir), max_batch), languages=LANGUAGES
    )


@dataclass(kw_only=True)
class Parts25(ChainParts):
    text: TextFrontEnd25
    t2s: T2S25
    codec: EnhancedCodec


@dataclass(kw_only=True)
class Job25(ChainJob):
    """One request on its way through the chain (the e2e parity stage drives it too)."""

    voice: Voice25
    lang: str
    lang_id: int
    code_targets: list[int | None]  # per segment: the slot's codes (None = free decoding)
    plan: LengthPlan25 | None
    duration_factor: float = 1.0  # free mode only (the release's knob)


# Three-letter codes (subtitle names, --language) of the languages 2.5 speaks.
ISO_639_2 = {
    "zho": "zh",
    "chi": "zh",
    "cmn": "zh",
    "eng": "en",
    "jpn": "ja",
    "spa": "es",
    "ara": "ar",
}
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_SPANISH = re.compile(r"[ñÑ¿¡áéíóúÁÉÍÓÚ]")


def guess_language(text: str) -> str:
    """The language of a line without a language hint, from its script."""
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "zh"
    if _ARABIC.search(text):
        return "ar"
    if _SPANISH.search(text):
        return "es"
    return "en"


def check_widths25(parts: Parts25, files: IndexTTS25Files) -> None:
    """The files must chain: w2v-BERT features feed the GPT's emotion encoder, the codec's
    down-sampling conv and the regulator (prompt side), the codec's output the regulator
    (line side). Raise CheckpointMismatch naming both files of every broken link."""
    w2v = int(parts.semantic.mean.numel())
    lr_in = parts.s2m.cfg.length_regulator.in_channels
    links = [
        (
            "w2v-BERT feature width",
            w2v,
            files.w2v_stats,
            "codec width",
            parts.codec.hidden_size,
            files.codec,
        ),
        (
            "w2v-BERT feature width",
            w2v,
            files.w2v_stats,
            "GPT emotion input",
            parts.t2s.cfg.cond_input_size,
            files.gpt,
        ),
        (
            "codec width",
            parts.codec.hidden_size,
            files.codec,
            "S2M length regulator input",
            lr_in,
            files.s2mel,
        ),
    ]
    check_links(links, "the IndexTTS-2.5 files do not belong together (mixed releases?): ")


class IndexTTS25Engine(IndexTTSChain):
    name = "indextts25"
    voice_type = Voice25
    make_voice = staticmethod(prepare_voice25)
    prepared_by = "the IndexTTS-2.5 engine"
    flow_name = "the flow model"

    def __init__(self, parts: Parts25, dtype: torch.dtype = torch.float32, files_digest: str = ""):
        self.parts = parts
        self.dtype = dtype
        self.files_digest = files_digest
        self.max_batch = 8 if parts.device.type == "cuda" else 4
        self.max_segment_tokens = MAX_SEGMENT_TOKENS
        self._init_caches(reference_cache_size=256)

    @property
    def capabilities(self) -> Capabilities:
        return indextts25_capabilities(self.parts.qwen_dir, self.max_batch)

    @property
    def identity(self) -> str:
        return "|".join(
            [
                self.name,
                self.files_digest,
                self.parts.device.type,
                str(self.dtype),
                "codes25-exact",
                str(self.max_segment_tokens),
                str(self.parts.text.normalizer_backend),
            ]
        )

    # ---- loading ------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        model_dir: Path,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        normalize_text: bool = True,
    ) -> IndexTTS25Engine:
        """Load an IndexTTS-2.5 folder (model_dir/indextts25, or a 2.5 checkpoints folder).
        Raises ModelFilesMissing / ModelFilesDamaged naming every file, CheckpointMismatch
        naming every key whose shape the folder's config.yaml does not give."""
        files = locate25(Path(model_dir)).check()
        return cls.from_files(files, device=device, dtype=dtype, normalize_text=normalize_text)

    @classmethod
    def from_files(
        cls,
        files: IndexTTS25Files,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        normalize_text: bool = True,
    ) -> IndexTTS25Engine:
        files.check()
        dev = torch.device(device)
        cfg = load_config(files.config)
        codec_cfg = cfg.raw.get("semantic_codec")
        if not isinstance(codec_cfg, dict):
            raise CheckpointMismatch(f"{files.config}: no semantic_codec section")
        parts = Parts25(
            cfg=cfg,
            text=TextFrontEnd25(files.vocab, cfg.gpt.max_text_tokens, normalize=normalize_text),
            t2s=T2S25.load(files.gpt, cfg.gpt, device=dev),
            codec=EnhancedCodec.load(files.codec, codec_cfg, device=dev),
            s2m=load_s2m25(files.s2mel, cfg.raw, device=dev),
            semantic=SemanticEncoder.load(files.w2v_bert, files.w2v_stats, device=dev),
            style=load_speaker_style(files.campplus, device=dev),
            vocoder=Vocoder.load(files.bigvgan, device=dev),
            emotion_mats=EmotionMatrices.from_tensors(
                read_torch(files.spk_matrix), read_torch(files.emo_matrix), cfg.emo_num
            ),
            text_emotion=TextEmotion(files.qwen_emotion, device=dev),
            qwen_dir=files.qwen_emotion,
            device=dev,
        )
        check_widths25(parts, files)
        if dev.type == "cuda":
            dtype = dtype or (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
        else:
            dtype = torch.float32
        return cls(parts, dtype, files_fingerprint(files))

    def _text_weights(self, text: str) -> list[float]:
        missing = (
            "emotion from a text description needs the optional text-emotion model "
            f"({self.parts.qwen_dir} is missing); use the sliders or a reference clip"
        )
        p = self.parts
        return read_description(
            self._text_readings, text, p.text_emotion, p.qwen_dir, missing
        ).weights

    # ---- requests -> jobs ---------------------------------------------------------------
    line_limit = indextts25_line_limit  # what the model cannot hold, asked at planning

    def language_of(self, req: SynthesisRequest) -> tuple[str, bool]:
        """(language, guessed) of a request; RequestError for a language 2.5 does not speak."""
        if req.language:
            lang = req.language.lower().replace("_", "-").split("-")[0]
            lang = ISO_639_2.get(lang, lang)
            if lang not in LANGUAGES:
                raise RequestError(
                    f"IndexTTS-2.5 does not speak '{req.language}' (it speaks "
                    f"{', '.join(LANGUAGES)}); render this line with another engine"
                )
            return lang, False
        return guess_language(req.text), True

    @staticmethod
    def _validate(req: SynthesisRequest) -> None:
        check_sampling(req, flow_prompt=False)  # the flow model always sees the whole prompt

    def _decode_settings(self, req: SynthesisRequest) -> Sampling:
        """The request's sampling, its free-mode bound cut to what the position table
        holds (the stop code included), as the 2.0 engine does."""
        settings = req.sampling.decoding()
        limit = self.parts.t2s.cfg.mel_positions - 2
        if settings.max_tokens > limit:
            settings = dataclasses.replace(settings, max_tokens=limit)
        return settings

    @torch.inference_mode()
    def make_job(self, index: int, req: SynthesisRequest) -> Job25:
        t0 = time.perf_counter()
        voice = self._voice_of(req.voice)
        self._validate(req)
        lang, guessed = self.language_of(req)
        if not req.text.strip():
            raise RequestError("the line has no text to speak")
        prepared = self.parts.text.prepare(req.text, lang, self.max_segment_tokens)
        segments = [ids for ids in prepared.ids if len(ids) > 2]  # more than prefix + stop
        if not segments:
            raise RequestError("the line has no text to speak")
        plan = None
        targets: list[int | None] = [None] * len(segments)
        limit = self.parts.t2s.cfg.mel_positions - 2
        if req.duration_s is not None and req.mode is not DurationMode.FREE:
            try:
                plan = LengthPlan25.for_duration(req.duration_s)
            except ValueError as exc:
                raise RequestError(str(exc)) from exc
            total = voice.prompt_frames + plan.frames
            if total > self.parts.s2m.cfg.dit.block_size:
                raise RequestError(
                    f"{req.duration_s:.2f} s with this voice prompt needs {total} mel frames; "
                    f"the flow model renders at most {self.parts.s2m.cfg.dit.block_size}"
                )
            if req.mode in SLOT_MODES:  # 2.5 has no slot: the count only bounds the decoding
                if plan.codes < len(segments):
                    raise RequestError(f"{req.duration_s:.3f} s is too short for this line")
                targets = list(split_exact(plan.codes, [len(s) for s in segments]))
                if max(targets) > limit:
                    raise RequestError(
                        f"{req.duration_s:.1f} s needs {max(targets)} codes in one segment; the "
                        f"model decodes at most {limit}: split the line"
                    )
        t1 = time.perf_counter()
        emovec = self.emotion_vector(voice, req.emotion)
        t2 = time.perf_counter()
        job = Job25(
            index=index,
            request=req,
            voice=voice,
            lang=lang,
            lang_id=prepared.lang_id,
            segments=segments,
            emovec=emovec.reshape(1, -1),
            code_targets=targets,
            decode_targets=decode_targets(req.mode, targets, req.sampling.stop_window, limit),
            plan=plan,
            decode=self._decode_settings(req),
        )
        if guessed:
            job.note(f"no language given: spoken as '{lang}' (from the script of the text)")
        job.add_time("text", t1 - t0)
        job.add_time("emotion", t2 - t1)
        return job

    # ---- synthesis ----------------------------------------------------------------------
    @staticmethod
    def _length_key(job: Job25) -> int:
        return job.plan.codes if job.plan else sum(map(len, job.segments)) * 2

    @torch.inference_mode()
    def _render(self, jobs: list[Job25], stop: StopFn = lambda: False) -> None:
        super()._render(jobs, stop)

    # ---- stages -------------------------------------------------------------------------
    def _run_t2s(self, jobs: list[Job25]) -> None:
        t2s = self.parts.t2s
        groups: dict[tuple[Sampling, int], list[Job25]] = {}
        for j in jobs:
            groups.setdefault((j.decode, j.lang_id), []).append(j)
        for (settings, lang_id), group in groups.items():
            items = [(j, k) for j in group for k in range(len(j.segments))]
            conds = {j.index: t2s.conds25(j.voice.style, j.emovec)[0] for j in group}
            texts = [torch.tensor(j.segments[k], dtype=torch.long) for j, k in items]
            t0 = time.perf_counter()
            decoded = decode(
                with_language(t2s, lang_id),
                [conds[j.index] for j, _ in items],
                texts,
                settings,
                targets=[j.decode_targets[k] for j, k in items],
                seeds=[stream_seed(j.request.seed, "t2s", k) for j, k in items],
            )
            dt = time.perf_counter() - t0
            for j in group:
                j.codes, j.stops = [], []
            for d, (j, k) in zip(decoded, items, strict=True):
                j.codes.append(d.codes)
                j.stops += segment_stops([d])
                if not d.stopped and j.code_targets[k] is None:
                    j.note(
                        f"speech cut at max_tokens ({settings.max_tokens} codes); the end of the "
                        "line may be missing"
                    )
            for j in group:
                j.t2s_done = True
                j.add_time("t2s", dt / len(group))
                if j.trace is not None:
                    j.trace["conds"] = conds[j.index]
                    j.trace["codes"] = list(j.codes)

    def _run_lengths(self, jobs: list[Job25]) -> None:
        for j in jobs:
            counts = [int(c.numel()) for c in j.codes]
            if sum(counts) == 0:
                j.error = "the GPT produced no speech codes for this line"
                continue
            natural = [release_frames(n) if n else 0 for n in counts]
            if j.plan is None:
                j.seg_frames = [release_frames(n, j.duration_factor) if n else 0 for n in counts]
                continue
            spoken = [i for i, n in enumerate(counts) if n > 0]
            if j.plan.frames < len(spoken):
                j.error = f"{j.request.duration_s:.3f} s is too short for this line"
                continue
            j.seg_frames = [0] * len(counts)
            for i, f in zip(
                spoken, split_exact(j.plan.frames, [counts[i] for i in spoken]), strict=True
            ):
                j.seg_frames[i] = f
            j.fit = job_fit(j, j.plan.codes, sum(natural))
            if j.request.mode is DurationMode.NATURAL:
                ratio = pace_ratio(sum(natural), j.plan.frames)
                j.note(
                    f"natural length {sum(natural) * 256 / SAMPLE_RATE:.2f} s = {ratio:.2f}x the "
                    f"slot ({j.request.duration_s:.2f} s); fitted with duration factor "
                    f"{implied_duration_factor(sum(counts), j.plan.frames):.2f}"
                )
                if not within_fit_range(ratio):
                    lo, hi = PACE_RANGE
                    j.flagged = (
                        f"natural length {ratio:.2f}x the slot, outside [{lo}, {hi}]; "
                        "time-fitted anyway"
                    )

    def _target_cond(self, job: Job25) -> Tensor:
        """codec.decode(codes) regulated per segment to its frames, joined: [F, C]."""
        p = self.parts
        conds = []
        for codes, frames in zip(job.codes, job.seg_frames, strict=True):
            if frames == 0 or codes.numel() == 0:
                continue
            s_infer = p.codec.decode(codes[None].to(p.device))
            cond = p.s2m.regulate(s_infer, [frames])[0].float()
            conds.append(cond)
            if job.trace is not None:
                job.trace.setdefault("s_infer", []).append(s_infer)
                job.trace.setdefault("cond", []).append(cond)
        return torch.cat(conds, dim=0)
