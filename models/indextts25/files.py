"""Where the IndexTTS-2.5 files live: the official 2.5 `checkpoints/` folder.

    files = locate25(model_dir)            # model_dir/indextts25, or a 2.5 checkpoints folder
    files.check()                          # ModelFilesMissing / ModelFilesDamaged, every file named
    is_indextts25_folder(path)             # a folder laid out as the 2.5 release

The layout is the one infer_v2_5 reads (paths partly hard-coded there):

    indextts25/config.yaml gpt.pth s2mel.pth codec.pth wav2vec2bert_stats.pt feat1.pt feat2.pt
               multilingual_zh_ja_yue_char_del.tiktoken  [qwen0.6bemo4-merge/ optional]
    indextts25/hf_cache/w2v-bert-2.0/  campplus_cn_common.bin  bigvgan/

The three hf_cache parts are the very files of 2.0 (w2v-BERT 2.0, CAMPPlus, BigVGAN): when the
2.5 folder lacks them they are taken from the sibling indextts2/hf_cache/ (or the Hugging
Face cache layout inside either), so a user with both releases keeps one copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.common import hf_snapshot
from models.contract import ModelFilesDamaged, ModelFilesMissing
from models.indextts25.tokenizer import VOCAB_FILE, VocabularyError, read_ranks
from models.layout import damage_of

FOLDER = "indextts25"
QWEN = "qwen0.6bemo4-merge"  # optional text-to-emotion model
DOWNLOAD_HINT = (
    "Download the IndexTTS-2.5 folder (IndexTeam/IndexTTS-2.5) into {model_dir}/indextts25 "
    "with:\n  .venv/bin/python installer/download_models.py indextts25 --model-dir {model_dir}\n"
    "or point Dubsmith at an existing IndexTTS-2.5 checkpoints folder with --model-dir."
)
DAMAGED_HINT = "Delete the damaged files, then fetch them again. " + DOWNLOAD_HINT
# (our attribute, file name in the folder)
OWN_FILES = (
    ("config", "config.yaml"),
    ("gpt", "gpt.pth"),
    ("s2mel", "s2mel.pth"),
    ("codec", "codec.pth"),
    ("vocab", VOCAB_FILE),
    ("w2v_stats", "wav2vec2bert_stats.pt"),
    ("spk_matrix", "feat1.pt"),
    ("emo_matrix", "feat2.pt"),
)
# shared parts: (attribute, path under hf_cache, HF repo, file inside it, a folder's marker)
SHARED_PARTS = (
    ("w2v_bert", "w2v-bert-2.0", "facebook/w2v-bert-2.0", "", "config.json"),
    ("campplus", "campplus_cn_common.bin", "funasr/campplus", "campplus_cn_common.bin", None),
    ("bigvgan", "bigvgan", "nvidia/bigvgan_v2_22khz_80band_256x", "", "config.json"),
)


def is_indextts25_folder(path: Path) -> bool:
    """A folder with the 2.5 release's own markers: the 2.5 codec or its vocabulary."""
    path = Path(path)
    return (path / "codec.pth").exists() or (path / VOCAB_FILE).exists()


def indextts25_root(model_dir: Path) -> Path:
    model_dir = Path(model_dir).expanduser()
    if (model_dir / FOLDER).is_dir():
        return model_dir / FOLDER
    if is_indextts25_folder(model_dir):
        return model_dir
    return model_dir / FOLDER


def model_dir_of(root: Path) -> Path:
    return root.parent if root.name == FOLDER else root


@dataclass(frozen=True)
class IndexTTS25Files:
    root: Path
    config: Path
    gpt: Path
    s2mel: Path
    codec: Path
    vocab: Path
    w2v_stats: Path
    spk_matrix: Path
    emo_matrix: Path
    qwen_emotion: Path  # optional
    w2v_bert: Path
    campplus: Path
    bigvgan: Path

    def required(self) -> dict[str, Path]:
        out = {name: getattr(self, attr) for attr, name in OWN_FILES}
        w2v, bv = self.w2v_bert, self.bigvgan
        out |= {
            "hf_cache/w2v-bert-2.0/config.json": w2v / "config.json",
            "hf_cache/w2v-bert-2.0/preprocessor_config.json": w2v / "preprocessor_config.json",
            "hf_cache/w2v-bert-2.0/model.safetensors": w2v / "model.safetensors",
            "hf_cache/campplus_cn_common.bin": self.campplus,
            "hf_cache/bigvgan/config.json": bv / "config.json",
            "hf_cache/bigvgan/bigvgan_generator.pt": bv / "bigvgan_generator.pt",
        }
        return out

    def missing(self) -> list[str]:
        return [name for name, p in self.required().items() if not p.exists()]

    def damaged(self) -> list[tuple[str, str]]:
        found = []
        for name, path in self.required().items():
            if not path.exists():
                continue
            reason = vocabulary_damage(path) if path.name == VOCAB_FILE else damage_of(path)
            if reason is not None:
                found.append((name, reason))
        return found

    def check(self) -> IndexTTS25Files:
        where = model_dir_of(self.root)
        missing = self.missing()
        if missing:
            raise ModelFilesMissing(
                self.root, [f"{FOLDER}/{m}" for m in missing], DOWNLOAD_HINT.format(model_dir=where)
            )
        damaged = self.damaged()
        if damaged:
            raise ModelFilesDamaged(
                self.root,
                [(f"{FOLDER}/{n}", r) for n, r in damaged],
                DAMAGED_HINT.format(model_dir=where),
            )
        return self


def vocabulary_damage(path: Path) -> str | None:
    """Why a .tiktoken file cannot be the vocabulary (cut short lines, gaps in the ranks)."""
    if path.stat().st_size == 0:
        return "empty (0 bytes)"
    try:
        read_ranks(path)
    except (VocabularyError, UnicodeDecodeError) as exc:
        return f"corrupt ({exc})"
    return None


def _shared_part(caches: list[Path], name: str, repo: str, rel: str, marker: str | None) -> Path:
    """The first copy found: each hf_cache directly, then in the HF cache layout."""
    for hf in caches:
        if (hf / name).exists():
            return hf / name
    for hf in caches:
        target = "/".join(x for x in (rel, marker) if x) if marker else rel
        found = hf_snapshot(hf, repo, target)
        if found is not None:
            return found.parent if marker else found
    return caches[0] / name


def locate25(model_dir: Path) -> IndexTTS25Files:
    """Paths of every 2.5 file under model_dir (they may not exist; see .check())."""
    root = indextts25_root(model_dir)
    caches = [root / "hf_cache"]
    sibling = root.parent / "indextts2" / "hf_cache"
    if sibling != caches[0]:
        caches.append(sibling)
    paths: dict[str, Path] = {attr: root / name for attr, name in OWN_FILES}
    for attr, name, repo, rel, marker in SHARED_PARTS:
        paths[attr] = _shared_part(caches, name, repo, rel, marker)
    # The text-to-emotion model is the IndexTTS2 one too: the 2.5 folder's own, else 2.0's.
    qwen = root / QWEN
    if not (qwen / "config.json").is_file() and (root.parent / "indextts2" / QWEN).is_dir():
        qwen = root.parent / "indextts2" / QWEN
    return IndexTTS25Files(root=root, qwen_emotion=qwen, **paths)
