"""The VoxCPM2 folder of the model directory (`<model dir>/voxcpm2/`): what must be in it,
checked cheaply (headers, not tensors) before anything loads.

It is the released folder as the `voxcpm` package reads it (VoxCPM2Model.from_local):

    voxcpm2/config.json                            {"architecture": "voxcpm2", ...}
    voxcpm2/model.safetensors | pytorch_model.bin  the language models, encoder, DiT
    voxcpm2/audiovae.safetensors | audiovae.pth    the audio VAE (16 kHz in, 48 kHz out)
    voxcpm2/tokenizer.json tokenizer_config.json   its tokenizer (read, never executed)
    voxcpm2/zipenhancer/                           optional: the prompt denoiser, local
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from models.contract import ModelFilesDamaged, ModelFilesMissing

FOLDER = "voxcpm2"
HINT = (
    "VoxCPM2 (more languages) is optional: fetch it with `dubsmith models download voxcpm2` "
    "(openbmb/VoxCPM2 on Hugging Face), or pass --engine indextts2 for Chinese and English"
)
# Each part and the file names the package accepts for it, preferred first.
PARTS: dict[str, tuple[str, ...]] = {
    "config": ("config.json",),
    "model": ("model.safetensors", "pytorch_model.bin"),
    "audio_vae": ("audiovae.safetensors", "audiovae.pth"),
    "tokenizer": ("tokenizer.json",),
    "tokenizer_config": ("tokenizer_config.json",),
}
DENOISER = "zipenhancer"


@dataclass(frozen=True)
class VoxCPM2Files:
    root: Path

    def part(self, name: str) -> Path:
        """The file present for a part (else its preferred name, which is missing)."""
        names = PARTS[name]
        for n in names:
            if (self.root / n).is_file():
                return self.root / n
        return self.root / names[0]

    @property
    def denoiser(self) -> Path | None:
        folder = self.root / DENOISER
        return folder if folder.is_dir() and any(folder.iterdir()) else None

    def check(self) -> None:
        """Raise ModelFilesMissing / ModelFilesDamaged naming each file and the cure."""
        from models.layout import damage_of

        model_dir = self.root.parent
        missing = [
            f"{FOLDER}/{' or '.join(names)}"
            for names in PARTS.values()
            if not any((self.root / n).is_file() for n in names)
        ]
        if missing:
            raise ModelFilesMissing(model_dir, missing, HINT)
        damaged = []
        for name in PARTS:
            path = self.part(name)
            why = damage_of(path)
            if why is None and name == "config":
                why = _config_problem(path)
            if why:
                damaged.append((f"{FOLDER}/{path.name}", why))
        if damaged:
            raise ModelFilesDamaged(model_dir, damaged, HINT)

    def fingerprint(self) -> str:
        """Where the files are, their sizes and modification times: changes whenever a
        checkpoint is replaced, without hashing gigabytes."""
        h = hashlib.sha256()
        for name in PARTS:
            path = self.part(name)
            try:
                st = path.resolve().stat()
                h.update(f"{name}={path.resolve()}:{st.st_size}:{st.st_mtime_ns};".encode())
            except OSError:
                h.update(f"{name}=?;".encode())
        return h.hexdigest()[:16]


def _config_problem(path: Path) -> str | None:
    config = json.loads(path.read_text(encoding="utf-8"))
    arch = str(config.get("architecture", "voxcpm")).lower()
    if arch != "voxcpm2":
        return f"a '{arch}' model, not VoxCPM2 (architecture must be 'voxcpm2')"
    return None


def locate(model_dir: Path) -> VoxCPM2Files:
    """The VoxCPM2 folder of a model directory (a folder that is itself one is accepted)."""
    model_dir = Path(model_dir)
    if (model_dir / "config.json").is_file() and not (model_dir / FOLDER).is_dir():
        try:
            if _config_problem(model_dir / "config.json") is None:
                return VoxCPM2Files(model_dir)
        except (OSError, ValueError):
            pass
    return VoxCPM2Files(model_dir / FOLDER)
