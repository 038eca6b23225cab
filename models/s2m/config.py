"""S2M hyper-parameters, read from the `s2mel` section of the official IndexTTS2 config.yaml.

Only the options the IndexTTS2 release turns on are implemented (continuous content through
`content_in_proj`, no f0, no vector quantiser, DiT with style condition, U-ViT skips, long skip
and a WaveNet final layer). A config asking for anything else is refused when it is read, so a
different checkpoint family fails loudly instead of running with a silently wrong graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class MelConfig:
    sampling_rate: int = 22050
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float | None = None

    @classmethod
    def from_dict(cls, pp: Mapping[str, Any]) -> MelConfig:
        sp = pp["spect_params"]
        # infer_v2 maps the string "None" to None and anything else to 8000 (sic).
        fmax_raw = sp.get("fmax", "None")
        fmax = None if fmax_raw in (None, "None") else 8000.0
        return cls(
            sampling_rate=int(pp["sr"]),
            n_fft=int(sp["n_fft"]),
            win_length=int(sp["win_length"]),
            hop_length=int(sp["hop_length"]),
            n_mels=int(sp["n_mels"]),
            fmin=float(sp.get("fmin", 0)),
            fmax=fmax,
        )


@dataclass(frozen=True)
class LengthRegulatorConfig:
    channels: int = 512
    in_channels: int = 1024
    sampling_ratios: tuple[int, ...] = (1, 1, 1, 1)
    content_codebook_size: int = 2048

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LengthRegulatorConfig:
        _refuse(d, "is_discrete", False, "length_regulator")
        _refuse(d, "vector_quantize", False, "length_regulator")
        _refuse(d, "f0_condition", False, "length_regulator")
        _refuse(d, "n_codebooks", 1, "length_regulator")
        return cls(
            channels=int(d["channels"]),
            in_channels=int(d.get("in_channels", 1024)),
            sampling_ratios=tuple(int(r) for r in d["sampling_ratios"]),
            content_codebook_size=int(d["content_codebook_size"]),
        )


@dataclass(frozen=True)
class DiTConfig:
    hidden_dim: int = 512
    num_heads: int = 8
    depth: int = 13
    in_channels: int = 80
    content_dim: int = 512
    content_codebook_size: int = 1024
    style_condition: bool = True
    long_skip_connection: bool = True
    uvit_skip_connection: bool = True
    final_layer_type: str = "wavenet"
    # The official DiT ignores the config's block_size and hard-codes 16384 (rotary table and
    # the `input_pos` buffer that is part of the state dict).
    block_size: int = 16384

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DiTConfig:
        for key in ("time_as_token", "style_as_token", "is_causal", "f0_condition"):
            _refuse(d, key, False, "DiT")
        _refuse(d, "zero_prompt_speech_token", False, "DiT")
        _refuse(d, "add_resblock_in_transformer", False, "DiT")
        _refuse(d, "final_layer_type", "wavenet", "DiT")
        return cls(
            hidden_dim=int(d["hidden_dim"]),
            num_heads=int(d["num_heads"]),
            depth=int(d["depth"]),
            in_channels=int(d["in_channels"]),
            content_dim=int(d["content_dim"]),
            content_codebook_size=int(d["content_codebook_size"]),
            style_condition=bool(d.get("style_condition", True)),
            long_skip_connection=bool(d.get("long_skip_connection", True)),
            uvit_skip_connection=bool(d.get("uvit_skip_connection", True)),
        )


@dataclass(frozen=True)
class WaveNetConfig:
    hidden_dim: int = 512
    num_layers: int = 8
    kernel_size: int = 5
    dilation_rate: int = 1

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WaveNetConfig:
        return cls(
            hidden_dim=int(d["hidden_dim"]),
            num_layers=int(d["num_layers"]),
            kernel_size=int(d["kernel_size"]),
            dilation_rate=int(d["dilation_rate"]),
        )


@dataclass(frozen=True)
class S2MConfig:
    mel: MelConfig = field(default_factory=MelConfig)
    length_regulator: LengthRegulatorConfig = field(default_factory=LengthRegulatorConfig)
    dit: DiTConfig = field(default_factory=DiTConfig)
    wavenet: WaveNetConfig = field(default_factory=WaveNetConfig)
    style_dim: int = 192
    # gpt_layer: Linear(in, 256) -> Linear(256, 128) -> Linear(128, out). The official code
    # hard-codes 1280 -> 1024; loading takes the real widths from the checkpoint's shapes.
    gpt_layer_dims: tuple[int, int, int, int] = (1280, 256, 128, 1024)

    @classmethod
    def from_dict(cls, s2mel: Mapping[str, Any]) -> S2MConfig:
        """Build from the `s2mel` section (or from a whole config dict holding one)."""
        if "s2mel" in s2mel:
            s2mel = s2mel["s2mel"]
        if s2mel.get("dit_type", "DiT") != "DiT":
            raise NotImplementedError(f"unsupported s2mel.dit_type {s2mel.get('dit_type')!r}")
        dit = DiTConfig.from_dict(s2mel["DiT"])
        wavenet = WaveNetConfig.from_dict(s2mel["wavenet"])
        if wavenet.hidden_dim != dit.hidden_dim:
            # The WaveNet final layer is modulated by the DiT time embedding.
            raise ValueError("s2mel.wavenet.hidden_dim must equal s2mel.DiT.hidden_dim")
        if not dit.style_condition or not bool(s2mel["wavenet"].get("style_condition", True)):
            raise NotImplementedError("only style-conditioned DiT/WaveNet is supported")
        return cls(
            mel=MelConfig.from_dict(s2mel["preprocess_params"]),
            length_regulator=LengthRegulatorConfig.from_dict(s2mel["length_regulator"]),
            dit=dit,
            wavenet=wavenet,
            style_dim=int(s2mel["style_encoder"]["dim"]),
        )

    @classmethod
    def from_yaml(cls, path: Path) -> S2MConfig:
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(yaml.safe_load(f))


def _refuse(d: Mapping[str, Any], key: str, supported: Any, section: str) -> None:
    if key in d and d[key] != supported:
        raise NotImplementedError(
            f"s2mel.{section}.{key} = {d[key]!r} is not supported (only {supported!r})"
        )
