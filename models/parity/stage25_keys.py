"""Stage `keys` of the 2.5 set: our modules, built from DIR/checkpoints/config.yaml alone,
have exactly the keys and shapes of the official files (gpt.pth, codec.pth, s2mel.pth's cfm
and length_regulator, CAMPPlus). No key lists of the full-size 2.5 files exist, so this is
the proof that shapes come from the config: the loaders derive the full-size shapes the same
way. The two widths the official GPT hard-codes (emotion input 1024, perceiver 1024) and
CAMPPlus's widths are taken from DIR/checkpoints/overrides.json, as the set was built."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from models.config import load_config
from models.indextts25 import codec as codec25
from models.indextts25 import gpt as gpt25
from models.indextts25 import s2m as s2m25
from models.layout import read_torch
from models.parity import Check, exact
from models.speaker import CAMPPlus
from models.t2s.loading import check_keys

STAGE = "keys"


def _check(name: str, expected: dict, found: dict) -> Check:
    problems = check_keys(expected, found)
    return exact(STAGE, f"{name} ({len(expected)} keys)", not problems, "; ".join(problems))


def run(root: Path) -> list[Check]:
    ck = Path(root) / "checkpoints"
    cfg = load_config(ck / "config.yaml")
    overrides = json.loads((ck / "overrides.json").read_text(encoding="utf-8"))
    gcfg = dataclasses.replace(
        cfg.gpt, cond_input_size=int(overrides.get("gpt_emo_conditioning_input_size", 1024))
    )
    shapes = lambda sd: {k: tuple(v.shape) for k, v in sd.items()}  # noqa: E731
    checks = [
        _check("gpt.pth", gpt25.expected_shapes(gcfg), shapes(read_torch(ck / "gpt.pth"))),
        _check(
            "codec.pth",
            codec25.expected_shapes(cfg.raw["semantic_codec"]),
            shapes(read_torch(ck / "codec.pth")["model"]),
        ),
    ]
    net = read_torch(ck / "s2mel.pth")["net"]
    for module, expected in s2m25.expected_shapes(s2m25.s2m_config25(cfg.raw)).items():
        checks.append(_check(f"s2mel.pth {module}", expected, shapes(net[module])))
    with torch.device("meta"):
        campplus = CAMPPlus(**overrides["campplus_constructor_kwargs"])
    checks.append(
        _check(
            "campplus_cn_common.bin",
            shapes(campplus.state_dict()),
            shapes(read_torch(ck / "hf_cache" / "campplus_cn_common.bin")),
        )
    )
    return checks
