"""The engine contract between core/ and models/ (see DESIGN.md, "The engine contract").

Plain data only: core/ builds these, an Engine consumes them. Nothing here imports torch,
so core/ and its tests can use the contract without the neural stack.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from models.units import MEL_HOP, SAMPLE_RATE, SEMANTIC_TOKENS_PER_SECOND, samples_for

__all__ = ["MEL_HOP", "SAMPLE_RATE", "SEMANTIC_TOKENS_PER_SECOND"]  # re-exported

EMOTION_NAMES: tuple[str, ...] = (
    "happy",
    "angry",
    "sad",
    "afraid",
    "disgusted",
    "melancholic",
    "surprised",
    "calm",
)


class EmotionSource(StrEnum):
    VOICE = "voice"  # the timbre prompt's own delivery
    REFERENCE = "reference"  # a reference clip (by default the original line's audio)
    VECTOR = "vector"  # 8 weights in EMOTION_NAMES order
    TEXT = "text"  # a description, turned into a vector by the text-to-emotion model


class DurationMode(StrEnum):
    # The default: the decoder conditioned with the target where the model has a slot, its
    # stop allowed in a window around T and forced at its end; the flow model then regulates
    # whatever count came out to exactly F frames, the waveform to exactly N samples.
    GUIDED = "guided"
    EXACT = "exact"  # exactly T tokens (stop forbidden before, forced at T) / F frames / N samples
    NATURAL = "natural"  # free pace, time-fitted when close enough, else flagged
    FREE = "free"  # free pace, no fitting at all (official release behaviour)


@dataclass(frozen=True)
class EmotionSpec:
    source: EmotionSource = EmotionSource.VOICE
    # REFERENCE: mono float32 audio and its sample rate
    reference_audio: np.ndarray | None = field(default=None, compare=False, repr=False)
    reference_rate: int = 0
    vector: tuple[float, ...] | None = None
    text: str | None = None
    alpha: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"emotion alpha must be in [0, 1], got {self.alpha}")
        if self.source is EmotionSource.VECTOR:
            if self.vector is None or len(self.vector) != len(EMOTION_NAMES):
                raise ValueError(f"an emotion vector needs {len(EMOTION_NAMES)} weights")
        if self.source is EmotionSource.TEXT and not (self.text or "").strip():
            raise ValueError("a text emotion needs a description")
        if self.source is EmotionSource.REFERENCE and (
            self.reference_audio is None or self.reference_rate <= 0
        ):
            raise ValueError("a reference emotion needs audio and its sample rate")


@dataclass(frozen=True)
class Sampling:
    """The sampling settings of a request: the T2S decoding ones (the first nine) and the
    flow model's. One frozen type, changed through dataclasses.replace."""

    do_sample: bool = True
    temperature: float = 0.8
    top_k: int = 30
    top_p: float = 0.8
    repetition_penalty: float = 10.0
    num_beams: int = 1
    length_penalty: float = 0.0
    max_tokens: int = 1500  # free mode bound, stop token included (official max_mel_tokens)
    # The start code cannot be turned into audio (vq2emb has no row for it). The official code
    # does not forbid it; our default does.
    suppress_start: bool = True
    # Flow model steps; None: the engine's own default. 25 (IndexTTS's) stays the default
    # value so that a request says what it renders with (take caches and reports read it).
    diffusion_steps: int | None = 25
    cfg_rate: float = 0.7
    # Seconds of the voice prompt the flow model conditions on (its first ones); None: all
    # of it. The flow model runs over prompt + line frames, so draft previews cut it.
    flow_prompt_s: float | None = None
    # Guided mode: the stop token is allowed from (1 - w) T codes on and forced at (1 + w) T.
    stop_window: float = 0.15

    @classmethod
    def official(cls) -> Sampling:
        """IndexTTS2 release defaults: beam sampling, 3 beams, rep 10, top-p 0.8, top-k 30."""
        return cls(num_beams=3, suppress_start=False)

    @classmethod
    def greedy(cls, repetition_penalty: float = 10.0, max_tokens: int = 1500) -> Sampling:
        return cls(
            do_sample=False,
            top_k=1,
            num_beams=1,
            repetition_penalty=repetition_penalty,
            max_tokens=max_tokens,
        )

    def steps(self, default: int = 25) -> int:
        """The flow model's steps: as asked, else the engine's `default`."""
        return int(default if self.diffusion_steps is None else self.diffusion_steps)

    def decoding(self) -> Sampling:
        """Only the T2S decoding settings (the flow ones at their defaults): requests that
        decode alike share one batch whatever their flow settings."""
        return dataclasses.replace(
            self,
            diffusion_steps=None,
            cfg_rate=Sampling.cfg_rate,
            flow_prompt_s=None,
            stop_window=Sampling.stop_window,
        )


@dataclass
class VoiceHandle:
    """An engine-prepared voice. `data` is engine-private (tensors); `key` identifies it."""

    key: str
    data: Any = field(repr=False, default=None)


