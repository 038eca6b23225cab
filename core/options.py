"""What one dub is asked to do: its inputs, outputs and settings (a job's spec)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from models.contract import DurationMode, Sampling


@dataclass
class DubOptions:
    output: Path
    subtitles: Path | None = None
    model_dir: Path | None = None
    device: str = "cpu"
    voices: dict[str, Path] = field(default_factory=dict)  # speaker id -> prompt file
    background: str = "duck"
    duck_db: float = -12.0
    keep_original_track: bool = False
    subtitle_track: bool = False
    emotion: str = "original"  # "original" (each line's own audio) or "voice"
    mode: DurationMode = DurationMode.EXACT
    sampling: Sampling = field(default_factory=Sampling)
    seed: int = 0
    stems_dir: Path | None = None
    dub_wav: Path | None = None
    report_path: Path | None = None
    work_dir: Path | None = None
    language: str | None = None  # ISO 639-2 tag of the dub track
    batch_size: int = 8
    save_project: bool = True
    merge_split_sentences: bool = False  # join cues that split one sentence
    extend_into_silence_ms: int = 0  # let a line run this far into the silence after its cue


def default_work_dir(video: Path) -> Path:
    """Per-video scratch folder in the user cache, never next to the input."""
    base = os.environ.get("DUBSMITH_CACHE_DIR")
    if base:
        root = Path(base)
    else:
        from platformdirs import user_cache_dir

        root = Path(user_cache_dir("Dubsmith", appauthor=False))
    digest = hashlib.sha256(str(Path(video).resolve()).encode()).hexdigest()[:16]
    return root / "work" / f"{Path(video).stem[:40]}-{digest}"
