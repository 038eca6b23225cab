"""Where the IndexTTS2 files live inside a model directory (DESIGN.md, "Real components").

The model directory holds `indextts2/`, laid out exactly like the official IndexTTS
`checkpoints/` folder with its `hf_cache/`. A folder that is itself such a `checkpoints/`
folder is accepted too. Inside `hf_cache/` we also accept the Hugging Face cache layout
(`models--org--name/snapshots/<rev>/...`) that the official code leaves behind, so a folder
downloaded for the official code works as is.

Damaged files (cut short by an interrupted download, empty, not what their name says) are
found two ways, both naming the file and how to fetch it again (ModelFilesDamaged):
`IndexTTS2Files.damaged()` / `damage_of(path)` look at each file's structure without
reading its tensors (milliseconds, whatever the size: no hashing), and every loader reads
its files through `read_model_file(path, reader)` (or read_torch / read_yaml / read_json /
read_safetensors), which turns a reader's failure into ModelFilesDamaged.
"""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from models.common import default_model_dir, hf_snapshot  # noqa: F401  (re-exported)
from models.contract import ModelFilesDamaged, ModelFilesMissing

T = TypeVar("T")

MANIFEST = Path(__file__).resolve().parents[1] / "resources" / "model_manifest.json"
DOWNLOAD_HINT = (
    "Download them, from the Dubsmith folder, with:\n"
    "  .venv/bin/python installer/download_models.py --model-dir {model_dir}\n"
    "or point Dubsmith at an existing IndexTTS-2 checkpoints folder with --model-dir "
    "(or the DUBSMITH_MODEL_DIR environment variable)."
)
# The downloader skips files that exist, so a damaged one must go first.
DAMAGED_HINT = (
    "Delete the damaged files (the downloader skips files that exist), then fetch them "
    "again. " + DOWNLOAD_HINT
)


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

    def damaged(self) -> list[tuple[str, str]]:
        """(name, reason) of each present required file that is visibly broken (see
        damage_of). Reads headers and indexes only: milliseconds for the 6 GB folder."""
        found = []
        for name, path in self.required().items():
            if path.exists():
                reason = damage_of(path)
                if reason is not None:
                    found.append((name, reason))
        return found

    def check(self, model_dir: Path | None = None) -> IndexTTS2Files:
        """Raise ModelFilesMissing for missing files, else ModelFilesDamaged for damaged
        ones (both list every file and say how to fetch it); the folder otherwise."""
        missing = self.missing()
        if missing:
            where = model_dir or self.root
            raise ModelFilesMissing(
                self.root,
                [f"indextts2/{m}" for m in missing],
                DOWNLOAD_HINT.format(model_dir=where),
            )
        damaged = self.damaged()
        if damaged:
            raise ModelFilesDamaged(
                self.root,
                [(f"indextts2/{name}", reason) for name, reason in damaged],
                DAMAGED_HINT.format(model_dir=model_dir or _model_dir_of(self.root)),
            )
        return self


# ------------------------------------------------------------------------- damaged files

# The first bytes of a torch.save file in the legacy (pre-1.6, non-zip) format: its magic
# number, pickled with protocol 2.
_LEGACY_TORCH_MAGIC = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)


def _torch_damage(path: Path) -> str | None:
    """torch.save writes a zip archive whose index (central directory) is at the very end,
    so a file cut short has none; reading the index costs kilobytes."""
    with open(path, "rb") as f:
        head = f.read(len(_LEGACY_TORCH_MAGIC))
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, EOFError, ValueError) as exc:
            return f"cut short or corrupt (its zip index cannot be read: {exc})"
        if not any(n.endswith("data.pkl") for n in names):
            return "not a torch checkpoint (a zip archive without data.pkl)"
        return None
    if head == _LEGACY_TORCH_MAGIC:  # the old format has no index to check cheaply
        return None
    return "not a torch checkpoint (neither a zip archive nor a legacy pickle)"


