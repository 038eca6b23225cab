"""Key checks for the semantic and speaker front ends, against the FULL-SIZE key lists in
DIR/keys/: our SemanticCodec built from DIR/keys/config.yaml (semantic_codec.json), our
CAMPPlus (campplus.json), and transformers' Wav2Vec2BertModel built from the w2v-bert-2.0
values recorded in w2v_bert_2_0.json itself. Models are built on the meta device (no
memory, no init), so only names, shapes, dtypes and parameter totals are compared."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from models.parity import Check, exact
from models.semantic import SemanticCodec, load_codec_config
from models.speaker import NUM_MEL_BINS, STYLE_DIM, CAMPPlus

STAGE = "keys"


def _dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def compare_state(name: str, model: nn.Module, keys_json: Path) -> list[Check]:
    """Exact keys, shapes, dtypes and parameter total of `model` vs a keys/*.json file."""
    spec = json.loads(Path(keys_json).read_text())
    expected = {e["key"]: (tuple(e["shape"]), e["dtype"]) for e in spec["state_dict"]}
    ours = {k: (tuple(v.shape), _dtype_name(v)) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(ours))
    unexpected = sorted(set(ours) - set(expected))
    mismatched = sorted(k for k in set(ours) & set(expected) if ours[k] != expected[k])
    total = sum(p.numel() for p in model.parameters())

    def detail(keys: list[str], what: str) -> str:
        head = ", ".join(f"{k} {ours.get(k, '')} vs {expected.get(k, '')}" for k in keys[:5])
        return f"{len(keys)} {what}: {head}" if keys else ""

    return [
        exact(STAGE, f"{name}_missing_keys", not missing, detail(missing, "missing")),
        exact(STAGE, f"{name}_unexpected_keys", not unexpected, detail(unexpected, "unexpected")),
        exact(STAGE, f"{name}_shapes_dtypes", not mismatched, detail(mismatched, "differ")),
        exact(
            STAGE,
            f"{name}_parameter_total",
            total == spec["total_parameters"],
            f"{total} vs {spec['total_parameters']}",
        ),
    ]


def checks(root: Path) -> list[Check]:
    keys = Path(root) / "keys"
    out: list[Check] = []

    with torch.device("meta"):
        codec = SemanticCodec(load_codec_config(keys / "config.yaml"))
    out += compare_state("semantic_codec", codec, keys / "semantic_codec.json")

    with torch.device("meta"):
        campplus = CAMPPlus(feat_dim=NUM_MEL_BINS, embedding_size=STYLE_DIM)
    out += compare_state("campplus", campplus, keys / "campplus.json")

    from transformers import Wav2Vec2BertConfig, Wav2Vec2BertModel

    w2v_json = keys / "w2v_bert_2_0.json"
    config = Wav2Vec2BertConfig(**json.loads(w2v_json.read_text())["config"])
    with torch.device("meta"):
        w2v = Wav2Vec2BertModel(config)
    out += compare_state("w2v_bert_2_0", w2v, w2v_json)
    # We drop the layers above 17 after loading; the real model must have them to load strictly.
    out.append(
        exact(
            STAGE,
            "w2v_bert_2_0_has_layer_17",
            config.num_hidden_layers >= 17,
            f"{config.num_hidden_layers} layers",
        )
    )
    return out
