"""What a timbre prompt gives IndexTTS2, computed once per speaker.

    voice = prepare_voice(parts, audio, sample_rate)      # -> Voice (cache it per speaker)

The prompt path is the trunk both versions share (models/voice.py); 2.0 adds the codec's
quantised prompt (the flow model's prompt condition is regulated from it) and the GPT's
conformer/perceiver speaker latents.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from models.speaker import kaldi_fbank
from models.voice import ContextFactory, PromptLength, PromptParts, prompt_trunk


@dataclass
class Voice(PromptLength):
    """Everything derived from one timbre prompt (batch dimension 1 kept, on the engine's
    device). Engine-private: core/ only sees the VoiceHandle holding it."""

    key: str
    audio_22k: np.ndarray = field(repr=False)
    audio_16k: np.ndarray = field(repr=False)
    emo_audio_16k: np.ndarray = field(repr=False)
    spk_feats: Tensor = field(repr=False)  # [1, T, C] normalised w2v-BERT layer 17
    codes: Tensor = field(repr=False)  # [1, T] semantic codes of the prompt
    s_ref: Tensor = field(repr=False)  # [1, T, H] quantised prompt features
    ref_mel: Tensor = field(repr=False)  # [1, 80, P]
    style: Tensor = field(repr=False)  # [1, 192] CAMPPlus
    prompt_cond: Tensor = field(repr=False)  # [P, C] regulated prompt condition
    spk_latents: Tensor = field(repr=False)  # [1, 32, D]
    base_emovec: Tensor = field(repr=False)  # [1, D] get_emovec(spk_feats): merge's base
    own_emovec: Tensor = field(repr=False)  # [1, D] merge_emovec(spk, emo path, alpha 1)


class VoiceParts(PromptParts, Protocol):
    codec: Any  # the semantic codec (quantize)


@torch.inference_mode()
def prepare_voice(
    parts: VoiceParts,
    audio: np.ndarray,
    sample_rate: int,
    t2s_context: ContextFactory = contextlib.nullcontext,
) -> Voice:
    trunk = prompt_trunk(parts, audio, sample_rate, t2s_context)
    codes, s_ref = parts.codec.quantize(trunk.feats)
    prompt_cond = parts.s2m.regulate(s_ref, [trunk.ref_mel.shape[-1]])[0].float()
    with t2s_context():
        spk_latents = parts.t2s.speaker_latents(trunk.feats, trunk.lengths)
    return Voice(
        key=trunk.key,
        audio_22k=trunk.audio_22k,
        audio_16k=trunk.audio_16k,
        emo_audio_16k=trunk.emo_audio_16k,
        spk_feats=trunk.feats.float(),
        codes=codes,
        s_ref=s_ref.float(),
        ref_mel=trunk.ref_mel,
        style=trunk.style,
        prompt_cond=prompt_cond,
        spk_latents=spk_latents.float(),
        base_emovec=trunk.base_emovec,
        own_emovec=trunk.own_emovec,
    )


def fbank_of(voice: Voice) -> Tensor:
    """The CAMPPlus input of a voice (for checks): fbank minus its time mean, [T, 80]."""
    return kaldi_fbank(voice.audio_16k)
