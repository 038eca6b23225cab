"""Semantic features (w2v-BERT 2.0, layer 17, normalised) and the MaskGCT semantic codec.

Public API (used by models/indextts2/engine.py):

    SemanticEncoder.load(w2v_dir, stats_pt, device="cpu", dtype=torch.float32)
    SemanticEncoder(audio_16k, batched=None) -> SemanticFeatures(feats [B, T, C] float32, mask [B, T] bool)
        audio_16k: one mono 16 kHz waveform (1-D np.ndarray / Tensor) or a sequence of them.
        feats = (hidden_states[17] - mean) / sqrt(var), as IndexTTS2.get_emb.
        mask marks the frames a prompt alone would give (T_i = ceil(fbank frames / 2)). Note
        that for an odd fbank count the official code keeps a last frame whose w2v-BERT
        attention mask is 0; it is kept here too, so mask.sum(1) is the official T.
        Single prompt: B = 1, mask all True, feats = the official spk_cond_emb (within 1e-4).
        SemanticFeatures unpacks as `feats, mask = encoder(audio)`; .lengths = mask.sum(1).
        A batch: row i, cut to mask[i], equals the prompt run alone (within float rounding);
        feats are 0 past mask[i]. batched=True pads the prompts into one w2v-BERT batch
        (attention mask; layer outputs of valid frames do not see the padding), False runs
        them one by one, None (default) batches on an accelerator only.
    SemanticEncoder.extract(audio_16k) -> (input_features [B, T, 160], attention_mask [B, T], lengths [B])
    SemanticEncoder.hidden17(input_features, attention_mask) -> raw layer-17 output [B, T, C]

    SemanticCodec.load(safetensors, cfg=None, device="cpu")  (cfg: the config.yaml `semantic_codec` section;
        without it the widths are read from the tensor shapes)
    codec.quantize(feats [B, T, H], mask=None) -> (codes [B, T] int64, quantized [B, T, H])
        (codes [N, B, T] if the codec had N > 1 quantizers, like the official squeeze).
        quantized = out_project(z_e + (z_q - z_e)) like the official RepCodec.quantize.
    codec.vq2emb(codes [B, T]) -> [B, H, T]   (official quantizer.vq2emb layout)
    codec.embed_codes(codes [B, T]) -> [B, T, H]   (= vq2emb(...).transpose(1, 2), what S2M takes)

Only encoder layers 1..17 of w2v-BERT are kept after loading (the official code computes all
24 and throws 7 away). Layer drop draws nothing in eval mode, so nothing random happens here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.layout import read_safetensors, read_torch, read_yaml
from models.quiet import transformers_errors_only

HIDDEN_LAYER = 17  # hidden_states[17]: the output of encoder layer 17 (index 0 = projection)
SAMPLE_RATE = 16000

AudioBatch = np.ndarray | Tensor | Sequence[np.ndarray | Tensor]


@dataclass
class SemanticFeatures:
    feats: Tensor  # [B, T, C] normalised layer-17 features, float32
    mask: Tensor  # [B, T] bool: frames that belong to each prompt

    @property
    def lengths(self) -> Tensor:
        return self.mask.sum(1)

    def __iter__(self):  # allows `feats, mask = encoder(audio)`
        return iter((self.feats, self.mask))


def _as_waves(audio: AudioBatch) -> list[np.ndarray]:
    if isinstance(audio, (np.ndarray, Tensor)) and audio.ndim == 1:
        audio = [audio]
    out = []
    for w in audio:
        if isinstance(w, Tensor):
            w = w.detach().cpu().numpy()
        out.append(np.asarray(w, dtype=np.float32).reshape(-1))
    return out


class SemanticEncoder:
    """w2v-BERT 2.0 front end: 16 kHz audio -> normalised layer-17 features."""

    def __init__(
        self,
        extractor,
        model: nn.Module,
        mean: Tensor,
        std: Tensor,
        device: torch.device,
        loaded_layers: int | None = None,
    ):
        self.extractor = extractor
        self.loaded_layers = loaded_layers  # encoder layers in the checkpoint (we keep 17)
        self.model = model
        self.mean = mean
        self.std = std
        self.device = device

    @classmethod
    def load(
        cls,
        w2v_dir: Path,
        stats_pt: Path,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        attn_implementation: str = "sdpa",
    ) -> SemanticEncoder:
        from transformers import (
            SeamlessM4TFeatureExtractor,
            Wav2Vec2BertConfig,
            Wav2Vec2BertModel,
        )

        w2v_dir = Path(w2v_dir)
        extractor = SeamlessM4TFeatureExtractor.from_pretrained(w2v_dir, local_files_only=True)
        config = Wav2Vec2BertConfig.from_pretrained(w2v_dir, local_files_only=True)
        n_layers = config.num_hidden_layers
        if n_layers < HIDDEN_LAYER:
            raise ValueError(
                f"{w2v_dir}: w2v-BERT has {n_layers} layers, hidden state {HIDDEN_LAYER} needs 17"
            )
        # Layers above 17 never influence hidden_states[17]: they are not even built (a third
        # of the work, and 0.7 GB of weights at full size that would be read and dropped).
        config.num_hidden_layers = HIDDEN_LAYER
        with transformers_errors_only():
            model = Wav2Vec2BertModel.from_pretrained(
                w2v_dir,
                config=config,
                local_files_only=True,
                dtype=dtype,
                attn_implementation=attn_implementation,
            )
        stats = read_torch(Path(stats_pt))
        device = torch.device(device)
        mean = stats["mean"].to(device, torch.float32)
        std = torch.sqrt(stats["var"].to(device, torch.float32))
        return cls(extractor, model.to(device).eval(), mean, std, device, n_layers)

    def extract(self, audio_16k: AudioBatch) -> tuple[Tensor, Tensor, Tensor]:
        """Feature-extractor output for a batch, padded like the extractor pads.

        Each prompt goes through the extractor alone (so its per-utterance normalisation and
        its odd-frame padding are exactly the official single-prompt ones), then the rows are
        right-padded with the extractor's padding_value and attention mask 0.
        """
        rows = [
            self.extractor(
                w, sampling_rate=SAMPLE_RATE, return_tensors="pt", return_attention_mask=True
            )
            for w in _as_waves(audio_16k)
        ]
        lengths = torch.tensor([r["input_features"].shape[1] for r in rows])
        t_max = int(lengths.max())
        pad_value = float(self.extractor.padding_value)
        feats = torch.stack(
            [
                F.pad(
                    r["input_features"][0],
                    (0, 0, 0, t_max - r["input_features"].shape[1]),
                    value=pad_value,
                )
                for r in rows
            ]
        )
        attn = torch.stack(
            [F.pad(r["attention_mask"][0], (0, t_max - r["attention_mask"].shape[1])) for r in rows]
        )
        return feats, attn, lengths

    @torch.inference_mode()
    def hidden17(self, input_features: Tensor, attention_mask: Tensor) -> Tensor:
        """Raw output of encoder layer 17, [B, T, C] float32."""
        dtype = next(self.model.parameters()).dtype
        out = self.model(
            input_features=input_features.to(self.device, dtype),
            attention_mask=attention_mask.to(self.device),
        )
        return out.last_hidden_state.float()

    def normalise(self, hidden: Tensor) -> Tensor:
        return (hidden - self.mean) / self.std

    @torch.inference_mode()
    def __call__(self, audio_16k: AudioBatch, batched: bool | None = None) -> SemanticFeatures:
        """Normalised layer-17 features of one prompt or several.

        batched=None runs several prompts as one padded batch on an accelerator and one by
        one on the CPU (where padding only adds work). Both give the same result layout.
        """
        waves = _as_waves(audio_16k)
        if batched is None:
            batched = self.device.type != "cpu"
        if batched or len(waves) == 1:
            input_features, attention_mask, lengths = self.extract(waves)
            feats = self.normalise(self.hidden17(input_features, attention_mask))
        else:
            rows = [self.__call__(w, batched=True).feats[0] for w in waves]
            lengths = torch.tensor([r.shape[0] for r in rows])
            feats = nn.utils.rnn.pad_sequence(rows, batch_first=True)
        mask = (torch.arange(feats.shape[1])[None, :] < lengths[:, None]).to(feats.device)
        return SemanticFeatures(feats.masked_fill(~mask[..., None], 0.0), mask)


# --------------------------------------------------------------------------- codec
# RepCodec (MaskGCT semantic codec). Parameter names follow the official module tree so the
# official model.safetensors loads strictly: encoder.0 (Vocos backbone), encoder.1 (Linear),
# decoder.* (unused at inference, kept so the file loads strictly), quantizer.quantizers.N.*


class WNConv1d(nn.Module):
    """Conv1d with weight normalisation stored as weight_g / weight_v (the pre-2.1 torch
    weight_norm names that the official safetensors use)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1):
        super().__init__()
        self.weight_g = nn.Parameter(torch.ones(out_channels, 1, 1))
        self.weight_v = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size))
        # nn.Conv1d's own init: a codec built without a file (the full-size benchmarks) must
        # not compute on uninitialised memory (it gave NaN conditions at full size).
        nn.init.kaiming_uniform_(self.weight_v, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.padding = (kernel_size - 1) // 2

    def weight(self) -> Tensor:
        return torch._weight_norm(self.weight_v, self.weight_g, 0)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv1d(x, self.weight(), self.bias, padding=self.padding)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, intermediate_dim: int):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:  # x: [B, C, T]
        h = self.dwconv(x if mask is None else x * mask)
        h = self.pwconv2(F.gelu(self.pwconv1(self.norm(h.transpose(1, 2)))))
        return x + (self.gamma * h).transpose(1, 2)


