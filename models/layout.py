"""Where the IndexTTS2 files live inside a model directory (DESIGN.md, "Real components").

The model directory holds `indextts2/`, laid out exactly like the official IndexTTS
`checkpoints/` folder with its `hf_cache/`. A folder that is itself such a `checkpoints/`
folder is accepted too. Inside `hf_cache/` we also accept the Hugging Face cache layout
(`models--org--name/snapshots/<rev>/...`) that the official code leaves behind, so a folder
downloaded for the official code works as is.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from models.contract import ModelFilesMissing

MANIFEST = Path(__file__).resolve().parents[1] / "resources" / "model_manifest.json"
DOWNLOAD_HINT = (
    "Download them, from the Dubsmith folder, with:\n"
    "  .venv/bin/python installer/download_models.py --model-dir {model_dir}\n"
    "or point Dubsmith at an existing IndexTTS-2 checkpoints folder with --model-dir "
    "(or the DUBSMITH_MODEL_DIR environment variable)."
)


def default_model_dir() -> Path:
    env = os.environ.get("DUBSMITH_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("Dubsmith", appauthor=False)) / "models"


@dataclass(frozen=True)
class IndexTTS2Files:
    root: Path  # the indextts2/ (checkpoints) folder
    config: Path
    gpt: Path
    s2mel: Path
    bpe: Path
    w2v_stats: Path
    spk_matrix: Path  # feat1.pt
    emo_matrix: Path  # feat2.pt
    qwen_emotion: Path  # optional
    w2v_bert: Path
    semantic_codec: Path
    campplus: Path
    bigvgan: Path

    @classmethod
    def in_folder(cls, root: Path, **where: Path) -> IndexTTS2Files:
        """The official names inside one checkpoints folder; `where` moves any of them."""
        hf = root / "hf_cache"
        paths = {
            "root": root,
            "config": root / "config.yaml",
            "gpt": root / "gpt.pth",
            "s2mel": root / "s2mel.pth",
            "bpe": root / "bpe.model",
            "w2v_stats": root / "wav2vec2bert_stats.pt",
            "spk_matrix": root / "feat1.pt",
            "emo_matrix": root / "feat2.pt",
            "qwen_emotion": root / "qwen0.6bemo4-merge",
            "w2v_bert": hf / "w2v-bert-2.0",
            "semantic_codec": hf / "semantic_codec_model.safetensors",
            "campplus": hf / "campplus_cn_common.bin",
            "bigvgan": hf / "bigvgan",
        }
        paths.update(where)
        return cls(**paths)

    def required(self) -> dict[str, Path]:
        w2v = self.w2v_bert
        bv = self.bigvgan
        return {
            "config.yaml": self.config,
            "gpt.pth": self.gpt,
            "s2mel.pth": self.s2mel,
            "bpe.model": self.bpe,
            "wav2vec2bert_stats.pt": self.w2v_stats,
            "feat1.pt": self.spk_matrix,
            "feat2.pt": self.emo_matrix,
            "hf_cache/w2v-bert-2.0/config.json": w2v / "config.json",
            "hf_cache/w2v-bert-2.0/preprocessor_config.json": w2v / "preprocessor_config.json",
            "hf_cache/w2v-bert-2.0/model.safetensors": w2v / "model.safetensors",
            "hf_cache/semantic_codec_model.safetensors": self.semantic_codec,
            "hf_cache/campplus_cn_common.bin": self.campplus,
            "hf_cache/bigvgan/config.json": bv / "config.json",
            "hf_cache/bigvgan/bigvgan_generator.pt": bv / "bigvgan_generator.pt",
        }

    def missing(self) -> list[str]:
        return [name for name, p in self.required().items() if not p.exists()]

    def check(self, model_dir: Path | None = None) -> IndexTTS2Files:
        missing = self.missing()
        if missing:
            where = model_dir or self.root
            raise ModelFilesMissing(
                self.root,
                [f"indextts2/{m}" for m in missing],
                DOWNLOAD_HINT.format(model_dir=where),
            )
        return self


def _hf_snapshot(hf_cache: Path, repo: str, rel: str) -> Path | None:
    """A file in the Hugging Face cache layout, if present (newest snapshot first)."""
    snaps = hf_cache / f"models--{repo.replace('/', '--')}" / "snapshots"
    if not snaps.is_dir():
        return None
    for snap in sorted(snaps.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
        if (snap / rel).exists():
            return snap / rel
    return None


def indextts2_root(model_dir: Path) -> Path:
    """The checkpoints folder: model_dir/indextts2, or model_dir itself if it is one."""
    model_dir = Path(model_dir).expanduser()
    if (model_dir / "indextts2").is_dir():
        return model_dir / "indextts2"
    if (model_dir / "gpt.pth").exists() or (model_dir / "config.yaml").exists():
        return model_dir
    return model_dir / "indextts2"


def locate(model_dir: Path) -> IndexTTS2Files:
    """Paths of every IndexTTS2 file under model_dir (they may not exist; see .check())."""
    root = indextts2_root(model_dir)
    hf = root / "hf_cache"

    def pick(direct: Path, repo: str, rel: str, is_dir_of: str | None = None) -> Path:
        if direct.exists():
            return direct
        target = rel if is_dir_of is None else "/".join(x for x in (rel, is_dir_of) if x)
        found = _hf_snapshot(hf, repo, target)
        if found is None:
            return direct
        return found.parent if is_dir_of else found

    return IndexTTS2Files.in_folder(
        root,
        w2v_bert=pick(hf / "w2v-bert-2.0", "facebook/w2v-bert-2.0", "", "config.json"),
        semantic_codec=pick(
            hf / "semantic_codec_model.safetensors",
            "amphion/MaskGCT",
            "semantic_codec/model.safetensors",
        ),
        campplus=pick(hf / "campplus_cn_common.bin", "funasr/campplus", "campplus_cn_common.bin"),
        bigvgan=pick(hf / "bigvgan", "nvidia/bigvgan_v2_22khz_80band_256x", "", "config.json"),
    )


def manifest_entries() -> list[dict]:
    return json.loads(MANIFEST.read_text())["files"]
