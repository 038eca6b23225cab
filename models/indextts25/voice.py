"""What a timbre prompt gives IndexTTS-2.5, computed once per speaker.

The audio path is the shared trunk (models.voice: 22050 Hz by soxr like librosa, 16 kHz by torchaudio,
15 s cut, the emotion path resampled separately). What 2.5 takes from it differs:
- the GPT's speaker conditioning is the CAMPPlus style itself (projected in the GPT), no
  conformer/perceiver latents;
- the flow model's prompt condition is the length regulator over the continuous w2v-BERT
  features (2.0: over the codec's quantised prompt), so no prompt codes are needed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from models.voice import ContextFactory, PromptLength, PromptParts, prompt_trunk


@dataclass
class Voice25(PromptLength):
    key: str
    audio_22k: np.ndarray = field(repr=False)
    audio_16k: np.ndarray = field(repr=False)
    emo_audio_16k: np.ndarray = field(repr=False)
    spk_feats: Tensor = field(repr=False)  # [1, T, C] normalised w2v-BERT layer 17
    ref_mel: Tensor = field(repr=False)  # [1, 80, P]
    style: Tensor = field(repr=False)  # [1, 192] CAMPPlus: GPT speaker row and CFM style
    prompt_cond: Tensor = field(repr=False)  # [P, C] regulated continuous features
    base_emovec: Tensor = field(repr=False)  # [1, D] get_emovec(spk_feats)
    own_emovec: Tensor = field(repr=False)  # [1, D] merge_emovec(spk, emo path, alpha 1)


@torch.inference_mode()
def prepare_voice25(
    parts: PromptParts,
    audio: np.ndarray,
    sample_rate: int,
    t2s_context: ContextFactory = contextlib.nullcontext,
) -> Voice25:
    trunk = prompt_trunk(parts, audio, sample_rate, t2s_context)
    prompt_cond = parts.s2m.regulate(trunk.feats, [trunk.ref_mel.shape[-1]])[0].float()
    return Voice25(
        key=trunk.key,
        audio_22k=trunk.audio_22k,
        audio_16k=trunk.audio_16k,
        emo_audio_16k=trunk.emo_audio_16k,
        spk_feats=trunk.feats.float(),
        ref_mel=trunk.ref_mel,
        style=trunk.style,
        prompt_cond=prompt_cond,
        base_emovec=trunk.base_emovec,
        own_emovec=trunk.own_emovec,
    )
