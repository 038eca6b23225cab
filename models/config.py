"""Typed view of the official IndexTTS2 `config.yaml`.

Only the `gpt` section (the text-to-semantic model) and the top-level file names are typed;
every other section stays available as its raw dict (`IndexTTSConfig.raw[...]`), so the S2M,
codec and vocoder owners can read what they need without this module knowing about it.

    cfg = load_config(Path("checkpoints/config.yaml"))
    cfg.gpt.model_dim, cfg.gpt.condition_module.output_size, cfg.emo_num, cfg.raw["s2mel"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.layout import read_yaml


@dataclass(frozen=True)
class ConditionModuleConfig:
    """A conformer + perceiver conditioning encoder (speaker or emotion path)."""

    output_size: int
    linear_units: int
    attention_heads: int
    num_blocks: int
    input_layer: str = "conv2d2"
    perceiver_mult: float = 2.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConditionModuleConfig:
        return cls(
            output_size=int(d["output_size"]),
            linear_units=int(d["linear_units"]),
            attention_heads=int(d["attention_heads"]),
            num_blocks=int(d["num_blocks"]),
            input_layer=str(d.get("input_layer", "conv2d2")),
            perceiver_mult=float(d.get("perceiver_mult", 2.0)),
        )


@dataclass(frozen=True)
class GPTConfig:
    """The `gpt` section: UnifiedVoice's constructor arguments."""

    model_dim: int
    max_mel_tokens: int
    max_text_tokens: int
    heads: int
    layers: int
    number_text_tokens: int
    number_mel_codes: int
    start_mel_token: int
    stop_mel_token: int
    start_text_token: int
    stop_text_token: int
    condition_module: ConditionModuleConfig
    emo_condition_module: ConditionModuleConfig
    use_mel_codes_as_input: bool = True
    mel_length_compression: int = 1024
    train_solo_embeddings: bool = False
    condition_type: str = "conformer_perceiver"
    # Not in the yaml: UnifiedVoice's defaults / hard-coded widths. The two widths are
    # replaced by the checkpoint's tensor shapes at load time (see models/t2s/loading.py).
    condition_num_latent: int = 32
    max_conditioning_inputs: int = 1
    types: int = 1
    cond_input_size: int = 1024
    emo_perceiver_dim: int = 1024

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GPTConfig:
        ctype = str(d.get("condition_type", "conformer_perceiver"))
        if ctype != "conformer_perceiver":
            raise ValueError(
                f"only condition_type 'conformer_perceiver' is supported, got {ctype!r}"
            )
        if not d.get("use_mel_codes_as_input", True):
            raise ValueError("only use_mel_codes_as_input: true is supported")
        if d.get("train_solo_embeddings", False):
            raise ValueError("train_solo_embeddings: true is not supported")
        return cls(
            model_dim=int(d["model_dim"]),
            max_mel_tokens=int(d["max_mel_tokens"]),
            max_text_tokens=int(d["max_text_tokens"]),
            heads=int(d["heads"]),
            layers=int(d["layers"]),
            number_text_tokens=int(d["number_text_tokens"]),
            number_mel_codes=int(d["number_mel_codes"]),
            start_mel_token=int(d["start_mel_token"]),
            stop_mel_token=int(d["stop_mel_token"]),
            start_text_token=int(d.get("start_text_token", 0)),
            stop_text_token=int(d.get("stop_text_token", 1)),
            condition_module=ConditionModuleConfig.from_dict(d["condition_module"]),
            emo_condition_module=ConditionModuleConfig.from_dict(d["emo_condition_module"]),
            use_mel_codes_as_input=True,
            mel_length_compression=int(d.get("mel_length_compression", 1024)),
            train_solo_embeddings=False,
            condition_type=ctype,
        )

    # Table sizes exactly as UnifiedVoice builds them.
    @property
    def mel_positions(self) -> int:
        return self.max_mel_tokens + 2 + self.max_conditioning_inputs

    @property
    def text_positions(self) -> int:
        return self.max_text_tokens + 2

    @property
    def text_vocab(self) -> int:
        return self.number_text_tokens * self.types + 1


@dataclass(frozen=True)
class IndexTTSConfig:
    gpt: GPTConfig
    gpt_checkpoint: str = "gpt.pth"
    s2mel_checkpoint: str = "s2mel.pth"
    w2v_stat: str = "wav2vec2bert_stats.pt"
    spk_matrix: str = "feat1.pt"
    emo_matrix: str = "feat2.pt"
    emo_num: tuple[int, ...] = ()
    qwen_emo_path: str = "qwen0.6bemo4-merge/"
    version: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IndexTTSConfig:
        if "gpt" not in d:
            raise ValueError("config has no 'gpt' section")
        return cls(
            gpt=GPTConfig.from_dict(d["gpt"]),
            gpt_checkpoint=str(d.get("gpt_checkpoint", "gpt.pth")),
            s2mel_checkpoint=str(d.get("s2mel_checkpoint", "s2mel.pth")),
            w2v_stat=str(d.get("w2v_stat", "wav2vec2bert_stats.pt")),
            spk_matrix=str(d.get("spk_matrix", "feat1.pt")),
            emo_matrix=str(d.get("emo_matrix", "feat2.pt")),
            emo_num=tuple(int(x) for x in d.get("emo_num", ())),
            qwen_emo_path=str(d.get("qwen_emo_path", "qwen0.6bemo4-merge/")),
            version=str(d.get("version", "")),
            raw=d,
        )


def load_config(path: Path) -> IndexTTSConfig:
    """Read an official config.yaml (plain YAML; OmegaConf is not needed). An empty or
    unparsable file raises ModelFilesDamaged naming it."""
    return IndexTTSConfig.from_dict(read_yaml(path))
