"""The IndexTTS-2.5 semantic codec (the official `indextts.codec.models.EnhancedCodec`):
50 Hz w2v-BERT features -> 25 codes per second -> 50 Hz content features for the flow model.

    codec = EnhancedCodec.load(folder / "codec.pth", cfg["semantic_codec"])
    codes, quantized = codec.quantize(feats)     # [B, ceil(T/2)], [B, ceil(T/2), H]
    s_infer = codec.decode(codes)                # [B, 2N, H]: what the length regulator takes

quantize: Conv1d(H, H, 3, stride 2, padding 1) + GELU (the 25 Hz step), then the RepCodec
encoder and factorised VQ of 2.0 (models.semantic: same layers, same names). decode:
vq2emb -> decoder -> nearest x2 upsampling -> Conv1d(H, H, 3, padding 1). 2.0 fed the S2M
vq2emb(codes) at 50 Hz plus a GPT-latent projection; 2.5 feeds it decode(codes) only.

Loading is strict (the official loader keeps the random init of a key that is missing or of
another shape, with only a log line): every such key is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.layout import read_torch
from models.semantic import CodecTrunk, build_codec_trunk
from models.t2s.loading import CheckpointMismatch, check_keys

DEFAULTS = {  # EnhancedCodec's constructor defaults
    "codebook_size": 8192,
    "hidden_size": 1024,
    "codebook_dim": 8,
    "vocos_dim": 384,
    "vocos_intermediate_dim": 2048,
    "vocos_num_layers": 12,
    "num_quantizers": 1,
    "downsample_scale": 2,
}


class EnhancedCodec(CodecTrunk):
    def __init__(self, cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        c = {**DEFAULTS, **{k: v for k, v in (cfg or {}).items() if k in DEFAULTS}}
        if int(c["downsample_scale"] or 1) != 2:
            raise ValueError(
                f"semantic_codec.downsample_scale {c['downsample_scale']}: the 2.5 codec "
                "halves the frame rate (2); other values are not what IndexTTS-2.5 ships"
            )
        h = int(c["hidden_size"])
        self.down = nn.Conv1d(h, h, kernel_size=3, stride=2, padding=1)
        self.up = nn.Conv1d(h, h, kernel_size=3, stride=1, padding=1)
        build_codec_trunk(self, c)

    @classmethod
    def load(
        cls,
        codec_pth: Path,
        cfg: Mapping[str, Any] | None = None,
        device: str | torch.device = "cpu",
    ) -> EnhancedCodec:
        obj = read_torch(Path(codec_pth))
        state = obj.get("model") if isinstance(obj, Mapping) else None
        if not isinstance(state, Mapping):
            raise CheckpointMismatch(f"{codec_pth}: not a codec checkpoint (no 'model' entry)")
        with torch.device("meta"):
            model = cls(cfg)
        problems = check_keys(
            expected_shapes_of(model), {k: tuple(v.shape) for k, v in state.items()}
        )
        if problems:
            raise CheckpointMismatch(
                f"{codec_pth} does not match config.yaml semantic_codec:\n  "
                + "\n  ".join(problems)
            )
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True, assign=True)
        return model.to(device).eval()

    @property
    def device(self) -> torch.device:
        return self.down.weight.device

    def downsample(self, feats: Tensor) -> Tensor:
        """[B, T, H] 50 Hz -> [B, ceil(T/2), H] 25 Hz."""
        return F.gelu(self.down(feats.transpose(1, 2))).transpose(1, 2)

    @torch.inference_mode()
    def quantize(self, feats: Tensor) -> tuple[Tensor, Tensor]:
        """feats [B, T, H] -> (codes [B, ceil(T/2)] (or [N, B, T'] for N > 1 quantizers),
        quantized [B, T', H]), as the official quantize."""
        x = self.downsample(feats.to(self.device, torch.float32))
        backbone, proj = self.encoder
        return self._quantized(proj(backbone(x.transpose(1, 2))).transpose(1, 2))

    @torch.inference_mode()
    def vq2emb(self, codes: Tensor) -> Tensor:
        """codes [B, N] (or [Q, B, N]) -> [B, H, N]."""
        return self._embedded(codes, self.device)

    @torch.inference_mode()
    def decode(self, codes: Tensor) -> Tensor:
        """codes [B, N] -> content features [B, 2N, H] at 50 Hz (S_infer)."""
        backbone, proj = self.decoder
        x = proj(backbone(self.vq2emb(codes)))  # [B, N, H]
        x = F.interpolate(x.transpose(1, 2), scale_factor=2, mode="nearest")
        return self.up(x).transpose(1, 2)


def expected_shapes_of(model: EnhancedCodec) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict(keep_vars=True).items()}


def expected_shapes(cfg: Mapping[str, Any] | None) -> dict[str, tuple[int, ...]]:
    """Keys and shapes a codec.pth of this config stores."""
    with torch.device("meta"):
        return expected_shapes_of(EnhancedCodec(cfg))
