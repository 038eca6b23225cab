"""Each line's take as its own WAV for the timelines, laid out so that a clip starting on
a video frame puts the take's first sample on the very sample the mix put it.

An edit list counts in frames (40 ms at 25 fps), far coarser than the 1 ms an editor hears
as a lip-sync slip. So each take file starts with the part of a frame between the frame the
clip sits on and the line's sample (``lead_samples`` of silence) and ends padded to a whole
frame: the clip sits on frame F, its audio starts exactly at ``placement.start_sample``.
The files carry the mix's gain, at 48 kHz 24-bit mono.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.audio.mixdown import place_clip
from core.audio.samples import write_wav
from core.deliver.spec import Delivery
from models.units import MIX_RATE


@dataclass(frozen=True)
class TakeFile:
    line_id: int
    speaker: str
    path: Path
    start_sample: int  # where the mix placed the line
    frame: int  # the frame the clip starts on
    frames: int  # the clip's (and the file's) length in frames
    lead_samples: int  # silence before the take in the file


def frame_of(sample: int, fps: float) -> int:
    """The last frame starting at or before ``sample``."""
    return int(math.floor(sample * fps / MIX_RATE + 1e-9))


def frame_start_sample(frame: int, fps: float) -> int:
    return int(round(frame * MIX_RATE / fps))


def write_takes(delivery: Delivery, folder: Path) -> list[TakeFile]:
    """One WAV per placed line in ``folder`` (cue0001.wav...), in line order."""
    folder = Path(folder)
    out = []
    gain = np.float32(delivery.gain)
    for ln in delivery.lines:
        p = ln.placement
        if p.length <= 0:
            continue  # wholly outside the video: the mix has nothing of it either
        start, audio = place_clip(ln.clip)
        audio = audio[p.start_sample - start : p.start_sample - start + p.length] * gain
        frame = frame_of(p.start_sample, delivery.fps)
        lead = max(p.start_sample - frame_start_sample(frame, delivery.fps), 0)
        frames = max(math.ceil((lead + p.length) * delivery.fps / MIX_RATE - 1e-9), 1)
        total = frame_start_sample(frame + frames, delivery.fps) - frame_start_sample(
            frame, delivery.fps
        )
        body = np.zeros(max(total, lead + p.length), dtype=np.float32)
        body[lead : lead + p.length] = audio
        path = folder / f"cue{int(p.line_id):04d}.wav"
        write_wav(path, body, MIX_RATE, subtype="PCM_24")
        out.append(TakeFile(int(p.line_id), ln.speaker, path, p.start_sample, frame, frames, lead))
    return out
