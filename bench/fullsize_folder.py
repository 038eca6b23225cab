"""Write an IndexTTS2 model folder in the official layout (issue 13).

`--size full` (the default) writes every model at full size with random weights, built by
bench/engine.py's builders from the full-size configs in ../shared/reference/keys, so the
product's own load path (IndexTTS2Engine.load) can be measured at full size: about 7 GB.
`--size tiny` writes the tiny reference checkpoints back through the same writers, which
is how the writers are checked (tests/test_fullsize_folder.py): loading the written folder
must give exactly what loading the reference gives.

    .venv/bin/python bench/fullsize_folder.py OUT_DIR [--size full|tiny] [--seed N]
        [--reference DIR] [--no-verify]

OUT_DIR/indextts2/ then holds config.yaml, gpt.pth, s2mel.pth, bpe.model,
wav2vec2bert_stats.pt, feat1.pt, feat2.pt and hf_cache/ (w2v-bert-2.0/,
semantic_codec_model.safetensors, campplus_cn_common.bin, bigvgan/), each file in the format
the official code writes it (../shared/reference/README.md, "checkpoints/ (formats and
loaders)"), so IndexTTS2Engine.load(OUT_DIR) reads it like a downloaded folder. Each file is
written under a temporary name and renamed, so an interrupted run leaves no file that looks
whole. After a full-size write every file's keys, shapes and dtypes are compared with the
official full-size listings in keys/ (reading only headers and indexes).

Random weights: each module's own init (T2S.build's seeded draws for the GPT), except the
semantic codec's weight-norm convolutions, which the module leaves uninitialised
(torch.empty): they get a Conv1d's default init with the gain set to the filter norm, as
torch's weight_norm starts. bpe.model is the reference's (its size does not affect load or
render time); the w2v statistics are mean 0 / variance 1 as in bench/engine.py.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.engine import (  # noqa: E402
    REFERENCE,
    build_bigvgan,
    build_campplus,
    build_codec,
    build_emotion_matrices,
    build_s2m,
    build_t2s,
    build_w2v,
    full_config,
)
from models.config import load_config  # noqa: E402
from models.layout import IndexTTS2Files, read_json, read_torch  # noqa: E402
from models.s2m import S2M  # noqa: E402
from models.s2m.loading import MODULES as S2MEL_MODULES  # noqa: E402
from models.semantic import SemanticCodec, WNConv1d, load_codec_config  # noqa: E402
from models.speaker import SpeakerStyle  # noqa: E402
from models.t2s import T2S  # noqa: E402
from models.t2s.gpt2 import is_conv1d_key  # noqa: E402

if TYPE_CHECKING:
    from bigvgan import BigVGAN
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

Log = Callable[[str], None]


# --------------------------------------------------------------------------- writing


def _replace(path: Path, write: Callable[[Path], None]) -> None:
    """write(temporary path beside `path`), then rename it to `path`. The temporary file
    keeps the final name inside a hidden folder: torch.save names its archive's top folder
    after the file (gpt/data.pkl in the official gpt.pth)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = path.with_name(f".{path.name}.partial")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir()
    try:
        write(tmp_dir / path.name)
        os.replace(tmp_dir / path.name, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _replace_folder_files(folder: Path, write: Callable[[Path], None]) -> None:
    """write(temporary folder) for writers that take a folder (save_pretrained), then
    rename each file it wrote into `folder`."""
    tmp = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for f in sorted(tmp.iterdir()):
            os.replace(f, folder / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _torch_save(path: Path, obj: Any) -> None:
    _replace(path, lambda tmp: torch.save(obj, tmp))


def copy_file(src: Path, dst: Path) -> None:
    _replace(dst, lambda tmp: shutil.copyfile(src, tmp))


def gpt_state(t2s: T2S) -> dict[str, Tensor]:
    """The state dict as the official gpt.pth stores it (UnifiedVoice.state_dict()): GPT-2's
    Conv1D weights input-major [in, out] and contiguous. Our T2S keeps them output-major
    for F.linear (models/t2s/loading.py transposes them on load)."""
    if t2s.decoder_dtype != torch.float32:
        raise ValueError("gpt.pth is written from float32 weights (this T2S was stored in half)")
    return {k: v.t().contiguous() if is_conv1d_key(k) else v for k, v in t2s.state_dict().items()}


def write_gpt(path: Path, t2s: T2S) -> None:
    _torch_save(path, gpt_state(t2s))


def s2mel_state(s2m: S2M) -> dict[str, dict[str, dict[str, Tensor]]]:
    """{'net': {'cfm': sd, 'length_regulator': sd, 'gpt_layer': sd}}, weight norms as
    weight_g / weight_v (what MyModel's checkpoint holds)."""
    if any(getattr(m, "folded", False) for m in s2m.modules()):
        raise ValueError("s2mel.pth needs the weight-norm parameters; this S2M has them folded")
    return {"net": {name: getattr(s2m, name).state_dict() for name in S2MEL_MODULES}}


def write_s2mel(path: Path, s2m: S2M) -> None:
    _torch_save(path, s2mel_state(s2m))


def write_w2v(
    folder: Path, model: Wav2Vec2BertModel, extractor: SeamlessM4TFeatureExtractor
) -> None:
    """config.json, model.safetensors (one file, as the release has) and
    preprocessor_config.json, by transformers' own save_pretrained."""

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp, max_shard_size="50GB")
        extractor.save_pretrained(tmp)

    _replace_folder_files(folder, write)


def write_w2v_stats(path: Path, mean: Tensor, var: Tensor) -> None:
    _torch_save(path, {"mean": mean, "var": var})


def write_codec(path: Path, codec: SemanticCodec) -> None:
    """safetensors.torch.save_model (how the MaskGCT codec file was written)."""
    from safetensors.torch import save_model

    _replace(path, lambda tmp: save_model(codec, str(tmp)))


def write_campplus(path: Path, campplus: nn.Module) -> None:
    _torch_save(path, campplus.state_dict())


def bigvgan_state(gan: BigVGAN) -> dict[str, dict[str, Tensor]]:
    """{'generator': state dict with weight norm} (BigVGAN._save_pretrained)."""
    sd = gan.state_dict()
    if not any(k.endswith(".weight_g") for k in sd):
        raise ValueError("bigvgan_generator.pt holds the weight norm; this BigVGAN has it removed")
    return {"generator": sd}


def write_bigvgan(folder: Path, gan: BigVGAN, h: Mapping[str, Any]) -> None:
    """bigvgan_generator.pt and config.json, as BigVGAN._save_pretrained writes them."""
    _torch_save(folder / "bigvgan_generator.pt", bigvgan_state(gan))
    text = json.dumps(dict(h), indent=4)
    _replace(folder / "config.json", lambda tmp: tmp.write_text(text))


def _done(log: Log, path: Path, t0: float) -> None:
    size = sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size
    log(f"  {path.name}: {size / 1e6:,.1f} MB in {time.perf_counter() - t0:.1f} s")


# --------------------------------------------------------------------------- full size


def init_codec_weight_norms(codec: SemanticCodec) -> None:
    """The codec's WNConv1d leaves weight_v uninitialised: a Conv1d's default init, with the
    gain equal to the filter norm (so the weight is v, as torch's weight_norm starts)."""
    with torch.no_grad():
        for m in codec.modules():
            if isinstance(m, WNConv1d):
                nn.init.kaiming_uniform_(m.weight_v, a=math.sqrt(5))
                m.weight_g.copy_(torch.linalg.vector_norm(m.weight_v, dim=(1, 2), keepdim=True))


def write_full(
    out: Path, reference: Path = REFERENCE, seed: int = 0, log: Log = print
) -> IndexTTS2Files:
    """Every model at full size with random weights, built and written one at a time (the
    process holds one model, plus the GPT's transposed copy, at a time)."""
    keys = reference / "keys"
    cfg = full_config(keys)
    files = IndexTTS2Files.in_folder(Path(out) / "indextts2")
    torch.manual_seed(seed)

    def step(path: Path, write: Callable[[], None]) -> None:
        t0 = time.perf_counter()
        write()
        gc.collect()
        _done(log, path, t0)

    step(files.config, lambda: copy_file(keys / "config.yaml", files.config))
    step(files.bpe, lambda: copy_file(reference / "checkpoints" / "bpe.model", files.bpe))
    step(files.gpt, lambda: write_gpt(files.gpt, build_t2s(cfg, seed=seed)))
    step(files.s2mel, lambda: write_s2mel(files.s2mel, build_s2m(cfg)))
    hidden: list[int] = []

    def w2v() -> None:
        model, extractor = build_w2v(keys, layers=None)  # all 24 layers, as released
        hidden.append(int(model.config.hidden_size))
        write_w2v(files.w2v_bert, model, extractor)

    step(files.w2v_bert, w2v)
    width = hidden[0]
    step(
        files.w2v_stats,
        lambda: write_w2v_stats(files.w2v_stats, torch.zeros(width), torch.ones(width)),
    )

    def codec() -> None:
        model = build_codec(cfg)
        init_codec_weight_norms(model)
        write_codec(files.semantic_codec, model)

    step(files.semantic_codec, codec)
    step(files.campplus, lambda: write_campplus(files.campplus, build_campplus()))
    step(files.bigvgan, lambda: write_bigvgan(files.bigvgan, *build_bigvgan(keys)))
    spk, emo = build_emotion_matrices(cfg)
    step(files.spk_matrix, lambda: _torch_save(files.spk_matrix, spk))
    step(files.emo_matrix, lambda: _torch_save(files.emo_matrix, emo))
    return files


# --------------------------------------------------------------------------- tiny


def _follow_link(path: Path) -> Path:
    """A real symlink, or a link that the shared/ copy turned into a small text file
    holding its relative target (as tests/conftest.py materialises them)."""
    if path.is_file() and not path.is_symlink() and path.stat().st_size < 512:
        try:
            text = path.read_text().strip()
        except UnicodeDecodeError:
            return path
        if text.startswith("..") and "\n" not in text and (path.parent / text).exists():
            return (path.parent / text).resolve()
    return path.resolve()


def tiny_sources(reference: Path = REFERENCE) -> IndexTTS2Files:
    """The tiny end-to-end set: reference/model_dir/indextts2 with its links followed."""
    linked = IndexTTS2Files.in_folder(reference / "model_dir" / "indextts2")
    fields = {
        name: _follow_link(getattr(linked, name))
        for name in ("config", "gpt", "s2mel", "bpe", "w2v_stats", "spk_matrix", "emo_matrix")
        + ("w2v_bert", "semantic_codec", "campplus", "bigvgan")
    }
    return IndexTTS2Files.in_folder(linked.root, **fields)


def read_bigvgan(folder: Path) -> tuple[BigVGAN, dict[str, Any]]:
    """A BigVGAN file as the module holds it before remove_weight_norm (strict)."""
    from bigvgan import BigVGAN
    from bigvgan.env import AttrDict

    h = read_json(folder / "config.json")
    state = read_torch(folder / "bigvgan_generator.pt")
    with torch.device("meta"):
        gan = BigVGAN(AttrDict(h), use_cuda_kernel=False)
    gan.load_state_dict(state["generator"], strict=True, assign=True)
    return gan, h


def write_tiny(out: Path, src: IndexTTS2Files, log: Log = print) -> IndexTTS2Files:
    """The files of `src` read with our loaders (whole models, in the file's form) and
    written back with the writers above into out/indextts2."""
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

    files = IndexTTS2Files.in_folder(Path(out) / "indextts2")
    cfg = load_config(src.config)
    copy_file(src.config, files.config)
    copy_file(src.bpe, files.bpe)
    write_gpt(files.gpt, T2S.load(src.gpt, cfg.gpt))
    write_s2mel(files.s2mel, S2M.load(src.s2mel, cfg.raw))
    # SemanticEncoder.load keeps 17 layers; the file has them all: read it whole, with the
    # transformers loader that SemanticEncoder.load wraps.
    w2v = Wav2Vec2BertModel.from_pretrained(src.w2v_bert, local_files_only=True)
    extractor = SeamlessM4TFeatureExtractor.from_pretrained(src.w2v_bert, local_files_only=True)
    write_w2v(files.w2v_bert, w2v, extractor)
    stats = read_torch(src.w2v_stats)  # SemanticEncoder keeps sqrt(var), not var
    write_w2v_stats(files.w2v_stats, stats["mean"], stats["var"])
    write_codec(
        files.semantic_codec,
        SemanticCodec.load(src.semantic_codec, load_codec_config(src.config)),
    )
    write_campplus(files.campplus, SpeakerStyle.load(src.campplus).model)
    write_bigvgan(files.bigvgan, *read_bigvgan(src.bigvgan))  # Vocoder.load folds the norms
    _torch_save(files.spk_matrix, read_torch(src.spk_matrix))
    _torch_save(files.emo_matrix, read_torch(src.emo_matrix))
    log(f"wrote the tiny reference models to {files.root}")
    return files


# --------------------------------------------------------------------------- verifying

Layout = dict[str, tuple[tuple[int, ...], str]]


def _layout(sd: Mapping[str, Tensor]) -> Layout:
    return {k: (tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in sd.items()}


def _listed(entries: list[dict[str, Any]]) -> Layout:
    return {e["key"]: (tuple(e["shape"]), e["dtype"]) for e in entries}


def layout_problems(what: str, found: Layout, expected: Layout) -> list[str]:
    """Keys, shapes and dtypes of a file against an official listing."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(found) & set(expected) if found[k] != expected[k])
    out = []
    if missing:
        out.append(f"{what}: {len(missing)} keys missing, e.g. {missing[:3]}")
    if extra:
        out.append(f"{what}: {len(extra)} unexpected keys, e.g. {extra[:3]}")
    for k in wrong[:5]:
        out.append(f"{what}: {k} is {found[k]}, the release has {expected[k]}")
    return out


def official_layouts(keys: Path) -> dict[str, Layout]:
    """The full-size listings in keys/, by file (s2mel.pth entries as 'module/key')."""

    def spec(name: str) -> dict[str, Any]:
        return json.loads((keys / name).read_text())

    s2mel = spec("s2mel_mymodel.json")["modules"]
    return {
        "gpt.pth": _listed(spec("gpt_unifiedvoice.json")["state_dict"]),
        "s2mel.pth": {
            f"{m}/{k}": v for m in S2MEL_MODULES for k, v in _listed(s2mel[m]["state_dict"]).items()
        },
        "w2v-bert-2.0/model.safetensors": _listed(spec("w2v_bert_2_0.json")["state_dict"]),
        "semantic_codec_model.safetensors": _listed(spec("semantic_codec.json")["state_dict"]),
        "campplus_cn_common.bin": _listed(spec("campplus.json")["state_dict"]),
        "bigvgan/bigvgan_generator.pt": _listed(
            spec("bigvgan_v2_22khz_80band_256x.json")["checkpoint_state_dict_with_weight_norm"]
        ),
    }


def _safetensors_layout(path: Path) -> Layout:
    from safetensors import safe_open

    names = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64"}
    out: Layout = {}
    with safe_open(str(path), "pt") as f:
        for k in f.keys():
            sl = f.get_slice(k)
            out[k] = (tuple(sl.get_shape()), names.get(sl.get_dtype(), sl.get_dtype()))
    return out


def file_layouts(files: IndexTTS2Files) -> dict[str, Layout]:
    """The written files' keys, shapes and dtypes (torch files memory-mapped: no reads of
    the tensors themselves)."""

    def mapped(path: Path) -> Any:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)

    net = mapped(files.s2mel)["net"]
    return {
        "gpt.pth": _layout(mapped(files.gpt)),
        "s2mel.pth": {f"{m}/{k}": v for m in S2MEL_MODULES for k, v in _layout(net[m]).items()},
        "w2v-bert-2.0/model.safetensors": _safetensors_layout(files.w2v_bert / "model.safetensors"),
        "semantic_codec_model.safetensors": _safetensors_layout(files.semantic_codec),
        "campplus_cn_common.bin": _layout(mapped(files.campplus)),
        "bigvgan/bigvgan_generator.pt": _layout(
            mapped(files.bigvgan / "bigvgan_generator.pt")["generator"]
        ),
    }


def verify_full(files: IndexTTS2Files, keys: Path) -> list[str]:
    """Problems of a full-size folder against the official listings (empty: it matches)."""
    expected = official_layouts(keys)
    found = file_layouts(files)
    problems = [p for name in expected for p in layout_problems(name, found[name], expected[name])]
    cfg = full_config(keys)
    rows = sum(cfg.emo_num)
    stats = read_torch(files.w2v_stats)
    width = int(json.loads((keys / "w2v_bert_2_0.json").read_text())["config"]["hidden_size"])
    shapes = {
        "feat1.pt": (tuple(read_torch(files.spk_matrix).shape), (rows, 192)),
        "feat2.pt": (tuple(read_torch(files.emo_matrix).shape), (rows, cfg.gpt.model_dim)),
        "wav2vec2bert_stats.pt mean": (tuple(stats["mean"].shape), (width,)),
        "wav2vec2bert_stats.pt var": (tuple(stats["var"].shape), (width,)),
    }
    problems += [f"{k}: {a}, want {b}" for k, (a, b) in shapes.items() if a != b]
    return problems


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path, help="the model directory to write (OUT/indextts2/)")
    ap.add_argument("--size", choices=("full", "tiny"), default="full")
    ap.add_argument("--seed", type=int, default=0, help="random weights' seed (full size)")
    ap.add_argument("--reference", type=Path, default=REFERENCE)
    ap.add_argument("--no-verify", action="store_true", help="skip the check against keys/")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.size == "tiny":
        write_tiny(args.out, tiny_sources(args.reference))
        return 0
    print(f"writing the full-size folder (random weights, seed {args.seed}) to {args.out}")
    files = write_full(args.out, args.reference, args.seed)
    size = sum(p.stat().st_size for p in files.root.rglob("*") if p.is_file())
    print(f"wrote {size / 1e9:.2f} GB in {time.perf_counter() - t0:.0f} s: {files.root}")
    if args.no_verify:
        return 0
    problems = verify_full(files, args.reference / "keys")
    for p in problems:
        print(f"  MISMATCH {p}")
    print(
        "every file matches the official full-size keys, shapes and dtypes"
        if not problems
        else f"{len(problems)} mismatches against keys/"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
