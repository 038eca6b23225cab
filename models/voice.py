"""The voice trunk both IndexTTS versions share: a timbre prompt checked, resampled and run
through w2v-BERT, the mel, CAMPPlus and the GPT's emotion encoders, computed once.

    trunk = prompt_trunk(parts, audio, sample_rate)   # each version's Voice builds on it
    emo = reference_emovec(parts, clip, rate)         # emotion vector of a reference clip

The audio handling follows the official `infer_v2` so a prompt gives the official tensors:
- speaker path: the prompt at 22050 Hz (librosa.load's default, soxr "HQ", length
  ceil(n * ratio)), cut to its first 15 s; 16 kHz for w2v-BERT and the fbank comes from
  that through torchaudio's sinc_interp_hann resampler (width 6, rolloff 0.99);
- emotion path: a separate 16 kHz resampling of the original audio (librosa.load(sr=16000)),
  cut to 15 s. The voice's own emotion vector therefore comes from slightly different
  features than its speaker latents, as in the official code.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import soxr
import torch
import torchaudio
from torch import Tensor

from models.s2m.mel import mel_spectrogram

PROMPT_SECONDS = 15  # the official prompt limit (both paths)
S2M_RATE = 22050
FEATURE_RATE = 16000

# The precision context of the T2S (GPT) modules: autocast on CUDA (as the official code runs
# merge_emovec and the conditioning encoders), nothing on the CPU. Everything else here runs
# in float32 (w2v-BERT, codec, mel and CAMPPlus run outside autocast in infer_v2).
ContextFactory = Callable[[], AbstractContextManager]


def voice_key(audio: np.ndarray, sample_rate: int) -> str:
    """Content hash of a prompt: the same audio at the same rate is the same voice."""
    data = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).reshape(-1))
    digest = hashlib.sha256(data.tobytes()).hexdigest()[:24]
    return f"{int(sample_rate)}-{digest}"


def as_mono(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 2:
        # (n, channels) as soundfile reads, or (channels, n)
        a = a.mean(axis=1) if a.shape[0] > a.shape[1] else a.mean(axis=0)
    return np.ascontiguousarray(a.reshape(-1), dtype=np.float32)


def resample_like_librosa(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """librosa.resample(res_type="soxr_hq") including its length fix to ceil(n * ratio)."""
    audio = as_mono(audio)
    if rate == target:
        return audio
    out = soxr.resample(audio, rate, target, quality="HQ").astype(np.float32)
    want = int(math.ceil(len(audio) * target / rate))
    if len(out) < want:
        out = np.concatenate([out, np.zeros(want - len(out), np.float32)])
    return np.ascontiguousarray(out[:want])


@functools.cache
def _speaker_resampler() -> torchaudio.transforms.Resample:
    # The module, not torchaudio.functional.resample: the module builds its sinc kernel in
    # float64 (the functional form in the input's float32), and the fbank's log amplifies
    # that 5e-6 difference to 2e-3.
    return torchaudio.transforms.Resample(S2M_RATE, FEATURE_RATE)


def speaker_audio(audio: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(22050 Hz prompt cut to 15 s, its 16 kHz version via torchaudio) as the official code."""
    a22 = resample_like_librosa(audio, rate, S2M_RATE)[: PROMPT_SECONDS * S2M_RATE]
    a16 = _speaker_resampler()(torch.from_numpy(a22)[None])[0].numpy()
    return a22, np.ascontiguousarray(a16, dtype=np.float32)


def emotion_audio(audio: np.ndarray, rate: int) -> np.ndarray:
    """16 kHz audio of the emotion path (librosa.load(sr=16000)), cut to 15 s."""
    return resample_like_librosa(audio, rate, FEATURE_RATE)[: PROMPT_SECONDS * FEATURE_RATE]


def official_lengths(feats: Tensor) -> Tensor:
    """The conditioning lengths infer_v2 passes: the feature *width* (1024 in the release),
    not the frame count. With 15 s prompts (<= 750 frames) nothing is masked at full size;
    the tiny e2e models (width 32) mask after 32 frames, and parity needs the same."""
    return torch.full((feats.shape[0],), feats.shape[-1], dtype=torch.long, device=feats.device)


V = TypeVar("V")


def cached_voice(cache: OrderedDict[str, V], size: int, key: str, prepare: Callable[[], V]) -> V:
    """The voice of `key` from an engine's cache of the `size` latest used, prepared (the
    costly part: w2v-BERT, codec, CAMPPlus) only on a miss."""
    voice = cache.get(key)
    if voice is None:
        voice = prepare()
        cache[key] = voice
        while len(cache) > size:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return voice


