"""Is a checkpoint the released one? Its tensor names and shapes against the released
architecture, read from its header only.

The released IndexTTS-2 architecture (every state-dict key and shape of the full-size
models, built from the official config) ships as resources/released_shapes.json, made from
the reference key lists by `build_released_shapes(keys_dir)`. A file whose tensors have
other shapes (the tiny random test models, a fine-tune with another width) loads and may
even run, but it is not the released model: `models verify` says so.

    shape_difference(manifest_path, file) -> str | None   # why it is not released, or None
    checkpoint_shapes(file, layout) -> {key: shape}       # headers only: no tensor data read

Reading costs milliseconds whatever the size: safetensors headers are JSON; torch files
are opened with mmap (their tensors are mapped, never read).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

RELEASED_SHAPES = Path(__file__).resolve().parents[1] / "resources" / "released_shapes.json"

# Manifest path -> (architecture in released_shapes.json, how the file nests its tensors).
ARCHITECTURE_OF = {
    "indextts2/gpt.pth": ("gpt", "model"),
    "indextts2/s2mel.pth": ("s2mel", "net"),
    "indextts2/hf_cache/semantic_codec_model.safetensors": ("semantic_codec", "flat"),
    "indextts2/hf_cache/campplus_cn_common.bin": ("campplus", "flat"),
    "indextts2/hf_cache/bigvgan/bigvgan_generator.pt": ("bigvgan", "generator"),
    "indextts2/hf_cache/w2v-bert-2.0/model.safetensors": ("w2v_bert", "flat"),
}

# reference keys/ file -> architecture name, and where its key list is.
_KEY_FILES = {
    "gpt": ("gpt_unifiedvoice.json", "state_dict"),
    "semantic_codec": ("semantic_codec.json", "state_dict"),
    "campplus": ("campplus.json", "state_dict"),
    "bigvgan": ("bigvgan_v2_22khz_80band_256x.json", "checkpoint_state_dict_with_weight_norm"),
    "w2v_bert": ("w2v_bert_2_0.json", "state_dict"),
}


def build_released_shapes(keys_dir: Path) -> dict[str, Any]:
    """The released_shapes.json content from the reference `keys/` folder: per
    architecture, parameters and buffers as {key: shape}."""
    keys_dir = Path(keys_dir)

    def split(entries: list[dict], prefix: str = "") -> dict[str, dict[str, list[int]]]:
        out: dict[str, dict[str, list[int]]] = {"parameters": {}, "buffers": {}}
        for e in entries:
            kind = "parameters" if e["kind"] == "parameter" else "buffers"
            out[kind][prefix + e["key"]] = list(e["shape"])
        return out

    arch: dict[str, Any] = {}
    for name, (file, field) in _KEY_FILES.items():
        arch[name] = split(json.loads((keys_dir / file).read_text(encoding="utf-8"))[field])
    s2mel = json.loads((keys_dir / "s2mel_mymodel.json").read_text(encoding="utf-8"))
    merged: dict[str, dict[str, list[int]]] = {"parameters": {}, "buffers": {}}
    for module, body in s2mel["modules"].items():
        part = split(body["state_dict"], prefix=f"{module}.")
        for kind in merged:
            merged[kind].update(part[kind])
    arch["s2mel"] = merged
    return {
        "comment": (
            "State-dict keys and shapes of the released IndexTTS-2 models (full size), from "
            "the official code at ee40fa7d6c6b8a2c7f06105f9f1e65775b74868c built on the meta "
            "device (shared/reference/keys). Rebuild: models.released.build_released_shapes."
        ),
        "architectures": arch,
    }


@lru_cache(maxsize=1)
def _released() -> dict[str, Any]:
    return json.loads(RELEASED_SHAPES.read_text(encoding="utf-8"))["architectures"]


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif hasattr(value, "shape"):
            out[f"{prefix}{key}"] = tuple(int(n) for n in value.shape)
    return out


def _safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    return {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}


def _torch_tree(path: Path) -> Any:
    import torch

    try:  # mmap: the tensors are mapped, not read (a 3 GB gpt.pth opens in milliseconds)
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # the legacy (non-zip) format cannot be mapped
        return torch.load(path, map_location="cpu", weights_only=True)


def checkpoint_shapes(path: Path, layout: str = "flat") -> dict[str, tuple[int, ...]]:
    """{key: shape} of a checkpoint's tensors as the official loader sees them: `model`
    ({'model': sd} or a plain state dict), `net` (s2mel: {'net': {module: sd}}, keys
    prefixed by the module), `generator` ({'generator': sd}, or plain), `flat`."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        return _safetensors_shapes(path)
    tree = _torch_tree(path)
    if not isinstance(tree, Mapping):
        return {}
    if layout in ("model", "generator", "net") and isinstance(tree.get(layout), Mapping):
        tree = tree[layout]
    return _flatten(tree)


def _shape(shape: Any) -> str:
    return "[" + ", ".join(str(n) for n in shape) + "]"


def shape_difference(manifest_path: str, path: Path) -> str | None:
    """Why the file at `path` (the manifest's `manifest_path`) is not the released model's,
    from its tensor names and shapes, or None when they are the released ones (or nothing
    is known for this file). Every released parameter must be there with its shape; a
    buffer, if present, too. Extra keys are allowed (the official loaders ignore them)."""
    known = ARCHITECTURE_OF.get(manifest_path)
    if known is None:
        return None
    arch, layout = known
    released = _released()[arch]
    try:
        have = checkpoint_shapes(path, layout)
    except Exception as exc:  # a pickle weights_only refuses, a header that is no JSON...
        lines = str(exc).strip().splitlines()
        return f"its tensors cannot be read safely ({type(exc).__name__}: {lines[0][:160] if lines else ''})"
    want = released["parameters"]
    missing = [k for k in want if k not in have]
    wrong = [k for k, s in want.items() if k in have and tuple(s) != have[k]]
    wrong += [k for k, s in released["buffers"].items() if k in have and tuple(s) != have[k]]
    if not missing and not wrong:
        return None
    parts = []
    if wrong:
        k = wrong[0]
        want_shape = want.get(k) or released["buffers"][k]
        parts.append(
            f"{len(wrong)} tensor(s) of other shapes (e.g. {k} {_shape(have[k])}, "
            f"released {_shape(want_shape)})"
        )
    if missing:
        parts.append(f"{len(missing)} of {len(want)} released tensors absent (e.g. {missing[0]})")
    return "; ".join(parts)
