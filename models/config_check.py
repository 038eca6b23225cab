"""Can the engine use this config? Each model config parsed as the loaders parse it.

A config.yaml that is valid YAML but lacks a section (or has a value of the wrong type) is
whole as a file, yet the dub would stop at load time with the parser's error. `models
verify` asks this module instead, naming the file and what is wrong with it.

    config_problem(manifest_path, file) -> str | None
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

# What the loaders read from the two JSON configs (models/semantic.py builds w2v-BERT from
# its config.json and keeps hidden_states[17]; models/vocoder.py builds BigVGAN from its
# own). Their absence is a KeyError deep inside the load.
_W2V_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
_W2V_LAYERS = 17
_FEATURES_KEYS = ("feature_size", "num_mel_bins", "sampling_rate", "stride")
_BIGVGAN_KEYS = (
    "resblock",
    "upsample_rates",
    "upsample_kernel_sizes",
    "upsample_initial_channel",
    "resblock_kernel_sizes",
    "resblock_dilation_sizes",
    "activation",
    "num_mels",
    "hop_size",
    "sampling_rate",
)


def _index_config(data: dict[str, Any]) -> None:
    from models.config import IndexTTSConfig
    from models.s2m.config import S2MConfig

    IndexTTSConfig.from_dict(data)
    if "s2mel" not in data:
        raise ValueError("config has no 's2mel' section")
    S2MConfig.from_dict(data)
    if not isinstance(data.get("semantic_codec"), dict):
        raise ValueError("config has no 'semantic_codec' section")


def _needs(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def check(data: dict[str, Any]) -> None:
        absent = [k for k in keys if k not in data]
        if absent:
            raise ValueError(f"no {', '.join(repr(k) for k in absent)}")

    return check


def _w2v_config(data: dict[str, Any]) -> None:
    _needs(_W2V_KEYS)(data)
    if int(data["num_hidden_layers"]) < _W2V_LAYERS:
        raise ValueError(
            f"num_hidden_layers is {data['num_hidden_layers']}; hidden_states[{_W2V_LAYERS}] "
            f"needs at least {_W2V_LAYERS}"
        )


# Manifest path -> what the loader requires of it.
_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "indextts2/config.yaml": _index_config,
    "indextts25/config.yaml": _index_config,
    "indextts2/hf_cache/w2v-bert-2.0/config.json": _w2v_config,
    "indextts2/hf_cache/w2v-bert-2.0/preprocessor_config.json": _needs(_FEATURES_KEYS),
    "indextts2/hf_cache/bigvgan/config.json": _needs(_BIGVGAN_KEYS),
}


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return json.loads(text)
    import yaml

    return yaml.safe_load(text)


def config_problem(manifest_path: str, path: Path) -> str | None:
    """Why the engine cannot use the config at `path`, or None (also for files that are
    not configs this module knows). Parse errors of the file itself are damage_of's."""
    check = _CHECKS.get(manifest_path)
    if check is None:
        return None
    try:
        data = _read(Path(path))
        if not isinstance(data, dict):
            return "unusable config (not a mapping)"
        check(data)
    except (OSError, UnicodeDecodeError):
        return None  # unreadable: damage_of reports it
    except Exception as exc:  # the loaders' own errors (ValueError, KeyError, TypeError...)
        text = str(exc).strip().splitlines()
        what = text[0][:200] if text else type(exc).__name__
        if isinstance(exc, KeyError):
            what = f"no {what}"
        return f"unusable config ({what})"
    return None
