"""The IndexTTS-2.5 GPT: the 2.0 UnifiedVoice in its "campplus" speaker mode, inference only.

What differs from models.t2s.T2S (2.0), all from `indextts/gpt/model_v2.py` with
spk_cond_mode="campplus", the mode infer_v2_5 builds:
- the speaker is one row, `spk_emb_proj(style)` (Linear(192, D) of the CAMPPlus style the
  flow model also gets); no conditioning encoder, no perceiver, no speed embedding;
- conds = [spk_emb_proj(style) + emovec, 0, 0]: three rows (2.0: 32 latents + 2 speed rows);
- a language embedding (107 rows: the 106-entry language table plus one) whose row is added
  to every text position, start and stop included (`prepare_gpt_inputs`).
The emotion path (conformer + 1024-wide perceiver, merge_emovec) and the decoder are 2.0's.

    gpt = T2S25.load(folder / "gpt.pth", cfg.gpt)        # strict: every key and shape
    conds = gpt.conds25(style, emovec)                   # [B, 3, D]
    codes = decode(with_language(gpt, lang_id), list(conds), texts, settings)

Decoding reuses models.t2s.decode through `with_language`, a view of the model whose
text_embedding_sequence adds the language row; nothing else of the decoder changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from models.config import GPTConfig
from models.indextts25.tokenizer import LANGUAGE_CODES
from models.t2s import T2S
from models.t2s.loading import (
    CheckpointMismatch,
    checkpoint_shapes,
    load_strict,
    read_state_dict,
)

STYLE_DIM = 192  # CAMPPlus embedding width (spk_emb_proj input)
LANGUAGE_ROWS = len(LANGUAGE_CODES) + 1  # Embedding(len(LANGUAGE_DICT) + 1, D) = 107
COND_ROWS = 3
# 2.0 modules the campplus mode does not build.
_NOT_IN_25 = ("conditioning_encoder", "perceiver_encoder", "speed_emb")


class T2S25(T2S):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__(cfg)
        for name in _NOT_IN_25:
            delattr(self, name)
        self.spk_emb_proj = nn.Linear(STYLE_DIM, cfg.model_dim)
        self.lang_embedding = nn.Embedding(LANGUAGE_ROWS, cfg.model_dim)

    @classmethod
    def load(cls, gpt_pth: Path, cfg: GPTConfig, device: str | torch.device = "cpu") -> T2S25:
        return load_t2s25(Path(gpt_pth), cfg, device)

    # ---- 2.0 paths that do not exist here -------------------------------------------------
    def speaker_latents(self, spk_feats: Tensor, lengths: Tensor | None = None) -> Tensor:
        raise TypeError("the 2.5 GPT conditions on the CAMPPlus style: use conds25(style, ...)")

    def conds(self, *args, **kwargs) -> Tensor:  # noqa: ARG002 - the 2.0 signature
        raise TypeError("the 2.5 GPT has no speed/duration rows: use conds25(style, emovec)")

    # ---- conditioning -------------------------------------------------------------------
    @torch.inference_mode()
    def speaker_row(self, style: Tensor) -> Tensor:
        """CAMPPlus style [B, 192] -> [B, D] (the official speech_conditioning_latent)."""
        w = self.spk_emb_proj.weight
        return self.spk_emb_proj(style.reshape(-1, STYLE_DIM).to(w.device, w.dtype))

    @torch.inference_mode()
    def conds25(self, style: Tensor, emovec: Tensor) -> Tensor:
        """[speaker row + emovec, 0, 0] -> [B, 3, D]."""
        row = self.speaker_row(style)
        if emovec.ndim == 1:
            emovec = emovec.unsqueeze(0)
        first = (row + emovec.to(row.dtype)).unsqueeze(1)
        zeros = first.new_zeros(first.shape[0], COND_ROWS - 1, first.shape[-1])
        return torch.cat((first, zeros), dim=1)

    def language_row(self, lang_id: int) -> Tensor:
        if not 0 <= int(lang_id) < LANGUAGE_ROWS:
            raise ValueError(f"language id {lang_id} outside the table ({LANGUAGE_ROWS} rows)")
        return self.lang_embedding.weight[int(lang_id)]

    @torch.inference_mode()
    def text_embedding_sequence25(self, text_ids: Tensor, lang_id: int) -> Tensor:
        """[start, ids, stop] embedded with positions, plus the language row everywhere."""
        return self.text_embedding_sequence(text_ids) + self.language_row(lang_id)


class _Speaking:
    """The model as models.t2s.decode sees it, speaking one language: every attribute is the
    model's own, except text_embedding_sequence, which adds the language row."""

    def __init__(self, model: T2S25, lang_id: int) -> None:
        self._model = model
        self._lang_id = int(lang_id)

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def text_embedding_sequence(self, text_ids: Tensor) -> Tensor:
        return self._model.text_embedding_sequence25(text_ids, self._lang_id)


def with_language(model: T2S25, lang_id: int):
    """A view of `model` for models.t2s.decode / generate that decodes in `lang_id`."""
    return _Speaking(model, lang_id)


# ---- loading ------------------------------------------------------------------------------
def widths_from_state_dict25(sd: Mapping[str, Tensor], cfg: GPTConfig) -> GPTConfig:
    """The widths the official code hard-codes (emotion conditioning input 1024, emotion
    perceiver 1024), read from the tensors that depend on them."""
    changes: dict[str, int] = {}
    w = sd.get("emo_conditioning_encoder.embed.out.0.weight")
    if w is not None and w.ndim == 2:
        odim = cfg.emo_condition_module.output_size
        if w.shape[1] % odim:
            raise CheckpointMismatch(
                f"emo_conditioning_encoder.embed.out.0.weight is {tuple(w.shape)}, not a "
                f"multiple of emo_condition_module.output_size {odim}: config and checkpoint "
                "disagree"
            )
        # conv2d2 subsampling: Linear in = odim * ((C - 1) // 2), feature widths are even.
        changes["cond_input_size"] = 2 * (w.shape[1] // odim) + 2
    lat = sd.get("emo_perceiver_encoder.latents")
    if lat is not None and lat.ndim == 2:
        changes["emo_perceiver_dim"] = int(lat.shape[1])
    return dataclasses.replace(cfg, **changes)


def expected_shapes(cfg: GPTConfig) -> dict[str, tuple[int, ...]]:
    """Keys and shapes a 2.5 gpt.pth of this config stores (built on the meta device)."""
    with torch.device("meta"):
        return checkpoint_shapes(T2S25(cfg))


def load_t2s25(path: Path, cfg: GPTConfig, device: str | torch.device = "cpu") -> T2S25:
    """Strict load: every missing, unexpected or mis-shaped key is named (the official
    load_checkpoint is non-strict and would leave random weights)."""
    sd = read_state_dict(path)
    cfg = widths_from_state_dict25(sd, cfg)
    mismatch = "is not an IndexTTS-2.5 GPT of this config.yaml"
    return load_strict(path, sd, lambda: T2S25(cfg), mismatch, device)
