"""Damaged model files (cut short, empty) are named, called damaged, and the editor is told
how to fetch them again: by the offline check, at load time, and by `dubsmith models`."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from app.cli import EXIT_MODELS, EXIT_OK, main
from models.contract import ModelFilesDamaged, ModelFilesMissing
from models.layout import damage_of, locate
from tests import mediagen

W2V = "hf_cache/w2v-bert-2.0/model.safetensors"
CODEC = "hf_cache/semantic_codec_model.safetensors"


@pytest.fixture
def model_dir(tiny_model_dir, tmp_path) -> Path:
    """A private copy of the tiny model folder: file links to the read-only reference, and
    linked folders (w2v-bert-2.0/, bigvgan/) copied, so damaging a file inside them cannot
    write through a link into the shared reference."""
    dst = tmp_path / "models"
    shutil.copytree(tiny_model_dir, dst, symlinks=True)
    for link in [p for p in dst.rglob("*") if p.is_symlink() and p.is_dir()]:
        target = link.resolve()
        link.unlink()
        shutil.copytree(target, link)
    return dst


def damage(model_dir: Path, rel: str, keep: float | bytes) -> Path:
    """Replace indextts2/<rel> by its first `keep` fraction of bytes, or by `keep` bytes."""
    path = model_dir / "indextts2" / rel
    assert path.parent.resolve().is_relative_to(model_dir.resolve())  # never the reference
    data = path.read_bytes()
    path.unlink()  # a link into the reference: replaced, never written through
    path.write_bytes(keep if isinstance(keep, bytes) else data[: int(len(data) * keep)])
    return path


def test_intact_folder_has_no_damage_and_the_look_is_cheap(tiny_model_dir):
    files = locate(tiny_model_dir)
    start = time.perf_counter()
    assert files.damaged() == []
    assert time.perf_counter() - start < 2.0  # headers and indexes, not 40 MB of tensors
    assert files.check() is files


@pytest.mark.parametrize(
    "rel, keep, reason",
    [
        ("gpt.pth", 0.5, "cut short"),
        ("s2mel.pth", 0.99, "cut short"),
        ("config.yaml", b"", "empty"),
        ("config.yaml", b"\n", "not a YAML mapping"),
        ("config.yaml", b"gpt: [1, 2\n", "corrupt"),
        (W2V, 0.5, "cut short"),
        (CODEC, 0.999, "cut short"),
        ("bpe.model", 0.5, "corrupt"),
        ("hf_cache/bigvgan/config.json", 0.5, "corrupt"),
        ("feat1.pt", b"not a checkpoint", "not a torch checkpoint"),
    ],
)
def test_damaged_file_is_named_with_reason_and_hint(model_dir, rel, keep, reason):
    damage(model_dir, rel, keep)
    files = locate(model_dir)
    assert files.missing() == []
    (found,) = files.damaged()
    assert found[0] == rel and reason in found[1]
    with pytest.raises(ModelFilesDamaged) as err:
        files.check(model_dir)
    assert isinstance(err.value, ModelFilesMissing)  # the CLI's exit code 4 applies
    msg = str(err.value)
    assert f"indextts2/{rel}" in msg and reason in msg and "damaged" in msg
    assert f"download_models.py --model-dir {model_dir}" in msg and "Delete" in msg
    assert err.value.damaged == [(f"indextts2/{rel}", found[1])]


def test_missing_files_are_reported_first(model_dir):
    damage(model_dir, "gpt.pth", 0.5)
    (model_dir / "indextts2" / "feat2.pt").unlink()
    with pytest.raises(ModelFilesMissing) as err:
        locate(model_dir).check(model_dir)
    assert type(err.value) is ModelFilesMissing and "indextts2/feat2.pt" in str(err.value)


def test_safetensors_longer_than_its_header_is_damaged(tmp_path, reference_dir):
    whole = (reference_dir / "checkpoints" / "semantic_codec" / "model.safetensors").read_bytes()
    path = tmp_path / "model.safetensors"
    path.write_bytes(whole)
    assert damage_of(path) is None
    path.write_bytes(whole + b"\0" * 7)
    assert "7 bytes more" in damage_of(path)


# ---- at load time: the readers name the file (no check() before them) ---------------------


def test_readers_raise_damaged_naming_the_file(model_dir):
    from models.config import load_config
    from models.semantic import SemanticCodec
    from models.t2s.loading import read_state_dict

    gpt = damage(model_dir, "gpt.pth", 0.5)
    with pytest.raises(ModelFilesDamaged) as err:
        read_state_dict(gpt)
    msg = str(err.value)
    assert "indextts2/gpt.pth" in msg and "cut short" in msg
    assert "PytorchStreamReader" not in msg.splitlines()[0]  # not the raw torch error
    assert f"--model-dir {model_dir}" in msg
    assert isinstance(err.value.__cause__, RuntimeError)  # torch's reason stays chained

    config = damage(model_dir, "config.yaml", b"")
    with pytest.raises(ModelFilesDamaged, match=r"indextts2/config\.yaml: empty"):
        load_config(config)

    codec = damage(model_dir, CODEC, 0.5)
    with pytest.raises(ModelFilesDamaged, match="semantic_codec_model.safetensors"):
        SemanticCodec.load(codec)


def test_engine_load_fails_fast_on_a_damaged_file(model_dir):
    from models.indextts2.engine import IndexTTS2Engine

    damage(model_dir, "gpt.pth", 0.5)
    start = time.perf_counter()
    with pytest.raises(ModelFilesDamaged, match="indextts2/gpt.pth"):
        IndexTTS2Engine.load(model_dir)
    assert time.perf_counter() - start < 5.0  # refused before any model is built


# ---- the command line ---------------------------------------------------------------------


def test_models_command_lists_damaged_files(model_dir, capsys):
    assert main(["models", "--model-dir", str(model_dir)]) == EXIT_OK
    assert "complete" in capsys.readouterr().out
    damage(model_dir, "gpt.pth", 0.5)
    damage(model_dir, "config.yaml", b"")
    assert main(["models", "--model-dir", str(model_dir)]) == EXIT_MODELS
    out = capsys.readouterr().out
    assert "DAMAGED indextts2/gpt.pth" in out and "DAMAGED indextts2/config.yaml" in out
    assert "cut short" in out and "empty (0 bytes)" in out
    assert "ok      indextts2/s2mel.pth" in out
    assert "complete" not in out
    assert "Delete the damaged files" in out and "download_models.py" in out


def test_dub_with_a_damaged_checkpoint_exits_4_naming_it(model_dir, tmp_path, capsys):
    video = mediagen.make_test_video(
        tmp_path / "clip.mp4", duration_s=3, lines=[(0.5, "Hello.", "en-us")],
        srt_path=tmp_path / "clip.srt",
    )  # fmt: skip
    damage(model_dir, "gpt.pth", 0.5)
    code = main(
        ["dub", str(video), "-o", str(tmp_path / "o.mp4"), "--model-dir", str(model_dir),
         "--work-dir", str(tmp_path / "w"), "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_MODELS
    assert "indextts2/gpt.pth" in err and "cut short" in err and "download_models.py" in err
    assert "Traceback" not in err and not (tmp_path / "o.mp4").exists()
