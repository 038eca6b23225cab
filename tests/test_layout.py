from __future__ import annotations

import pytest

from models.contract import ModelFilesMissing
from models.layout import locate


def test_tiny_model_dir_is_complete(tiny_model_dir):
    files = locate(tiny_model_dir)
    assert files.missing() == []
    assert files.check() is files
    # the folder that is itself a checkpoints folder is accepted too
    assert locate(tiny_model_dir / "indextts2").missing() == []


def test_missing_files_are_listed_with_the_download_command(tmp_path):
    (tmp_path / "indextts2").mkdir()
    (tmp_path / "indextts2" / "gpt.pth").write_bytes(b"x")
    with pytest.raises(ModelFilesMissing) as err:
        locate(tmp_path).check(tmp_path)
    msg = str(err.value)
    assert "indextts2/s2mel.pth" in msg and "indextts2/gpt.pth" not in msg
    assert "download_models.py --model-dir" in msg


def test_official_hf_cache_layout_is_found(tmp_path):
    root = tmp_path / "checkpoints"
    snap = root / "hf_cache" / "models--amphion--MaskGCT" / "snapshots" / "abc" / "semantic_codec"
    snap.mkdir(parents=True)
    (snap / "model.safetensors").write_bytes(b"x")
    bv = root / "hf_cache" / "models--nvidia--bigvgan_v2_22khz_80band_256x" / "snapshots" / "r1"
    bv.mkdir(parents=True)
    (bv / "config.json").write_text("{}")
    (root / "gpt.pth").write_bytes(b"x")
    files = locate(root)
    assert files.semantic_codec == snap / "model.safetensors"
    assert files.bigvgan == bv
    assert "hf_cache/semantic_codec_model.safetensors" not in files.missing()
