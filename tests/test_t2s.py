"""T2S model: strict loading of the official gpt.pth, full-size keys, parity with gpt/."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from models.config import load_config
from models.parity import run_stage
from models.parity.keys_gpt import checks as gpt_key_checks
from models.t2s import T2S, CheckpointMismatch
from models.t2s.gpt2 import is_conv1d_key


def test_config_full_size(reference_dir: Path) -> None:
    cfg = load_config(reference_dir / "keys" / "config.yaml")
    assert cfg.gpt.model_dim == 1280 and cfg.gpt.layers == 24 and cfg.gpt.heads == 20
    assert cfg.gpt.condition_module.num_blocks == 6
    assert cfg.gpt.emo_condition_module.attention_heads == 4
    assert cfg.gpt.mel_positions == 1818 and cfg.gpt.text_positions == 602
    assert cfg.emo_num == (3, 17, 2, 8, 4, 5, 10, 24)
    assert cfg.raw["s2mel"]["DiT"]["depth"] == 13  # other sections stay available raw


def test_full_size_keys_and_shapes(reference_dir: Path) -> None:
    results = gpt_key_checks(reference_dir)
    assert results and all(c.passed for c in results), [c for c in results if not c.passed]


@pytest.mark.parametrize("folder", ["checkpoints", "e2e/checkpoints", "model_dir/indextts2"])
def test_tiny_checkpoints_load_strictly(
    reference_dir: Path, tiny_model_dir: Path, folder: str
) -> None:
    base = (
        tiny_model_dir / "indextts2" if folder.startswith("model_dir") else reference_dir / folder
    )
    cfg = load_config(base / "config.yaml").gpt
    model = T2S.load(base / "gpt.pth", cfg)
    sd = torch.load(base / "gpt.pth", map_location="cpu", weights_only=True)
    ours = model.state_dict()
    assert set(ours) == set(sd)
    for k, v in sd.items():
        expected = v.t() if is_conv1d_key(k) else v
        assert torch.equal(ours[k], expected), k
    # Output-major and contiguous, so F.linear streams rows.
    w = model.gpt.h[0].attn.c_attn.weight
    assert w.shape == (3 * cfg.model_dim, cfg.model_dim) and w.is_contiguous()


def test_e2e_width_read_from_checkpoint(reference_dir: Path) -> None:
    base = reference_dir / "e2e" / "checkpoints"
    model = T2S.load(base / "gpt.pth", load_config(base / "config.yaml").gpt)
    assert model.cfg.cond_input_size == 32  # official code hard-codes 1024
    out = model.speaker_latents(torch.randn(1, 40, 32))
    assert out.shape == (1, 32, 64)
    with pytest.raises(ValueError, match="wide"):
        model.speaker_latents(torch.randn(1, 40, 1024))


def _save(sd: dict, path: Path) -> Path:
    torch.save(sd, path)
    return path


def test_wrong_checkpoint_refused_with_key_names(reference_dir: Path, tmp_path: Path) -> None:
    base = reference_dir / "checkpoints"
    cfg = load_config(base / "config.yaml").gpt
    sd = torch.load(base / "gpt.pth", map_location="cpu", weights_only=True)

    missing = {k: v for k, v in sd.items() if k != "speed_emb.weight"}
    with pytest.raises(CheckpointMismatch, match=r"missing keys: .*speed_emb\.weight"):
        T2S.load(_save(missing, tmp_path / "a.pth"), cfg)

    extra = dict(sd, **{"gpt.wte.weight": torch.zeros(3, 3)})
    with pytest.raises(CheckpointMismatch, match=r"unexpected keys: .*gpt\.wte\.weight"):
        T2S.load(_save(extra, tmp_path / "b.pth"), cfg)

    reshaped = dict(sd, **{"mel_head.bias": torch.zeros(5)})
    with pytest.raises(CheckpointMismatch, match=r"shape mismatch.*mel_head\.bias"):
        T2S.load(_save(reshaped, tmp_path / "c.pth"), cfg)

    # A config that does not fit (more layers than the file has) is refused too.
    deeper = dataclasses.replace(cfg, layers=cfg.layers + 1)
    with pytest.raises(CheckpointMismatch, match=r"gpt\.h\.2\."):
        T2S.load(base / "gpt.pth", deeper)


def test_conds_duration_slot(reference_dir: Path) -> None:
    base = reference_dir / "checkpoints"
    model = T2S.load(base / "gpt.pth", load_config(base / "config.yaml").gpt)
    lat = torch.randn(2, 32, 64)
    emo = torch.randn(2, 64)
    speed = model.conds(lat, emo, duration_tokens=50, duration_embedding="speed")
    paper = model.conds(lat, emo, duration_tokens=[50, None], duration_embedding="paper")
    assert speed.shape == paper.shape == (2, 34, 64)
    assert torch.allclose(speed[:, :32], lat + emo[:, None])
    assert torch.equal(speed[:, 32], model.speed_emb.weight[1].expand(2, -1))
    assert torch.equal(speed[:, 33], model.speed_emb.weight[0].expand(2, -1))
    assert torch.equal(paper[0, 33], model.mel_pos_embedding.emb.weight[50])
    assert torch.equal(paper[1, 33], model.speed_emb.weight[0])  # no target: release slot
    assert torch.equal(paper[:, :33], speed[:, :33])


def test_gpt_parity_stage(reference_dir: Path) -> None:
    results = run_stage(reference_dir, "gpt")
    bad = [c for c in results if not c.passed]
    assert len(results) >= 20 and not bad, bad
