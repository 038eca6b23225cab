"""Helpers every engine shares: the model folder, seeds, file fingerprints, the Hugging Face
cache reader and IndexTTS's capabilities. Engines and the registry import from here; this
module imports no engine (the registry depends on engines, never the reverse)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol

from models.contract import SAMPLE_RATE, Capabilities, DurationControl, EmotionSource


def default_model_dir() -> Path:
    """The model directory: DUBSMITH_MODEL_DIR, else the platform's user data folder."""
    env = os.environ.get("DUBSMITH_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("Dubsmith", appauthor=False)) / "models"


SEED_MODULUS = 2**63  # torch.Generator seeds: kept inside the int64 range


def stream_seed(seed: int, stage: str, segment: int = 0) -> int:
    """The seed of one random stream of a request: a hash of (seed, stage, segment), so the
    T2S sampling of segment k, the CFM noise and the streams of the next cue (core uses
    base + cue index) never share a seed. Any integer is accepted (reduced into int64)."""
    digest = hashlib.blake2b(f"{int(seed)}|{stage}|{int(segment)}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little") % SEED_MODULUS


class ModelFiles(Protocol):
    """A model folder's files (IndexTTS2Files, IndexTTS25Files)."""

    def required(self) -> dict[str, Path]: ...


def files_fingerprint(files: ModelFiles) -> str:
    """A digest of where the model files are and their size and modification time: cheap
    (no hashing of gigabytes) and changes whenever a checkpoint is replaced."""
    h = hashlib.sha256()
    for name, path in sorted(files.required().items()):
        try:
            st = Path(path).resolve().stat()
            h.update(f"{name}={Path(path).resolve()}:{st.st_size}:{st.st_mtime_ns};".encode())
        except OSError:
            h.update(f"{name}=?;".encode())
    return h.hexdigest()[:16]


def hf_snapshot(hf_cache: Path, repo: str, rel: str) -> Path | None:
    """A file in the Hugging Face cache layout, if present (newest snapshot first)."""
    snaps = hf_cache / f"models--{repo.replace('/', '--')}" / "snapshots"
    if not snaps.is_dir():
        return None
    for snap in sorted(snaps.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
        if (snap / rel).exists():
            return snap / rel
    return None


def indextts2_capabilities(qwen_dir: Path, max_batch: int) -> Capabilities:
    """Chinese and English, exact durations, every emotion input (text only with its
    optional model folder)."""
    emotions = frozenset(EmotionSource)
    if not (qwen_dir / "config.json").is_file():
        emotions -= {EmotionSource.TEXT}
    return Capabilities(
        languages=("zh", "en"),
        sample_rate=SAMPLE_RATE,
        duration_control=DurationControl.EXACT,
        emotion_inputs=emotions,
        max_batch=max_batch,
        fit_methods=("guided", "exact", "natural"),  # models/guided.py
    )