@dataclass(frozen=True)
class SynthesisRequest:
    text: str
    voice: VoiceHandle
    emotion: EmotionSpec = field(default_factory=EmotionSpec)
    duration_s: float | None = None  # None: free pace
    mode: DurationMode = DurationMode.EXACT
    sampling: Sampling = field(default_factory=Sampling)
    seed: int = 0
    # Text normalisation hint ("en", "zh"): decides how digits-only text such as "1999" is
    # read. None keeps the official rule (Chinese readings unless the text has letters).
    language: str | None = None

    def target_samples(self, sample_rate: int = SAMPLE_RATE) -> int | None:
        """The exact length asked, in samples at `sample_rate` (the engine's rate)."""
        if self.duration_s is None:
            return None
        return samples_for(self.duration_s, sample_rate)


@dataclass
class SynthesisResult:
    audio: np.ndarray | None  # float32 mono at SAMPLE_RATE; None when the request failed
    target_samples: int | None
    error: str | None = None
    flagged: str | None = None  # e.g. "natural pace 1.4x outside [0.8, 1.25]"
    notes: list[str] = field(default_factory=list)  # e.g. text the vocabulary lacks
    timings: dict[str, float] = field(default_factory=dict)
    tokens: int = 0
    # The rate of `audio`: the engine's own (Capabilities.sample_rate). Its length is
    # exactly samples_for(duration_s, sample_rate) when a duration was asked.
    sample_rate: int = SAMPLE_RATE
    # The fit report (README, "Duration control"): how the line landed in its span. Every
    # engine: "method" (guided, exact, natural; VoxCPM2: natural, paced, closest) and
    # "stretch" (+0.03: 3 % longer); IndexTTS: "tokens_target", "tokens_decoded", "stop"
    # (natural | forced), "stop_wish", "window", "suspected_cut"; VoxCPM2: "candidates",
    # "pace". None: free pace.
    fit: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.audio is not None and self.error is None


ProgressFn = Callable[[int, int], None]  # (requests done, requests total)
ResultFn = Callable[[int, "SynthesisResult"], None]  # (position in the requests, its result)
StopFn = Callable[[], bool]  # True: stop at the next stage boundary
STOPPED = "stopped before it was rendered"


class DurationControl(StrEnum):
    EXACT = "exact"  # an exact token/frame/sample count for the requested duration
    FITTED = "fitted"  # free pace, then fitted to the duration afterwards
    NONE = "none"  # the engine speaks at its own pace


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do, known before a request is made (and, through the registry,
    before the engine is loaded): the CLI and the window refuse or disable what it cannot."""

    languages: tuple[str, ...]  # ISO 639-1 codes
    sample_rate: int
    duration_control: DurationControl
    emotion_inputs: frozenset[EmotionSource]
    max_batch: int = 1
    # It clones better with the prompt's transcript: prepare_voice(audio, rate,
    # transcript=...) is then accepted (engines without it take no transcript).
    prompt_transcript: bool = False
    # The fit methods its fit report names (`SynthesisResult.fit["method"]`): IndexTTS
    # guided, exact and natural (each the mode of that name); VoxCPM2 natural, paced and
    # closest (whatever the mode asked, but natural keeps a single take).
    fit_methods: tuple[str, ...] = ()


class Engine(Protocol):
    """What core/ needs from a speech engine."""

    name: str
    # What shapes its audio besides a request (checkpoint files, device, precision): the
    # take cache keys on it, so another model never serves a cached take.
    identity: str
    max_batch: int  # requests worth rendering together

    @property
    def capabilities(self) -> Capabilities: ...

    def prepare_voice(self, audio: np.ndarray, sample_rate: int) -> VoiceHandle: ...

    def synthesize(
        self,
        requests: Sequence[SynthesisRequest],
        progress: ProgressFn | None = None,
        *,
        on_result: ResultFn | None = None,
        should_stop: StopFn | None = None,
    ) -> list[SynthesisResult]:
        """One result per request, in order. `on_result` hears of each as soon as it exists
        (so nothing finished is lost if the caller stops); `should_stop` is looked at
        between batches and between the stages of a batch: once it says True the engine
        returns, the unfinished requests carrying the error STOPPED."""
        ...


class ModelFilesMissing(FileNotFoundError):
    """Raised when the model directory lacks files; the message says how to get them."""

    def __init__(self, model_dir: Path, missing: Sequence[str], hint: str) -> None:
        self.model_dir = Path(model_dir)
        self.missing = list(missing)
        lines = "\n".join(f"  - {m}" for m in self.missing)
        super().__init__(f"model files missing in {self.model_dir}:\n{lines}\n{hint}")


class ModelFilesDamaged(ModelFilesMissing):
    """Raised when model files are present but cannot be read (cut short by a download,
    empty, not the format their name says). A ModelFilesMissing, so whoever maps missing
    files to "fetch them" (the CLI's exit code 4) handles these too: the cure is the same.

    `damaged` lists (file, reason); `missing` holds the same names (they must be fetched
    again). The message names each file, says why, and how to fetch it again.
    """

    def __init__(self, model_dir: Path, damaged: Sequence[tuple[str, str]], hint: str) -> None:
        self.damaged = [(str(name), str(reason)) for name, reason in damaged]
        lines = "\n".join(f"  - {name}: {reason}" for name, reason in self.damaged)
        FileNotFoundError.__init__(self, f"model files damaged in {model_dir}:\n{lines}\n{hint}")
        self.model_dir = Path(model_dir)
        self.missing = [name for name, _ in self.damaged]
