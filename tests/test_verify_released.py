"""`models verify` parses every config and knows the released checkpoints (issue 26, item 16):
the tiny random models are whole but not the release (exit 4 unless --allow-custom); a
config.yaml without its `gpt` section is reported by verify, not found by the dub."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
import torch
import yaml

from app.cli import EXIT_MODELS, EXIT_OK, main
from core.models import installed as model_manager
from core.models.release import not_released
from models.manifest import load_manifest
from models.released import RELEASED_SHAPES, build_released_shapes, shape_difference

SHAPES = json.loads(RELEASED_SHAPES.read_text())["architectures"]


@pytest.fixture
def model_dir(tiny_model_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "models"
    shutil.copytree(tiny_model_dir, copy, symlinks=True)
    return copy


def _own_file(path: Path, data: bytes) -> None:
    """Replace a link into the read-only reference set by a file of our own."""
    path.unlink()
    path.write_bytes(data)


def test_the_tiny_models_are_not_reported_as_the_release(model_dir, capsys):
    assert main(["models", "verify", "--model-dir", str(model_dir)]) == EXIT_MODELS
    out = capsys.readouterr().out
    assert "not the released checkpoint" in out and "--allow-custom" in out
    assert "CUSTOM   indextts2/gpt.pth" in out and "CUSTOM   indextts2/s2mel.pth" in out
    assert "whole and the released one" not in out

    assert main(["models", "verify", "--allow-custom", "--model-dir", str(model_dir)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "CUSTOM   indextts2/gpt.pth" in out  # still said, only allowed
    assert "custom files allowed" in out


def test_a_config_without_its_gpt_section_is_reported_by_verify(model_dir, capsys):
    config = model_dir / "indextts2/config.yaml"
    data = yaml.safe_load(config.read_text())
    data["renamed_gpt"] = data.pop("gpt")  # whole YAML, but the engine cannot use it
    _own_file(config, yaml.safe_dump(data).encode())
    (problem,) = model_manager.verify(model_dir, quick=True)
    assert problem.path == "indextts2/config.yaml" and problem.kind == "damaged"
    assert "'gpt'" in problem.detail
    assert main(["models", "verify", "--allow-custom", "--model-dir", str(model_dir)]) == (
        EXIT_MODELS
    )
    assert "indextts2/config.yaml" in capsys.readouterr().out


def test_a_bigvgan_config_without_its_rates_is_reported(model_dir):
    config = model_dir / "indextts2/hf_cache/bigvgan/config.json"
    data = json.loads(config.read_text())
    del data["upsample_rates"]
    bigvgan = config.parent
    real = bigvgan.resolve()
    bigvgan.unlink()  # hf_cache/bigvgan is a link to the shared folder: make a real one
    shutil.copytree(real, bigvgan)
    (bigvgan / "config.json").write_text(json.dumps(data))
    (problem,) = model_manager.verify(model_dir, quick=True)
    assert problem.path == "indextts2/hf_cache/bigvgan/config.json"
    assert "upsample_rates" in problem.detail


def test_the_shipped_architecture_is_the_reference_key_lists(reference_dir):
    assert json.loads(RELEASED_SHAPES.read_text()) == build_released_shapes(reference_dir / "keys")


def _released_gpt(path: Path, change: str | None = None) -> None:
    """A gpt.pth with every released tensor at its released shape (each a view of one
    element, so the file is small); `change` gets one row more."""
    sd = {}
    for kind in ("parameters", "buffers"):
        for key, shape in SHAPES["gpt"][kind].items():
            if key == change:
                shape = [shape[0] + 1, *shape[1:]]
            sd[key] = torch.zeros(1).expand(*shape) if shape else torch.zeros(())
    torch.save(sd, path)


def test_a_checkpoint_of_the_released_shapes_passes_and_one_wrong_shape_fails(tmp_path):
    path = tmp_path / "gpt.pth"
    _released_gpt(path)
    assert shape_difference("indextts2/gpt.pth", path) is None
    _released_gpt(path, change="text_embedding.weight")
    why = shape_difference("indextts2/gpt.pth", path)
    assert why and "1 tensor(s) of other shapes" in why and "text_embedding.weight" in why


def _safetensors_header(path: Path, shapes: dict[str, list[int]]) -> None:
    header = {k: {"dtype": "F32", "shape": s, "data_offsets": [0, 0]} for k, s in shapes.items()}
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def test_safetensors_shapes_are_read_from_the_header(tmp_path):
    path = tmp_path / "model.safetensors"
    codec = SHAPES["semantic_codec"]["parameters"]
    _safetensors_header(path, codec)
    assert shape_difference("indextts2/hf_cache/semantic_codec_model.safetensors", path) is None
    _safetensors_header(
        path, {k: s for k, s in codec.items() if k != "quantizer.quantizers.0.codebook.weight"}
    )
    assert "absent" in (
        shape_difference("indextts2/hf_cache/semantic_codec_model.safetensors", path) or ""
    )


def test_a_file_of_the_released_size_but_other_bytes_is_found_by_its_sha256(model_dir):
    spec = next(f for f in load_manifest().files if f.path.endswith("preprocessor_config.json"))
    assert spec.released_size and spec.released_sha256
    where = model_dir / "indextts2/hf_cache/w2v-bert-2.0"
    real = where.resolve()
    where.unlink()
    shutil.copytree(real, where)
    data = json.loads((where / "preprocessor_config.json").read_text())
    text = json.dumps(data)
    text += " " * (spec.released_size - len(text.encode()))  # the released size exactly
    (where / "preprocessor_config.json").write_text(text)
    quick = [p.path for p in not_released(model_dir, quick=True)]
    full = {p.path: p for p in not_released(model_dir)}
    assert spec.path not in quick  # the size is the release's: only the checksum can tell
    assert "sha256 differs" in full[spec.path].detail
    assert model_manager.verify(model_dir) == []  # whole and usable: no damage


def test_the_released_indextts25_checkpoints_are_pinned_with_their_source():
    files = {f.path: f for f in load_manifest().files}
    for name in ("gpt.pth", "s2mel.pth", "codec.pth"):
        spec = files[f"indextts25/{name}"]
        assert spec.released_size and spec.released_size > 100_000_000
        assert spec.released_sha256 and len(spec.released_sha256) == 64
        assert spec.released_source and "peterstorm/.dotfiles" in spec.released_source
