"""T2S: IndexTTS2's text-to-semantic GPT (the official `UnifiedVoice`), inference only.

Module and parameter names equal the official ones, so `gpt.pth` loads with strict=True
(after the GPT-2 Conv1D weights are transposed, see loading.py).

API (all tensors batch-first, float32 unless said):
    T2S.load(gpt_pth, cfg, device="cpu") -> T2S               strict, shape-checked load
    T2S.build(cfg) -> T2S                                       random init (tests, benchmarks)
    speaker_latents(spk_feats [B,T,C], lengths=None) -> [B,32,D]   conformer + perceiver
    emotion_perceiver(feats [B,T,C], lengths=None) -> [B,E]         E = 1024 in the release
    emotion_vector(emo_feats [B,T,C], lengths=None) -> [B,D]       emo_layer(emovec_layer(.))
    merge_emovec(spk_feats, emo_feats, alpha=1.0, ...) -> [B,D]     base + alpha * (emo - base)
    conds(spk_latents [B,32,D], emovec [B,D], duration_tokens=None,
          duration_embedding="speed") -> [B,34,D]
    text_embedding_sequence(text_ids [L]) -> [L+2, D]             start/stop added, positions
    mel_embed(codes [B,N], positions [N] or int) -> [B,N,D]

`conds` layout is [speaker latents + emovec (32), slot A, slot B]. The release fills slot A
with speed_emb(1) and slot B with speed_emb(0). With duration_embedding="paper" and a token
count T, slot B (the one the official code names `duration_emb`) carries the paper's
p = W_sem[T], the row T of the semantic positional table (`mel_pos_embedding`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.config import GPTConfig
from models.precision import linear, store_linear_weights
from models.t2s.conformer import ConformerEncoder
from models.t2s.gpt2 import GPT2
from models.t2s.loading import load_t2s
from models.t2s.perceiver import PerceiverResampler

DurationEmbedding = Literal["speed", "paper"]


class LearnedPositions(nn.Module):
    def __init__(self, length: int, dim: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(length, dim)

    def forward(self, positions: Tensor) -> Tensor:
        if int(positions.max()) >= self.emb.num_embeddings:
            raise ValueError(
                f"position {int(positions.max())} beyond the table ({self.emb.num_embeddings} rows)"
            )
        return self.emb(positions)


class T2S(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.model_dim
        cm, em = cfg.condition_module, cfg.emo_condition_module
        self.conditioning_encoder = ConformerEncoder(
            cfg.cond_input_size, cm.output_size, cm.linear_units, cm.attention_heads, cm.num_blocks
        )
        self.perceiver_encoder = PerceiverResampler(
            d, cm.output_size, cfg.condition_num_latent, cm.attention_heads, cm.perceiver_mult
        )
        self.speed_emb = nn.Embedding(2, d)
        self.emo_conditioning_encoder = ConformerEncoder(
            cfg.cond_input_size, em.output_size, em.linear_units, em.attention_heads, em.num_blocks
        )
        self.emo_perceiver_encoder = PerceiverResampler(
            cfg.emo_perceiver_dim, em.output_size, 1, em.attention_heads, em.perceiver_mult
        )
        self.text_embedding = nn.Embedding(cfg.text_vocab, d)
        self.emo_layer = nn.Linear(d, d)
        self.emovec_layer = nn.Linear(cfg.emo_perceiver_dim, d)
        self.mel_embedding = nn.Embedding(cfg.number_mel_codes, d)
        self.gpt = GPT2(d, cfg.heads, cfg.layers)
        self.mel_pos_embedding = LearnedPositions(cfg.mel_positions, d)
        self.text_pos_embedding = LearnedPositions(cfg.text_positions, d)
        self.final_norm = nn.LayerNorm(d)
        self.text_head: nn.Linear | None = nn.Linear(d, cfg.text_vocab)
        self.mel_head = nn.Linear(d, cfg.number_mel_codes)
        self.narrow_rows: int | None = None  # see store_decoder
        self.wide_dtype: torch.dtype | None = None
        self.conditioning_dtype = torch.float32  # see store_conditioning

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def build(cls, cfg: GPTConfig, seed: int = 0, device: str | torch.device = "cpu") -> T2S:
        """A randomly initialised model (tests and benchmarks; not a release model)."""
        device = torch.device(device)
        # Drawn on the target device (a GPU fills 1.9 GB in a blink; the CPU stream is
        # the one the tests and benchmarks have always used).
        g = torch.Generator(device=device).manual_seed(seed)
        with device:
            model = cls(cfg)
        with torch.no_grad():
            for module in model.modules():
                for name, p in module.named_parameters(recurse=False):
                    noise = torch.randn(p.shape, generator=g, device=device)
                    if isinstance(module, nn.LayerNorm) and name == "weight" or name == "gamma":
                        p.copy_(1.0 + 0.1 * noise)  # norm gains stay near one
                    else:
                        p.copy_(0.02 * noise)
        return model.to(device).eval()

    @classmethod
    def load(cls, gpt_pth: Path, cfg: GPTConfig, device: str | torch.device = "cpu") -> T2S:
        return load_t2s(Path(gpt_pth), cfg, device, model_type=cls)

    @property
    def dim(self) -> int:
        return self.cfg.model_dim

    @property
    def decoder_dtype(self) -> torch.dtype:
        return self.mel_head.weight.dtype

    def store_decoder(
        self,
        dtype: torch.dtype,
        narrow_rows: int | None = None,
        wide_dtype: torch.dtype | None = None,
    ) -> None:
        """Keep the decoder's linear layers (GPT-2 blocks, mel head) in `dtype`, once, in
        place: they are read on every decode step. Activations, norms and the KV cache stay
        float32; the conditioning encoders (run once per voice) stay as they are. With
        `narrow_rows`, products of more rows than that cast the weight per call to
        `wide_dtype` (default fp32; see models.precision.linear)."""
        store_linear_weights(self.gpt, dtype)
        store_linear_weights(self.mel_head, dtype)
        self.narrow_rows, self.wide_dtype = narrow_rows, wide_dtype
        for block in self.gpt.h:
            for part in (block.attn, block.mlp):
                part.narrow_rows, part.wide_dtype = narrow_rows, wide_dtype

    def drop_text_head(self) -> None:
        """Free the text head (15M weights): the official model predicts text tokens only
        in training; nothing at inference reads it. Kept through loading, so files load
        strictly."""
        self.text_head = None

    def store_conditioning(self, dtype: torch.dtype) -> None:
        """Keep the linear layers of the conditioning encoders and perceivers in `dtype`,
        once, in place; they then run under autocast in it. They run once per voice and
        per emotion clip, all wide products, but hold 1.2 GB of fp32 weights at full size
        (two 134M-weight subsampling layers): the difference between fitting in 6 GB or
        not. Only where `dtype` products are fast (models.precision)."""
        for part in self._conditioning_parts():
            store_linear_weights(part, dtype)
        self.conditioning_dtype = dtype

    def _conditioning_parts(self) -> tuple[nn.Module, ...]:
        return (
            self.conditioning_encoder,
            self.perceiver_encoder,
            self.emo_conditioning_encoder,
            self.emo_perceiver_encoder,
        )

    def _conditioning(self) -> contextlib.AbstractContextManager:
        if self.conditioning_dtype == torch.float32:
            return contextlib.nullcontext()
        device = self.mel_head.weight.device.type
        return torch.autocast(device, dtype=self.conditioning_dtype)

    # ---- conditioning -------------------------------------------------------------------
    def speaker_latents(self, spk_feats: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Normalised w2v-BERT features (B, T, C) -> speaker latents (B, 32, D)."""
        with self._conditioning():
            x, mask = self.conditioning_encoder(spk_feats, lengths)
            mask = F.pad(mask.squeeze(1), (self.cfg.condition_num_latent, 0), value=True)
            return self.perceiver_encoder(x, mask).float()

    def emotion_perceiver(self, feats: Tensor, lengths: Tensor | None = None) -> Tensor:
        with self._conditioning():
            x, mask = self.emo_conditioning_encoder(feats, lengths)
            mask = F.pad(mask.squeeze(1), (1, 0), value=True)
            return self.emo_perceiver_encoder(x, mask).squeeze(1).float()

    def emotion_vector(self, emo_feats: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Features (B, T, C) -> emotion vector (B, D) (the official `get_emovec`)."""
        return self.emo_layer(self.emovec_layer(self.emotion_perceiver(emo_feats, lengths)))

    def merge_emovec(
        self,
        spk_feats: Tensor,
        emo_feats: Tensor,
        alpha: float = 1.0,
        spk_lengths: Tensor | None = None,
        emo_lengths: Tensor | None = None,
    ) -> Tensor:
        """base + alpha * (emo - base), base from the speaker prompt's own features."""
        emo = self.emotion_vector(emo_feats, emo_lengths)
        base = self.emotion_vector(spk_feats, spk_lengths)
        return base + alpha * (emo - base)

    def conds(
        self,
        spk_latents: Tensor,
        emovec: Tensor,
        duration_tokens: int | list[int | None] | None = None,
        duration_embedding: DurationEmbedding = "speed",
    ) -> Tensor:
        """[spk latents + emovec, slot A, slot B] -> (B, 34, D); see module docstring."""
        b = spk_latents.shape[0]
        dev = spk_latents.device
        if emovec.ndim == 1:
            emovec = emovec.unsqueeze(0)
        slot_a = self.speed_emb.weight[1].expand(b, -1)
        slot_b = self.speed_emb.weight[0].expand(b, -1).clone()
        if duration_embedding not in ("speed", "paper"):
            raise ValueError(
                f"duration_embedding must be 'speed' or 'paper', got {duration_embedding!r}"
            )
        if duration_embedding == "paper" and duration_tokens is not None:
            targets = (
                duration_tokens if isinstance(duration_tokens, list) else [duration_tokens] * b
            )
            for i, t in enumerate(targets):
                if t is not None:
                    slot_b[i] = self.mel_pos_embedding(torch.tensor([int(t)], device=dev))[0]
        return torch.cat(
            (spk_latents + emovec.unsqueeze(1), slot_a.unsqueeze(1), slot_b.unsqueeze(1)), dim=1
        )

    # ---- embeddings ---------------------------------------------------------------------
    def text_embedding_sequence(self, text_ids: Tensor) -> Tensor:
        """Text ids (L,) -> (L'+2, D): start/stop ids inside are dropped (as the official
        prepare_gpt_inputs does), then [start, ids, stop] embedded with learned positions."""
        ids = text_ids.reshape(-1).long()
        ids = ids[(ids != self.cfg.stop_text_token) & (ids != self.cfg.start_text_token)]
        ids = F.pad(
            F.pad(ids, (1, 0), value=self.cfg.start_text_token),
            (0, 1),
            value=self.cfg.stop_text_token,
        )
        pos = torch.arange(ids.shape[0], device=ids.device)
        return self.text_embedding(ids) + self.text_pos_embedding(pos)

    def mel_embed(self, codes: Tensor, positions: Tensor | int) -> Tensor:
        """Codes (B, N) embedded plus their semantic positions ((N,) tensor or one int)."""
        if isinstance(positions, int):
            positions = torch.tensor([positions], device=codes.device)
        return self.mel_embedding(codes) + self.mel_pos_embedding(positions)

    def mel_logits(self, hidden: Tensor) -> Tensor:
        """GPT output (already ln_f) -> mel logits, as GPT2InferenceModel's lm_head."""
        return linear(self.final_norm(hidden), self.mel_head, self.narrow_rows, self.wide_dtype)