def _safetensors_damage(path: Path, size: int) -> str | None:
    """A safetensors file is an 8-byte header length, a JSON header giving each tensor's
    byte range, then the data: its size must be exactly where the last range ends."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            return "cut short (no safetensors header)"
        (length,) = struct.unpack("<Q", raw)
        if length > size - 8:
            return f"cut short (its header alone declares {length + 8} bytes, the file has {size})"
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, ValueError):
            return "corrupt (its safetensors header is not valid JSON)"
    if not isinstance(header, dict):
        return "corrupt (its safetensors header is not a JSON object)"
    try:
        end = max(
            (int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"),
            default=0,
        )
    except (KeyError, TypeError, ValueError, IndexError):
        return "corrupt (its safetensors header lacks tensor offsets)"
    want = 8 + length + end
    if size < want:
        return f"cut short ({size} of {want} bytes)"
    if size > want:
        return f"corrupt ({size - want} bytes more than its header declares)"
    return None


def _mapping(value: Any, what: str) -> str | None:
    return None if isinstance(value, dict) else f"not a {what} mapping (empty or cut short?)"


def damage_of(path: Path) -> str | None:
    """Why the file at ``path`` cannot be what its name says, from a cheap look at its
    structure (never its tensors, never a hash), or None when it looks whole. Catches
    what an interrupted download leaves: empty files, torch zips without their index,
    safetensors shorter than their header says, configs that do not parse, and a
    SentencePiece model that does not load. Corruption inside the data goes unnoticed."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            return "empty (0 bytes)"
        suffix = path.suffix.lower()
        if suffix in (".pth", ".pt", ".bin"):
            return _torch_damage(path)
        if suffix == ".safetensors":
            return _safetensors_damage(path, size)
        if suffix in (".yaml", ".yml", ".json"):
            text = path.read_text(encoding="utf-8")
            if suffix == ".json":
                return _mapping(json.loads(text), "JSON")
            import yaml

            return _mapping(yaml.safe_load(text), "YAML")
        if suffix == ".model":  # SentencePiece: a protobuf, parsed in milliseconds
            from sentencepiece import SentencePieceProcessor

            SentencePieceProcessor(model_file=str(path))
    except UnicodeDecodeError:
        return "corrupt (not UTF-8 text)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    except Exception as exc:  # a parser's error: JSON, YAML or SentencePiece
        return f"corrupt ({_first_line(exc)})"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _model_dir_of(root: Path) -> Path:
    """The folder to pass as --model-dir for a checkpoints folder."""
    return root.parent if root.name == "indextts2" else root


def _root_of(path: Path) -> Path:
    """The checkpoints folder a model file sits in (hf_cache/ files included)."""
    for folder in path.parents:
        if folder.name == "indextts2" or (folder / "config.yaml").is_file():
            return folder
    return path.parent


def read_model_file(path: Path, read: Callable[[Path], T]) -> T:
    """``read(path)``; any failure to read or parse the file becomes ModelFilesDamaged
    naming it, why, and how to fetch it again (torch's "PytorchStreamReader failed..."
    names neither). ``read`` must only read and parse: errors of what is done with the
    contents (a config the model does not support) are not damage."""
    path = Path(path)
    try:
        return read(path)
    except MemoryError:
        raise
    except Exception as exc:
        root = _root_of(path)
        try:  # "indextts2/gpt.pth", or "checkpoints/gpt.pth" for an official folder
            name = path.relative_to(root.parent).as_posix()
        except ValueError:
            name = path.name
        if not path.exists():
            raise ModelFilesMissing(
                root, [name], DOWNLOAD_HINT.format(model_dir=_model_dir_of(root))
            ) from exc
        reason = damage_of(path) or f"cannot be read ({_first_line(exc)})"
        hint = DAMAGED_HINT.format(model_dir=_model_dir_of(root))
        raise ModelFilesDamaged(root, [(name, reason)], hint) from exc


def read_torch(path: Path) -> Any:
    """A torch.save file's contents (tensors on the CPU, no code run: weights_only)."""
    import torch

    return read_model_file(path, lambda p: torch.load(p, map_location="cpu", weights_only=True))


def read_safetensors(path: Path) -> dict[str, Any]:
    """A safetensors file as {name: CPU tensor}."""
    from safetensors.torch import load_file

    return read_model_file(path, lambda p: load_file(str(p)))


def _yaml_mapping(path: Path) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a YAML mapping")
    return data


def _json_mapping(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON mapping")
    return data


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping (an empty file does not)."""
    return read_model_file(path, _yaml_mapping)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file that must hold an object."""
    return read_model_file(path, _json_mapping)


def indextts2_root(model_dir: Path) -> Path:
    """The checkpoints folder: model_dir/indextts2, or model_dir itself if it is one."""
    model_dir = Path(model_dir).expanduser()
    if (model_dir / "indextts2").is_dir():
        return model_dir / "indextts2"
    # An IndexTTS-2.5 checkpoints folder (its codec.pth / .tiktoken vocabulary; see
    # models/indextts25/files.py) has a gpt.pth and config.yaml too, but is not a 2.0 one.
    is_25 = (model_dir / "codec.pth").exists() or any(model_dir.glob("*.tiktoken"))
    if not is_25 and ((model_dir / "gpt.pth").exists() or (model_dir / "config.yaml").exists()):
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
        found = hf_snapshot(hf, repo, target)
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
