"""The delivery's stems: 48 kHz 24-bit WAVs, each exactly as long as the video and
starting with it, written block by block from the takes' placements and the bed.

    NAME.mix.wav                 the finished mix (what the video carries), re-encoded
    NAME.dialogue.wav            every line, at the mix's gain, on the mix's dub channels
    NAME.dialogue.SPEAKER.wav    one speaker's lines
    NAME.music-effects.wav       the bed as the mix has it: the background stem, or the
                                 original ducked under the lines (silence in replace mode)

Dialogue and M&E go through core.audio.mixdown.mix_block, the mix's own kernel, with the mix's
gain, so they add up to the mix (to 24-bit rounding) and a sample of a line sits on the
same sample index in every stem.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np
import soundfile as sf

from core.audio.mix_stream import _DubBus  # the mix's own sweep: clips land where the mix put them
from core.audio.mixdown import Background, duck_envelope, mix_block, mix_layout
from core.audio.stream import read_frames, set_layout
from core.deliver.spec import Delivery, stem_paths
from models.units import MIX_RATE

BLOCK_S = 10
_WAV_LIMIT = 2**32 - 2**20


def _writer(path: Path, channels: int, frames: int) -> sf.SoundFile:
    """As the mix's writer (core.audio.stream.open_writer), at 24 bits."""
    big = frames * channels * 3 > _WAV_LIMIT
    kind = "RF64" if big else "WAVEX" if channels > 2 else "WAV"
    return sf.SoundFile(str(path), "w", MIX_RATE, channels, "PCM_24", format=kind)


def write_stems(
    delivery: Delivery,
    folder: Path,
    *,
    block_s: int = BLOCK_S,
    tick: Callable[[], None] | None = None,
    roles: Collection[str] | None = None,
) -> dict[str, Path]:
    """Write every stem into ``folder``, or only those of ``roles`` (see ``stem_paths``;
    a delivery of timelines without stems still needs their music-and-effects bed);
    returns them by role."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = delivery.num_samples
    speakers = delivery.speakers()
    paths = stem_paths(folder, delivery.name, speakers)
    if roles is not None:
        paths = {role: p for role, p in paths.items() if role in roles}
    lines = list(delivery.lines)
    everyone = _DubBus([ln.clip for ln in lines], [ln.placement for ln in lines])
    own = {
        s: _DubBus(
            [ln.clip for ln in lines if ln.speaker == s],
            [ln.placement for ln in lines if ln.speaker == s],
        )
        for s in speakers
        if f"dialogue.{s}" in paths
    }
    mode = Background(delivery.background)
    bed = sf.SoundFile(str(delivery.bed_path)) if delivery.bed_path is not None else None
    mix = sf.SoundFile(str(delivery.mix_path))
    parts = {
        role: p.parent / f".{p.name}.{uuid.uuid4().hex[:12]}.part" for role, p in paths.items()
    }
    writers: dict[str, sf.SoundFile] = {}
    try:
        channels, gains, plays = mix_layout(bed.channels if bed else None, mode, delivery.layout)
        if mix.channels != channels or mix.samplerate != MIX_RATE:
            raise ValueError(f"{delivery.mix_path}: not the mix of this delivery")
        gain = np.float32(delivery.gain)
        for role, part in parts.items():
            writers[role] = _writer(part, channels, n)
        block = int(block_s) * MIX_RATE
        for s0 in range(0, n, block):
            s1 = min(s0 + block, n)
            dub, active = everyone.block(s0, s1)
            if "mix" in writers:
                writers["mix"].write(read_frames(mix, s0, s1))
            if "dialogue" in writers:
                writers["dialogue"].write(mix_block(dub, None, None, gains) * gain)
            env = None
            if plays and mode is not Background.SEPARATE:
                env = duck_envelope(active, s1 - s0, delivery.duck_db, delivery.ramp_ms, s0, n)
            if "music-effects" in writers:
                beds = read_frames(bed, s0, s1) if bed is not None and plays else None
                silence = np.zeros(s1 - s0, dtype=np.float32)
                writers["music-effects"].write(mix_block(silence, beds, env, gains) * gain)
            for s, bus in own.items():
                alone, _ = bus.block(s0, s1)
                writers[f"dialogue.{s}"].write(mix_block(alone, None, None, gains) * gain)
            if tick is not None:
                tick()
        for w in writers.values():
            w.close()
        for role, part in parts.items():
            set_layout(part, delivery.layout)  # 5.1 reads as 5.1, not by channel count
            os.replace(part, paths[role])
    except BaseException:
        for w in writers.values():
            w.close()
        for part in parts.values():
            part.unlink(missing_ok=True)
        raise
    finally:
        mix.close()
        if bed is not None:
            bed.close()
    return paths