def prompt_audio(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, ...]:
    """A timbre prompt checked (a clear error for what cannot be a voice) and resampled as
    both IndexTTS versions take it: (mono at its rate, 22050 Hz, 16 kHz speaker path,
    16 kHz emotion path)."""
    if sample_rate <= 0:
        raise ValueError(f"invalid sample rate {sample_rate}")
    mono = as_mono(audio)
    if mono.size == 0 or not np.isfinite(mono).all():
        raise ValueError("the voice prompt is empty or holds non-finite samples")
    if mono.size < int(0.1 * sample_rate):
        raise ValueError(f"the voice prompt is too short ({mono.size / sample_rate:.2f} s)")
    a22, a16 = speaker_audio(mono, sample_rate)
    return mono, a22, a16, emotion_audio(mono, sample_rate)


class PromptLength:
    """The lengths of a prepared prompt, for both versions' voices (a plain base: the
    dataclasses below declare the fields)."""

    audio_22k: np.ndarray
    ref_mel: Tensor

    @property
    def prompt_frames(self) -> int:
        return int(self.ref_mel.shape[-1])

    @property
    def seconds(self) -> float:
        return len(self.audio_22k) / S2M_RATE


class PromptParts(Protocol):
    """What the trunk uses of an engine's loaded models (both versions' Parts have them)."""

    device: torch.device
    semantic: Any
    s2m: Any
    style: Any
    t2s: Any


@dataclass
class PromptTrunk:
    """What both versions take from a prompt (batch dimension 1 kept, on the device)."""

    key: str
    audio_22k: np.ndarray = field(repr=False)
    audio_16k: np.ndarray = field(repr=False)
    emo_audio_16k: np.ndarray = field(repr=False)
    feats: Tensor = field(repr=False)  # [1, T, C] normalised w2v-BERT layer 17
    lengths: Tensor = field(repr=False)  # official_lengths(feats)
    ref_mel: Tensor = field(repr=False)  # [1, 80, P]
    style: Tensor = field(repr=False)  # [1, 192] CAMPPlus
    base_emovec: Tensor = field(repr=False)  # [1, D] get_emovec(feats): merge's base
    own_emovec: Tensor = field(repr=False)  # [1, D] merge_emovec(spk, emo path, alpha 1)


def prompt_trunk(
    parts: PromptParts,
    audio: np.ndarray,
    sample_rate: int,
    t2s_context: ContextFactory = contextlib.nullcontext,
) -> PromptTrunk:
    """The shared part of a voice; the T2S context (autocast on CUDA) may hand back half
    precision, so the tensors kept are float32."""
    mono, a22, a16, e16 = prompt_audio(audio, sample_rate)
    dev = parts.device
    feats = parts.semantic(a16).feats.to(dev)  # [1, T, C]
    ref_mel = mel_spectrogram(torch.from_numpy(a22)[None].to(dev), parts.s2m.cfg.mel)
    style = parts.style(a16).to(dev)  # fbank minus its mean -> CAMPPlus
    lengths = official_lengths(feats)
    emo_feats = parts.semantic(e16).feats.to(dev)
    with t2s_context():
        base = parts.t2s.emotion_vector(feats, lengths)
        own = parts.t2s.merge_emovec(
            feats,
            emo_feats,
            alpha=1.0,
            spk_lengths=lengths,
            emo_lengths=official_lengths(emo_feats),
        )
    return PromptTrunk(
        key=voice_key(mono, sample_rate),
        audio_22k=a22,
        audio_16k=a16,
        emo_audio_16k=e16,
        feats=feats,
        lengths=lengths,
        ref_mel=ref_mel.float(),
        style=style.float(),
        base_emovec=base.float(),
        own_emovec=own.float(),
    )


@torch.inference_mode()
def reference_emovec(
    parts: PromptParts,
    audio: np.ndarray,
    sample_rate: int,
    t2s_context: ContextFactory = contextlib.nullcontext,
) -> Tensor:
    """get_emovec of a reference clip's features (emotion path resampling), [1, D]."""
    e16 = emotion_audio(as_mono(audio), sample_rate)
    if e16.size < int(0.1 * FEATURE_RATE):
        raise ValueError(
            f"the emotion reference is too short ({e16.size / FEATURE_RATE:.2f} s; 0.1 s needed)"
        )
    feats = parts.semantic(e16).feats.to(parts.device)
    with t2s_context():
        return parts.t2s.emotion_vector(feats, official_lengths(feats)).float()