class VocosBackbone(nn.Module):
    """[B, C_in, T] -> [B, T, dim]."""

    def __init__(self, input_channels: int, dim: int, intermediate_dim: int, num_layers: int):
        super().__init__()
        self.embed = nn.Conv1d(input_channels, dim, kernel_size=7, padding=3)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.convnext = nn.ModuleList(
            [ConvNeXtBlock(dim, intermediate_dim) for _ in range(num_layers)]
        )
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        # mask [B, 1, T]: zero past each row's end before every convolution, which is what
        # the convolutions' own zero padding gives a row that is alone.
        x = self.embed(x if mask is None else x * mask)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.convnext:
            x = block(x, mask)
        return self.final_layer_norm(x.transpose(1, 2))


class FactorizedVQ(nn.Module):
    """Factorised VQ with L2-normalised codes (cosine nearest neighbour)."""

    def __init__(self, input_dim: int, codebook_size: int, codebook_dim: int):
        super().__init__()
        if input_dim == codebook_dim:
            raise ValueError("semantic codec: input_dim == codebook_dim is not supported")
        self.in_project = WNConv1d(input_dim, codebook_dim)
        self.out_project = WNConv1d(codebook_dim, input_dim)
        self.codebook = nn.Embedding(codebook_size, codebook_dim)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z [B, D, T] -> (out_project(z_e + (z_q - z_e)) [B, D, T], codes [B, T])."""
        z_e = self.in_project(z)
        enc = F.normalize(z_e.transpose(1, 2).reshape(-1, z_e.shape[1]))
        book = F.normalize(self.codebook.weight)
        dist = (
            enc.pow(2).sum(1, keepdim=True)
            - 2 * enc @ book.t()
            + book.pow(2).sum(1, keepdim=True).t()
        )
        codes = (-dist).max(1)[1].reshape(z.shape[0], -1)
        z_q = self.codebook(codes).transpose(1, 2)
        # Same arithmetic as the official straight-through estimator (differs from z_q by ~1e-7).
        z_q = z_e + (z_q - z_e)
        return self.out_project(z_q), codes

    def vq2emb(self, codes: Tensor) -> Tensor:
        return self.out_project(self.codebook(codes).transpose(1, 2))


class ResidualVQ(nn.Module):
    def __init__(self, input_dim: int, num_quantizers: int, codebook_size: int, codebook_dim: int):
        super().__init__()
        self.quantizers = nn.ModuleList(
            [FactorizedVQ(input_dim, codebook_size, codebook_dim) for _ in range(num_quantizers)]
        )

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        out = torch.zeros_like(z)
        residual = z
        all_codes = []
        for quantizer in self.quantizers:
            z_q, codes = quantizer(residual)
            out = out + z_q
            residual = residual - z_q
            all_codes.append(codes)
        return out, torch.stack(all_codes)  # [B, D, T], [N, B, T]

    def vq2emb(self, codes: Tensor) -> Tensor:  # codes [N, B, T] -> [B, D, T]
        out = 0.0
        for idx, quantizer in enumerate(self.quantizers[: codes.shape[0]]):
            out = out + quantizer.vq2emb(codes[idx])
        return out


_CODEC_DEFAULTS = {
    "codebook_size": 8192,
    "hidden_size": 1024,
    "codebook_dim": 8,
    "vocos_dim": 384,
    "vocos_intermediate_dim": 2048,
    "vocos_num_layers": 12,
    "num_quantizers": 1,
    "downsample_scale": 1,
}


def build_codec_trunk(codec: nn.Module, c: dict[str, Any]) -> None:
    """The RepCodec trunk both codecs share (2.5's adds its down/up-sampling convs around
    it): hidden_size, num_quantizers, encoder, decoder and quantizer, from the config."""
    h, d = int(c["hidden_size"]), int(c["vocos_dim"])
    inter, n = int(c["vocos_intermediate_dim"]), int(c["vocos_num_layers"])
    codec.hidden_size = h
    codec.num_quantizers = int(c["num_quantizers"])
    codec.encoder = nn.Sequential(VocosBackbone(h, d, inter, n), nn.Linear(d, h))
    codec.decoder = nn.Sequential(VocosBackbone(h, d, inter, n), nn.Linear(d, h))
    codec.quantizer = ResidualVQ(
        h, codec.num_quantizers, int(c["codebook_size"]), int(c["codebook_dim"])
    )


class CodecTrunk(nn.Module):
    """What both codecs do with the trunk's quantizer (build_codec_trunk fills it)."""

    quantizer: ResidualVQ

    def _quantized(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Encoder output z [B, H, T] -> (codes [B, T] (or [N, B, T] for N > 1
        quantizers), quantized [B, T, H]), as the official quantize."""
        quantized, codes = self.quantizer(z)
        if codes.shape[0] == 1:
            codes = codes[0]
        return codes, quantized.transpose(1, 2)

    def _embedded(self, codes: Tensor, device: torch.device) -> Tensor:
        """codes [B, T] (or [N, B, T]) -> [B, H, T], the official quantizer.vq2emb output."""
        if codes.dim() == 2:
            codes = codes.unsqueeze(0)
        return self.quantizer.vq2emb(codes.to(device))


class SemanticCodec(CodecTrunk):
    """MaskGCT RepCodec (semantic codec): features -> codes -> embeddings."""

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__()
        c = {**_CODEC_DEFAULTS, **(cfg or {})}
        if (c["downsample_scale"] or 1) > 1:
            raise ValueError(
                "semantic codec: downsample_scale > 1 is not used by IndexTTS2 and not supported"
            )
        build_codec_trunk(self, c)

    @classmethod
    def load(
        cls,
        safetensors: Path,
        cfg: dict[str, Any] | None = None,
        device: str | torch.device = "cpu",
    ) -> SemanticCodec:
        state = read_safetensors(Path(safetensors))
        if cfg is None:
            cfg = codec_config_from_state(state)
        model = cls(cfg)
        model.load_state_dict(state, strict=True)
        return model.to(device).eval()

    def encode(self, feats: Tensor, mask: Tensor | None = None) -> Tensor:
        """Encoder output before VQ, [B, T, H]."""
        m = None if mask is None else mask.to(feats.dtype)[:, None, :]
        backbone, proj = self.encoder
        return proj(backbone(feats.transpose(1, 2), m))

    @torch.inference_mode()
    def quantize(self, feats: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """feats [B, T, H] (mask [B, T]: frames of each row) -> (codes, quantized [B, T, H])."""
        return self._quantized(self.encode(feats, mask).transpose(1, 2))

    @torch.inference_mode()
    def vq2emb(self, codes: Tensor) -> Tensor:
        """codes [B, T] (or [N, B, T]) -> [B, H, T], the official quantizer.vq2emb output."""
        return self._embedded(codes, self.quantizer.quantizers[0].codebook.weight.device)

    def embed_codes(self, codes: Tensor) -> Tensor:
        """codes [B, T] -> [B, T, H] (what infer_v2 feeds the S2M length regulator)."""
        return self.vq2emb(codes).transpose(1, 2)


def codec_config_from_state(state: dict[str, Tensor]) -> dict[str, int]:
    """RepCodec widths read from a state dict (so a codec loads without its config)."""
    n_layers = len({k.split(".")[3] for k in state if k.startswith("encoder.0.convnext.")})
    n_quant = len({k.split(".")[2] for k in state if k.startswith("quantizer.quantizers.")})
    book = state["quantizer.quantizers.0.codebook.weight"]
    return {
        "codebook_size": book.shape[0],
        "codebook_dim": book.shape[1],
        "hidden_size": state["encoder.1.weight"].shape[0],
        "vocos_dim": state["encoder.0.embed.weight"].shape[0],
        "vocos_intermediate_dim": state["encoder.0.convnext.0.pwconv1.weight"].shape[0],
        "vocos_num_layers": n_layers,
        "num_quantizers": n_quant,
    }


def load_codec_config(config_yaml: Path) -> dict[str, Any]:
    """The `semantic_codec` section of an IndexTTS2 config.yaml."""
    return dict(read_yaml(Path(config_yaml))["semantic_codec"])
