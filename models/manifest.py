"""The model manifest (resources/model_manifest.json) and the offline checks of its files.

Public API::

    ModelSpec, FileSpec                        # one model folder, one file (or folder) of it
    load_manifest(path=MANIFEST) -> Manifest   # .models, .model(name), .files
    installed_path(model_dir, spec) -> Path    # where the file is (official layouts accepted)
    target_path(model_dir, spec) -> Path       # where a download puts it
    structure_problem(path, spec) -> str|None  # cheap look at headers/indexes (no hashing)
    sha256_of(path) -> str                     # streamed in chunks
    Record / read_record / write_record        # sizes and checksums a download found

The manifest knows exact sizes and checksums only where someone wrote down real values;
most are null. A download therefore records what the hub reported for each file (its size,
and the LFS sha256 that is the hub's own checksum) in `<model dir>/.dubsmith-models.json`,
and verification checks a file against the manifest's values, else that record's.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.config_check import config_problem
from models.layout import MANIFEST, damage_of, indextts2_root, locate

RECORD_NAME = ".dubsmith-models.json"
CHUNK = 8 << 20  # sha256 reads 8 MiB at a time: constant memory for a 3 GB checkpoint
INDEXTTS2 = "indextts2/"
INDEXTTS25 = "indextts25/"  # models/indextts25/files.py knows its layout


@dataclass(frozen=True)
class FileSpec:
    model: str
    path: str  # relative to the model directory ("indextts2/gpt.pth")
    repo: str
    file: str  # path inside the repository; ends with "/" for a folder
    required: bool
    format: str
    size: int | None = None
    sha256: str | None = None
    approx_bytes: int | None = None
    # The public release's size and sha256 where a public project pins them, and who does
    # (`released` in the manifest). A difference means another file than the release: not
    # damage (a custom or fine-tuned model may be whole), but `models verify` says so.
    released_size: int | None = None
    released_sha256: str | None = None
    released_source: str | None = None

    @property
    def is_folder(self) -> bool:
        return self.file.endswith("/")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    repo: str | None
    folder: str
    required: bool
    gated: bool
    feature: str
    placeholder: bool = False
    note: str = ""
    files: tuple[FileSpec, ...] = ()

    @property
    def downloadable(self) -> bool:
        return not self.placeholder and bool(self.files)

    @property
    def approx_bytes(self) -> int:
        return sum(f.approx_bytes or 0 for f in self.files)


@dataclass(frozen=True)
class Manifest:
    models: tuple[ModelSpec, ...]

    @property
    def files(self) -> list[FileSpec]:
        return [f for m in self.models for f in m.files]

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def model(self, name: str) -> ModelSpec:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(f"unknown model '{name}' (known: {', '.join(self.names)})")


def load_manifest(path: Path = MANIFEST) -> Manifest:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    by_model: dict[str, list[FileSpec]] = {}
    for e in data["files"]:
        spec = FileSpec(
            model=e["model"],
            path=e["path"],
            repo=e["repo"],
            file=e["file"],
            required=bool(e["required"]),
            format=e.get("format") or format_of(e["path"], e["file"]),
            size=e.get("size"),
            sha256=(e.get("sha256") or None) and e["sha256"].lower(),
            approx_bytes=e.get("approx_bytes"),
            **_released_fields(e.get("released")),
        )
        by_model.setdefault(spec.model, []).append(spec)
    models = []
    for m in data["models"]:
        models.append(
            ModelSpec(
                name=m["name"],
                title=m["title"],
                repo=m.get("repo"),
                folder=m["folder"],
                required=bool(m["required"]),
                gated=bool(m.get("gated", False)),
                feature=m["feature"],
                placeholder=bool(m.get("placeholder", False)),
                note=m.get("note", ""),
                files=tuple(by_model.pop(m["name"], [])),
            )
        )
    if by_model:
        raise ValueError(f"{path}: files of undeclared models: {', '.join(sorted(by_model))}")
    return Manifest(tuple(models))


def _released_fields(pin: dict[str, Any] | None) -> dict[str, Any]:
    if not pin:
        return {}
    return {
        "released_size": pin.get("size"),
        "released_sha256": (pin.get("sha256") or "").lower() or None,
        "released_source": pin.get("source"),
    }


def format_of(path: str, file: str) -> str:
    if file.endswith("/"):
        return "folder"
    suffix = Path(path).suffix.lower()
    return {
        ".pth": "torch",
        ".pt": "torch",
        ".bin": "torch",
        ".safetensors": "safetensors",
        ".json": "json",
        ".yaml": "yaml",
        ".yml": "yaml",
        ".model": "sentencepiece",
        ".npz": "npz",
    }.get(suffix, "text")


# ------------------------------------------------------------------------------ where

# The IndexTTS2 folder's own names (IndexTTS2Files.required()) for the manifest's paths:
# locate() also finds them in an official checkpoints folder and the HF cache layout.


def installed_path(model_dir: Path, spec: FileSpec) -> Path:
    """Where the file is found under model_dir (may not exist)."""
    model_dir = Path(model_dir).expanduser()
    if spec.path.startswith(INDEXTTS2):
        files = locate(model_dir)
        name = spec.path[len(INDEXTTS2) :]
        if spec.format == "folder" and name.rstrip("/") == files.qwen_emotion.name:
            return files.qwen_emotion
        found = files.required().get(name)
        if found is not None:
            return found
        return files.root / name
    if spec.path.startswith(INDEXTTS25):  # model_dir/indextts25, or a 2.5 checkpoints folder
        from models.indextts25.files import indextts25_root

        return indextts25_root(model_dir) / spec.path[len(INDEXTTS25) :]
    return model_dir / spec.path


def target_path(model_dir: Path, spec: FileSpec) -> Path:
    """Where a download writes the file: the official layout inside the checkpoints folder
    (model_dir/indextts2, or model_dir itself when it is such a folder)."""
    model_dir = Path(model_dir).expanduser()
    if spec.path.startswith(INDEXTTS2):
        return indextts2_root(model_dir) / spec.path[len(INDEXTTS2) :]
    if spec.path.startswith(INDEXTTS25):
        from models.indextts25.files import indextts25_root

        return indextts25_root(model_dir) / spec.path[len(INDEXTTS25) :]
    return model_dir / spec.path


# ------------------------------------------------------------------------------ checks


def structure_problem(path: Path, spec: FileSpec) -> str | None:
    """Why the file cannot be what the manifest says it is, from its headers and indexes
    (models.layout.damage_of for checkpoints and configs), or None. No hashing."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if spec.format == "folder":
        return None if (path / "config.json").is_file() else "partial (no config.json)"
    if size == 0:
        return "empty (0 bytes)"
    if spec.format in ("json", "yaml"):  # whole as a file, and usable by its loader
        return damage_of(path) or config_problem(spec.path, path)
    if spec.format in ("torch", "safetensors", "sentencepiece"):
        return damage_of(path)
    if spec.format == "npz":
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
            return f"cut short or corrupt (its zip index cannot be read: {exc})"
        if not names or not all(n.endswith(".npy") for n in names):
            return "not a numpy .npz archive"
        return None
    if spec.format == "text":
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            return "corrupt (not UTF-8 text)"
        return None
    return None  # ctranslate2 and others: only the size and checksum say anything


def sha256_of(path: Path, chunk: int = CHUNK) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def folder_files(folder: Path) -> list[Path]:
    """Every file inside a folder entry, sorted (dot files such as download caches skipped)."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [Path(root) / f for f in sorted(files) if not f.startswith(".")]
    return out


# ------------------------------------------------------------------------------ record


@dataclass
class Record:
    """What downloads found: manifest path (or path inside a folder entry) -> facts."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def expected(self, rel: str) -> dict[str, Any]:
        return self.files.get(rel, {})


def read_record(model_dir: Path) -> Record:
    path = Path(model_dir).expanduser() / RECORD_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data.get("files", {})
        return Record(files if isinstance(files, dict) else {})
    except (OSError, ValueError, AttributeError):
        return Record()


def write_record(model_dir: Path, record: Record) -> None:
    """Written to a temporary file and renamed: a crash never leaves half a record."""
    path = Path(model_dir).expanduser() / RECORD_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"files": record.files}, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
