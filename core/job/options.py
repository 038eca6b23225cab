"""What one dub is asked to do: its inputs, outputs and settings (a job's spec)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.audio.loudness_presets import DEFAULT_PRESET, preset_named
from core.deliver.parts import ALL_PARTS, DeliverParts
from core.settings import DubSettings
from models.contract import Sampling


@dataclass
class DubOptions:
    """Where a dub reads and writes, and with which settings: `settings` (None: the
    project's own, what the last run used, else the defaults) with `changes` on top (the
    command line's flags: only what was given)."""

    output: Path
    subtitles: Path | None = None
    settings: DubSettings | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    model_dir: Path | None = None
    device: str = "auto"  # "auto" (a CUDA GPU when there is one), "cpu", "cuda", "cuda:1"
    # Number format of the heavy stages (models/precision.py): auto, fp32, bf16, fp16.
    precision: str = "auto"
    voices: dict[str, Path] = field(default_factory=dict)  # speaker id -> prompt file
    sampling: Sampling = field(default_factory=Sampling)
    stems_dir: Path | None = None
    dub_wav: Path | None = None
    report_path: Path | None = None
    deliver_dir: Path | None = None  # --deliver: timelines, stems, QC report (core/deliver/)
    deliver_parts: DeliverParts = ALL_PARTS  # which of them (the desk's Export ticks some)
    loudness: str = DEFAULT_PRESET  # --loudness: a name of core.audio.loudness_presets.PRESETS
    work_dir: Path | None = None
    batch_size: int = 8
    save_project: bool = True

    def __post_init__(self) -> None:
        preset_named(self.loudness)  # an unknown preset fails before any work


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
