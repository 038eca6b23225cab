"""What a timbre prompt gives IndexTTS-2.5, computed once per speaker.

The audio path is 2.0's (models.voice: 22050 Hz by soxr like librosa, 16 kHz by torchaudio,
15 s cut, the emotion path resampled separately). What 2.5 takes from it differs:
- the GPT's speaker conditioning is the CAMPPlus style itself (projected in the GPT), no
  conformer/perceiver latents;
- the flow model's prompt condition is the length regulator over the continuous w2v-BERT
  features (2.0: over the codec's quantised prompt), so no prompt codes are needed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from models.s2m.mel import mel_spectrogram
from models.voice import (
    ContextFactory,
    PromptLength,
    official_lengths,
    prompt_audio,
    voice_key,
)

if TYPE_CHECKING:
    from models.indextts25.engine import Parts25


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
    parts: Parts25,
    audio: np.ndarray,
    sample_rate: int,
    t2s_context: ContextFactory = contextlib.nullcontext,
) -> Voice25:
    mono, a22, a16, e16 = prompt_audio(audio, sample_rate)
    dev = parts.device
    feats = parts.semantic(a16).feats.to(dev)
    ref_mel = mel_spectrogram(torch.from_numpy(a22)[None].to(dev), parts.s2m.cfg.mel)
    style = parts.style(a16).to(dev)
    prompt_cond = parts.s2m.regulate(feats, [ref_mel.shape[-1]])[0].float()
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
    return Voice25(
        key=voice_key(mono, sample_rate),
        audio_22k=a22,
        audio_16k=a16,
        emo_audio_16k=e16,
        spk_feats=feats.float(),
        ref_mel=ref_mel.float(),
        style=style.float(),
        prompt_cond=prompt_cond,
        base_emovec=base.float(),
        own_emovec=own.float(),
    )
