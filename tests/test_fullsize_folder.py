"""bench/fullsize_folder.py's writers (issue 13): the tiny reference models, read with our
loaders and written back, must read back exactly (file contents and loaded engine), and
what the writers would write at full size must have the release's keys, shapes and dtypes
(built on the meta device: no memory, no init)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch

from bench import fullsize_folder as ff
from bench.engine import (
    build_bigvgan,
    build_campplus,
    build_codec,
    build_s2m,
    build_w2v,
    full_config,
)
from models.indextts2.engine import IndexTTS2Engine
from models.layout import IndexTTS2Files, locate, read_safetensors, read_torch
from models.t2s import T2S

# transformers writes its own version and dtype spelling into config.json.
CONFIG_ONLY_WRITER = {"transformers_version", "torch_dtype", "dtype"}


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Exactly equal: the same keys (in any order: no loader depends on it, and our modules
    register theirs in another order than the official ones), tensors with the same dtype,
    shape, strides and values (bit for bit; NaN only where NaN)."""
    if isinstance(a, Mapping):
        assert isinstance(b, Mapping), f"{where}: {type(b).__name__}, not a mapping"
        assert set(a) == set(b), f"{where}: keys differ: {sorted(set(a) ^ set(b))[:4]}"
        for k in a:
            assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), f"{where}: {type(b).__name__}, not a tensor"
        assert (a.dtype, a.shape, a.stride()) == (b.dtype, b.shape, b.stride()), where
        assert (
            torch.equal(a, b)
            or torch.equal(a.isnan(), b.isnan())
            and torch.equal(a.nan_to_num(), b.nan_to_num())
        ), f"{where}: values differ"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def round_trip(tiny_model_dir: Path, tmp_path_factory) -> tuple[IndexTTS2Files, IndexTTS2Files]:
    src = locate(tiny_model_dir)
    out = tmp_path_factory.mktemp("written")
    return src, ff.write_tiny(out, src, log=lambda _: None)


def _torch_files(f: IndexTTS2Files) -> dict[str, Path]:
    return {
        "gpt.pth": f.gpt,
        "s2mel.pth": f.s2mel,
        "wav2vec2bert_stats.pt": f.w2v_stats,
        "feat1.pt": f.spk_matrix,
        "feat2.pt": f.emo_matrix,
        "campplus_cn_common.bin": f.campplus,
        "bigvgan_generator.pt": f.bigvgan / "bigvgan_generator.pt",
    }


def test_written_files_hold_exactly_the_reference_contents(round_trip):
    src, out = round_trip
    assert out.missing() == [] and out.damaged() == []
    assert not list(out.root.rglob("*.partial")), "a temporary file was left behind"
    for name, a in _torch_files(src).items():
        b = _torch_files(out)[name]
        assert_same(read_torch(a), read_torch(b), name)
        # torch.save names the archive's folder after the file (gpt/data.pkl): same names.
        top = {n.split("/")[0] for n in zipfile.ZipFile(a).namelist()}
        assert top == {n.split("/")[0] for n in zipfile.ZipFile(b).namelist()}, name
    for a, b in (
        (src.semantic_codec, out.semantic_codec),
        (src.w2v_bert / "model.safetensors", out.w2v_bert / "model.safetensors"),
    ):
        assert_same(read_safetensors(a), read_safetensors(b), b.name)
    for rel in ("config.json", "preprocessor_config.json"):
        a = json.loads((src.w2v_bert / rel).read_text())
        b = json.loads((out.w2v_bert / rel).read_text())
        assert {k: v for k, v in a.items() if k not in CONFIG_ONLY_WRITER} == {
            k: v for k, v in b.items() if k not in CONFIG_ONLY_WRITER
        }, rel
    assert json.loads((src.bigvgan / "config.json").read_text()) == json.loads(
        (out.bigvgan / "config.json").read_text()
    )
    for a, b in ((src.config, out.config), (src.bpe, out.bpe)):
        assert a.read_bytes() == b.read_bytes(), b.name


