"""VoxCPM2 behind the engine contract: the `voxcpm` package does the speech; this module
prepares voices, turns our emotion inputs into its style text, and fits each line to its
span (models/voxcpm2/fit.py), since VoxCPM2 has no duration input.

Loaded from a local folder only (models/voxcpm2/files.py): the package's hub download is
never called, its denoiser (which would fetch a model) is only used when the folder has
it, and its torch.compile warm-up is off (CPU, and no surprise minutes at load).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.contract import (
    STOPPED,
    Capabilities,
    DurationControl,
    DurationMode,
    EmotionSource,
    EmotionSpec,
    ModelFilesDamaged,
    ProgressFn,
    ResultFn,
    Sampling,
    StopFn,
    SynthesisRequest,
    SynthesisResult,
    VoiceHandle,
)
from models.hub_offline import hub_offline
from models.voxcpm2.files import FOLDER, HINT, VoxCPM2Files, locate
from models.voxcpm2.fit import (
    MAX_CANDIDATES,
    NATURAL_PACE,
    PACES,
    Candidate,
    StepBounds,
    fit_take,
    next_pace,
    speech_bounds,
    step_bounds,
    stretch_limits,
    within,
)
from models.voxcpm2.style import styled_text

# The 30 languages of the VoxCPM2 release (ISO 639-1), in its own list's order.
LANGUAGES: tuple[str, ...] = (
    "ar", "my", "zh", "da", "nl", "en", "fi", "fr", "de", "el",
    "he", "hi", "id", "it", "ja", "km", "ko", "lo", "ms", "no",
    "pl", "pt", "ru", "es", "sw", "sv", "tl", "th", "tr", "vi",
)  # fmt: skip
OUTPUT_RATE = 48000
PROMPT_RATE = 16000  # the audio VAE's input rate
# Its style text takes a description (TEXT) or words for a vector (VECTOR); a reference
# clip's delivery cannot be put into words, so REFERENCE is not honoured.
EMOTIONS = frozenset({EmotionSource.VOICE, EmotionSource.VECTOR, EmotionSource.TEXT})
REFERENCE_UNSUPPORTED = (
    "VoxCPM2 cannot copy a delivery from a reference clip; lines take the voice's own "
    "delivery (set an emotion vector or a text description to steer them)"
)
CFG_VALUE = 2.0  # its default guidance
PACKAGE_MAX_STEPS = 2000  # the package's bound of a run (generate's max_len default)


def voxcpm2_capabilities() -> Capabilities:
    return Capabilities(
        languages=LANGUAGES,
        sample_rate=OUTPUT_RATE,
        duration_control=DurationControl.FITTED,
        emotion_inputs=EMOTIONS,
        max_batch=1,
        prompt_transcript=True,
    )


@dataclass
class _Voice:
    cache: dict[str, Any]  # the package's prompt cache (latents of the prompt)
    transcript: str | None


def _quiet_progress() -> None:
    """The package draws a tqdm bar per generation on stderr; ours show the dub's."""
    import voxcpm.model.voxcpm2 as impl

    impl.tqdm = lambda iterable, *args, **kwargs: iterable  # noqa: ARG005


