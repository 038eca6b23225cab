"""What a delivery is made from: the finished mix, the bed under it, each line's take
and where the mix placed it. The job fills one in after its mix; every writer in
core/deliver reads it and nothing else, so each can be tested without a dub."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.audio.mixdown import Background, Clip, Placement
from models.units import MIX_RATE


@dataclass(frozen=True)
class DeliveryLine:
    clip: Clip  # the take as the mix got it (engine rate, before the gain)
    placement: Placement  # where the mix put it, at 48 kHz
    speaker: str


@dataclass(frozen=True)
class Delivery:
    name: str  # stem of every file: NAME.mix.wav, NAME.otio...
    video: Path  # the original: picture reference, muted original audio
    num_samples: int  # the video's length at 48 kHz: every stem is exactly this long
    fps: float
    lines: Sequence[DeliveryLine]
    mix_path: Path  # the finished mix (float WAV, gain applied)
    bed_path: Path | None  # the master, or the background stem when separated
    background: Background = Background.DUCK
    duck_db: float = -12.0
    ramp_ms: float = 50.0
    layout: str | None = None
    gain_db: float = 0.0  # the mix's loudness gain: the stems carry it too
    output: Path | None = None  # the muxed video (-o)
    extras: dict = field(default_factory=dict)

    @property
    def gain(self) -> float:
        return 10 ** (self.gain_db / 20) if math.isfinite(self.gain_db) else 0.0

    @property
    def duration_s(self) -> float:
        return self.num_samples / MIX_RATE

    def speakers(self) -> list[str]:
        return sorted({ln.speaker for ln in self.lines})


_UNSAFE = re.compile(r"[^\w.-]+")


def safe_part(text: str) -> str:
    """A speaker's name as a part of a file name (no separators, no spaces)."""
    cleaned = _UNSAFE.sub("_", str(text)).strip("._")
    return cleaned or "speaker"


def stem_paths(folder: Path, name: str, speakers: Sequence[str]) -> dict[str, Path]:
    """The stems' file names, by role ("mix", "dialogue", "music-effects", "dialogue.S")."""
    folder = Path(folder)
    paths = {
        "mix": folder / f"{name}.mix.wav",
        "dialogue": folder / f"{name}.dialogue.wav",
        "music-effects": folder / f"{name}.music-effects.wav",
    }
    for s in speakers:
        paths[f"dialogue.{s}"] = folder / f"{name}.dialogue.{safe_part(s)}.wav"
    return paths