def _loaded_state(engine: IndexTTS2Engine) -> dict[str, Any]:
    p = engine.parts
    return {
        "t2s": p.t2s.state_dict(),
        "s2m": p.s2m.state_dict(),
        "w2v": p.semantic.model.state_dict(),
        "w2v_mean": p.semantic.mean,
        "w2v_std": p.semantic.std,
        "codec": p.codec.state_dict(),
        "campplus": p.style.model.state_dict(),
        "vocoder": p.vocoder.model.state_dict(),
        "spk_matrix": dict(enumerate(p.emotion_mats.spk)),
        "emo_matrix": dict(enumerate(p.emotion_mats.emo)),
    }


def test_the_engine_loads_the_written_folder_exactly_as_the_reference(round_trip):
    src, out = round_trip
    first = IndexTTS2Engine.from_files(src, precision="fp32", normalize_text=False)
    again = IndexTTS2Engine.load(out.root.parent, precision="fp32", normalize_text=False)
    assert_same(_loaded_state(first), _loaded_state(again), "engine")


def test_the_check_catches_one_changed_weight(round_trip):
    """The comparison above can fail: one weight off by one ulp is found."""
    src, _ = round_trip
    sd = read_torch(src.gpt)
    changed = {k: v.clone() for k, v in sd.items()}
    key = next(k for k in changed if k.endswith("attn.c_attn.weight"))
    changed[key].view(-1)[0] = torch.nextafter(changed[key].view(-1)[0], torch.tensor(1.0))
    with pytest.raises(AssertionError, match="c_attn"):
        assert_same(sd, changed, "gpt.pth")


def test_writers_refuse_models_not_in_the_file_form(round_trip, reference_dir):
    src, _ = round_trip
    gan, _h = ff.read_bigvgan(src.bigvgan)
    gan.remove_weight_norm()
    with pytest.raises(ValueError, match="weight norm"):
        ff.bigvgan_state(gan)
    cfg = full_config(reference_dir / "keys")
    with torch.device("meta"):
        s2m = build_s2m(cfg)
    s2m.cfm.estimator.fold_weight_norms()
    with pytest.raises(ValueError, match="folded"):
        ff.s2mel_state(s2m)


def test_full_size_files_would_have_the_release_layout(reference_dir):
    """What write_full writes, built on the meta device, against keys/ (the official
    full-size listings): GPT-2 Conv1D weights input-major, weight norms kept, all 24 w2v
    layers."""
    keys = reference_dir / "keys"
    cfg = full_config(keys)
    expected = ff.official_layouts(keys)
    with torch.device("meta"):
        t2s = T2S(cfg.gpt)
        s2m = build_s2m(cfg)
        w2v, _ = build_w2v(keys, layers=None)
        codec = build_codec(cfg)
        ff.init_codec_weight_norms(codec)
        gan, _ = build_bigvgan(keys)
        campplus = build_campplus()
    s2mel = ff.s2mel_state(s2m)["net"]
    found = {
        "gpt.pth": ff._layout(ff.gpt_state(t2s)),
        "s2mel.pth": {f"{m}/{k}": v for m, sd in s2mel.items() for k, v in ff._layout(sd).items()},
        "w2v-bert-2.0/model.safetensors": ff._layout(w2v.state_dict()),
        "semantic_codec_model.safetensors": ff._layout(codec.state_dict()),
        "campplus_cn_common.bin": ff._layout(campplus.state_dict()),
        "bigvgan/bigvgan_generator.pt": ff._layout(ff.bigvgan_state(gan)["generator"]),
    }
    assert set(found) == set(expected)
    problems = [
        p for name, lay in found.items() for p in ff.layout_problems(name, lay, expected[name])
    ]
    assert problems == []
    # ...and the check itself sees a file left in our output-major layout.
    wrong = {k: v.t() if k.endswith("c_fc.weight") else v for k, v in ff.gpt_state(t2s).items()}
    assert ff.layout_problems("gpt.pth", ff._layout(wrong), expected["gpt.pth"])