class VoxCPM2Engine:
    name = "voxcpm2"
    max_batch = 1  # the package decodes one request at a time (a batch-1 static KV cache)

    def __init__(
        self,
        pipeline: Any,
        files: VoxCPM2Files,
        device: str,
        *,
        max_candidates: int = MAX_CANDIDATES,
        notes: Sequence[str] = (),
    ) -> None:
        self.pipeline = pipeline  # voxcpm.VoxCPM
        self.model = pipeline.tts_model  # voxcpm.model.voxcpm2.VoxCPM2Model
        self.files = files
        self.device = device
        self.max_candidates = max_candidates
        self.load_notes = list(notes)
        self.step_samples = int(self.model.patch_size * self.model._decode_chunk_size)
        self.sample_rate = int(self.model.sample_rate)

    # ---- loading ------------------------------------------------------------------------
    @classmethod
    def load(cls, model_dir: Path, device: str = "cpu") -> VoxCPM2Engine:
        files = locate(model_dir)
        files.check()
        try:
            _quiet_progress()
            from voxcpm import VoxCPM
        except ImportError as exc:
            raise ImportError(
                f"{exc}; install it with: pip install --no-deps voxcpm==2.0.3 "
                "(installer/install.sh does)"
            ) from exc

        chatter = io.StringIO()  # the package prints its loading steps to stderr
        with (
            hub_offline(),  # the package's tokenizer load takes no local_files_only
            contextlib.redirect_stderr(chatter),
            contextlib.redirect_stdout(chatter),
        ):
            pipeline = VoxCPM(
                voxcpm_model_path=str(files.root),
                zipenhancer_model_path=None,  # a model id here would be fetched
                enable_denoiser=False,
                optimize=False,
                device=device,
            )
        _check_weights(files, pipeline.tts_model)
        notes = []
        if files.denoiser is not None:
            try:
                from voxcpm.zipenhancer import ZipEnhancer

                pipeline.denoiser = ZipEnhancer(str(files.denoiser))
            except Exception as exc:  # noqa: BLE001 - modelscope absent or the folder unusable
                notes.append(f"the prompt denoiser in {files.denoiser} is not used ({exc})")
        return cls(pipeline, files, device, notes=notes)

    @property
    def capabilities(self) -> Capabilities:
        return voxcpm2_capabilities()

    @property
    def identity(self) -> str:
        """What shapes its audio besides a request: the files, device, precision, the
        package's version and the fitting rules (the take cache keys on it)."""
        from importlib.metadata import version

        from models.voxcpm2 import fit

        return "|".join(
            [
                self.name,
                self.files.fingerprint(),
                self.device.split(":")[0],
                str(self.model.config.dtype),
                f"voxcpm-{version('voxcpm')}",
                f"fit-{fit.STRETCH_LIMIT}-{fit.MIN_UNDER}-{fit.MAX_OVER}-{self.max_candidates}",
                "denoised" if self.pipeline.denoiser is not None else "raw",
            ]
        )

    def line_limit(self, text: str, duration_s: float | None) -> str | None:
        """Why the model cannot speak `text` in `duration_s` (None: at its own pace), or
        None. Its text tokens and the decoding steps the line may run (the slot's bound,
        and the package's text bound of 6 steps a token plus 10) share one position table
        (config max_length, a static cache): a line that overflows it is refused before
        any decoding. The voice prompt needs room too: this is what the line alone needs."""
        tokens = len(self.model.text_tokenizer(text))
        steps = min(PACKAGE_MAX_STEPS, int(tokens * 6.0 + 10))
        if duration_s is not None:
            target = round(duration_s * self.sample_rate)
            steps = min(steps, step_bounds(target, self.step_samples).max_steps)
        room = int(self.model.config.max_length)
        if tokens + 1 + steps <= room:
            return None
        return (
            f"its {tokens} text tokens and up to {steps} decoding steps need "
            f"{tokens + 1 + steps} positions, VoxCPM2 holds {room}: split the line"
        )

    # ---- voices -------------------------------------------------------------------------
    def prepare_voice(
        self, audio: np.ndarray, sample_rate: int, *, transcript: str | None = None
    ) -> VoiceHandle:
        """Clone from the prompt: its latents as the reference (timbre), and, with its
        transcript, also as the start the speech continues from (the closest clone)."""
        import soundfile as sf
        import soxr

        mono = np.asarray(audio, dtype=np.float32).reshape(-1)
        if sample_rate != PROMPT_RATE:
            mono = soxr.resample(mono, sample_rate, PROMPT_RATE, quality="HQ").astype(np.float32)
        transcript = (transcript or "").strip() or None
        digest = hashlib.sha256(mono.tobytes() + (transcript or "").encode()).hexdigest()[:16]
        with tempfile.TemporaryDirectory(prefix="dubsmith-voxcpm2-") as tmp:
            path = Path(tmp) / "prompt.wav"
            sf.write(path, mono, PROMPT_RATE, subtype="FLOAT")
            if self.pipeline.denoiser is not None:
                cleaned = Path(tmp) / "prompt.clean.wav"
                self.pipeline.denoiser.enhance(str(path), output_path=str(cleaned))
                path = cleaned
            kwargs: dict[str, Any] = {"reference_wav_path": str(path)}
            if transcript:
                kwargs.update(prompt_text=transcript, prompt_wav_path=str(path))
            cache = self.model.build_prompt_cache(**kwargs)
        return VoiceHandle(key=f"voxcpm2:{digest}", data=_Voice(cache, transcript))

    # ---- rendering ----------------------------------------------------------------------
    def synthesize(
        self,
        requests: Sequence[SynthesisRequest],
        progress: ProgressFn | None = None,
        *,
        on_result: ResultFn | None = None,
        should_stop: StopFn | None = None,
    ) -> list[SynthesisResult]:
        results: list[SynthesisResult] = []
        for pos, req in enumerate(requests):
            target = self._target(req)
            if should_stop and should_stop():
                res = SynthesisResult(None, target, error=STOPPED, sample_rate=self.sample_rate)
            else:
                why = self.line_limit(req.text, None if target is None else req.duration_s)
                try:
                    if why:  # it would overrun the model's position table: never decoded
                        raise ValueError(why)
                    res = self._render(req, target, should_stop)
                except Exception as exc:  # noqa: BLE001 - one failed line must not end the dub
                    res = SynthesisResult(
                        None, target, error=f"VoxCPM2 failed: {exc}", sample_rate=self.sample_rate
                    )
            results.append(res)
            if on_result:
                on_result(pos, res)
            if progress:
                progress(pos + 1, len(requests))
        return results

    def _target(self, req: SynthesisRequest) -> int | None:
        if req.duration_s is None or req.mode is DurationMode.FREE:
            return None
        return req.target_samples(self.sample_rate)

    @staticmethod
    def _timesteps(sampling: Sampling) -> int:
        # The steps as asked, 25 included (the final preset's): a default of 25 cannot be
        # told from a --flow-steps 25, so none is mistaken for "not set". Draft asks 10,
        # VoxCPM2's own default.
        return sampling.steps()

    @staticmethod
    def _guidance(sampling: Sampling) -> float:
        """Our guidance (IndexTTS2's cfg_rate: 0 none, 0.7 its default) on VoxCPM2's
        scale (1 none, 2.0 its default): the defaults meet, no guidance stays none (the
        draft preset's), and values between are linear."""
        return 1.0 + sampling.cfg_rate * (CFG_VALUE - 1.0) / Sampling().cfg_rate

    def _prompt_cache(self, voice: _Voice, sampling: Sampling) -> dict[str, Any]:
        """The voice's prompt cache, its reference cut to the first `flow_prompt_s` seconds
        when asked (the draft preset's shorter prompt). A cut prompt no longer says its
        whole transcript, so it clones as a reference only, without continuation."""
        seconds = sampling.flow_prompt_s
        ref = voice.cache.get("ref_audio_feat")
        if seconds is None or ref is None:
            return voice.cache
        rows = max(1, math.ceil(seconds * self.sample_rate / self.step_samples))
        return {"ref_audio_feat": ref[:rows], "mode": "reference"}

    def use_precision(self, precision: str | None) -> str | None:
        """VoxCPM2 runs in its config's number format; a --precision asked is not taken,
        and the dub says so rather than ignore it quietly."""
        if precision in (None, "auto"):
            return None
        return (
            f"VoxCPM2 runs in its model's own number format ({self.model.config.dtype}); "
            f"--precision {precision} is ignored for it"
        )

    def _generate(
        self,
        req: SynthesisRequest,
        emotion: EmotionSpec,
        pace: int,
        seed: int,
        bounds: StepBounds | None,
    ) -> Candidate:
        import torch

        voice: _Voice = req.voice.data
        text = styled_text(req.text, emotion, PACES[pace])
        torch.manual_seed(seed)
        kwargs: dict[str, Any] = {}
        limit = PACKAGE_MAX_STEPS  # the package's own bound, when the line has no span
        if bounds is not None:
            # It may stop once more than min_len steps exist (min_len + 2 patches).
            kwargs = {"min_len": max(0, bounds.min_steps - 2), "max_len": bounds.max_steps}
            limit = bounds.max_steps
        # The package also bounds a run by the text: 6 steps per token, plus 10. Under the
        # slot's minimum that bound ends the run before it may stop: the take is short.
        tokens = len(self.model.text_tokenizer(text))
        text_limit = int(tokens * 6.0 + 10)
        cut_short = bounds is not None and text_limit < bounds.min_steps
        limit = min(limit, text_limit)
        wav, _, feats = self.model.generate_with_prompt_cache(
            target_text=text,
            prompt_cache=self._prompt_cache(voice, req.sampling),
            inference_timesteps=self._timesteps(req.sampling),
            cfg_value=self._guidance(req.sampling),
            **kwargs,
        )
        audio = wav.reshape(-1).float().cpu().numpy().astype(np.float32)
        steps = int(feats.shape[0])
        cand = Candidate(audio=audio, pace=pace, stopped=steps < limit, cut_short=cut_short)
        cand.start, cand.end = speech_bounds(audio, self.sample_rate)
        return cand

    def _render(
        self, req: SynthesisRequest, target: int | None, should_stop: StopFn | None
    ) -> SynthesisResult:
        notes: list[str] = []
        emotion = req.emotion
        if emotion.source not in EMOTIONS:
            notes.append(REFERENCE_UNSUPPORTED)
            emotion = EmotionSpec()
        t0 = time.perf_counter()
        if target is None:
            cand = self._generate(req, emotion, NATURAL_PACE, req.seed, None)
            return SynthesisResult(
                cand.audio,
                None,
                notes=notes,
                timings={"generate": time.perf_counter() - t0},
                sample_rate=self.sample_rate,
            )
        bounds = step_bounds(target, self.step_samples)
        natural_mode = req.mode is DurationMode.NATURAL
        limits = stretch_limits(natural_mode)
        # Natural mode speaks as it comes (one take); exact mode tries paces for the slot.
        budget = 1 if natural_mode else max(1, self.max_candidates)
        candidates: list[Candidate] = []
        pace: int | None = NATURAL_PACE
        tried: set[int] = set()
        while pace is not None and len(candidates) < budget:
            if candidates and should_stop and should_stop():
                break  # what exists is fitted and kept
            tried.add(pace)
            seed = req.seed + 1009 * len(candidates)
            cand = self._generate(req, emotion, pace, seed, bounds)
            candidates.append(cand)
            ratio = cand.ratio(target)
            if cand.stopped and within(ratio, limits):
                break
            # A run that never stopped is taken as too long (ask faster), unless the text's
            # bound cut it under the slot's minimum: it is too short (ask slower).
            heard = ratio if cand.stopped or cand.cut_short else 2.0
            pace = next_pace(pace, heard, tried)
        t_gen = time.perf_counter() - t0
        fit = fit_take(candidates, target, self.sample_rate, limits)
        return SynthesisResult(
            fit.audio,
            target,
            flagged=fit.flag,
            notes=notes,
            timings={"generate": t_gen, "fit": time.perf_counter() - t0 - t_gen},
            tokens=sum(len(c.audio) // self.step_samples for c in candidates),
            sample_rate=self.sample_rate,
            fit=fit.to_dict(),
        )


def _check_weights(files: VoxCPM2Files, model: Any) -> None:
    """The package loads weights leniently (strict=False): a checkpoint of another size
    or a cut one would render noise silently. Every weight the config needs must be in it."""
    path = files.part("model")
    if path.suffix != ".safetensors":
        return  # a pickle-free index is only cheap to read for safetensors
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        present = set(f.keys())
    needed = {k for k in model.state_dict() if not k.startswith("audio_vae.") and "lora_" not in k}
    lacking = sorted(needed - present)
    if lacking:
        shown = ", ".join(lacking[:3]) + (" ..." if len(lacking) > 3 else "")
        raise ModelFilesDamaged(
            files.root.parent,
            [
                (
                    f"{FOLDER}/{path.name}",
                    f"lacks {len(lacking)} weight(s) its config needs: {shown}",
                )
            ],
            HINT,
        )
