"""The mix of a whole film, block by block, from the bed on disk to the mix on disk.

A two-hour 5.1 master is 8 GB of float32; the whole-array mixer (core.audio.mixdown.mixdown)
would hold it, its ducked copy, the dub and the mix at once. Here the film is cut into
blocks of whole seconds (10 s by default). Pass 1 reads each block of the bed (the
master, or the background stem) with a seek, adds the clips that touch the block (each
clip resampled once, the part of it inside the block added, so a clip crossing a block
edge lands sample-exactly), ducks it, and writes the block, before any gain, to a temp
file beside the output, while the loudness meter and the 1 s sample peaks take it in.
Then the few loudest seconds are read again and oversampled for the true peak, and pass
2 applies the gain in place, block by block, before the temp file is renamed. Every
block goes through core.audio.mixdown.mix_block and the meter's result does not depend on the
cut, so the file holds the samples ``mixdown`` would have returned.

A write that fails (a full disk) removes the temp files, so a re-run finds no half mix;
libsndfile says only "System error.", so whether the disk is full is asked before the
temp files give their room back, and said as ENOSPC (core.disk_space.writing_to words it).

Public API::

    BLOCK_S = 10
    @dataclass FileMix: path, placements, gain_db, loudness_lufs, true_peak_dbtp,
        num_samples, channels, sample_rate, dub_path, range_lu, short_term_lufs
    mix_to_file(clips, duration_s, bed_path, out_path, settings=None, layout=None, *,
                dub_path=None, block_s=BLOCK_S, progress=None) -> FileMix
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from core.audio.loudness import LoudnessMeter
from core.audio.loudness_presets import loudness_range, short_term
from core.audio.mixdown import (
    Background,
    Clip,
    MixSettings,
    Placement,
    block_peaks,
    duck_envelope,
    mix_block,
    mix_layout,
    peak_gain,
    place_clip,
    true_peak_from_blocks,
)
from core.audio.samples import samples_for
from core.audio.stream import open_writer, read_frames, set_layout
from core.disk_space import disk_full_error
from core.temp_files import temp_path_for
from models.units import MIX_RATE

BLOCK_S = 10

ProgressFn = Callable[[int, int], None]


@dataclass
class FileMix:
    path: Path  # the mix: 48 kHz float WAV in the original's channels
    placements: list[Placement] = field(default_factory=list)
    gain_db: float = 0.0
    loudness_lufs: float = float("-inf")
    true_peak_dbtp: float = float("-inf")
    num_samples: int = 0
    channels: int = 2
    sample_rate: int = MIX_RATE
    dub_path: Path | None = None  # the dub bus alone, mono, same gain
    # EBU Tech 3342 loudness range, and the short-term loudness (3 s, every 100 ms) after
    # the gain (core/audio/loudness_presets.py): what the report and the QC pictures show.
    range_lu: float = 0.0
    short_term_lufs: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _part(path: Path) -> Path:
    return temp_path_for(path)  # names its owner: a killed run's is removed later


def _placements(clips: Sequence[Clip], n: int) -> list[Placement]:
    """Where each clip lands, as mixdown places it, without resampling anything yet."""
    out = []
    for clip in clips:
        audio = np.asarray(clip.audio)
        if audio.ndim != 1:
            raise ValueError(f"clip {clip.line_id!r}: expected mono audio, got shape {audio.shape}")
        length = int(round(audio.shape[0] * MIX_RATE / clip.sample_rate))
        start = int(round(clip.start_ms * MIX_RATE / 1000.0))
        a, b = max(start, 0), min(start + length, n)
        out.append(Placement(clip.line_id, a, max(b - a, 0), length, (b - a) < length))
    return out


class _DubBus:
    """The dub bus one block at a time: clips enter when the sweep reaches their start
    (sorted once, so the whole film costs n log n), are resampled once, and leave when
    it passes their end. Overlapping clips add in the caller's order, as in mixdown."""

    def __init__(self, clips: Sequence[Clip], placements: list[Placement]) -> None:
        self.clips, self.placements = clips, placements
        self.order = sorted(
            (i for i, p in enumerate(placements) if p.length > 0),
            key=lambda i: placements[i].start_sample,
        )
        self.next = 0
        self.active: dict[int, tuple[int, np.ndarray]] = {}

    def block(self, s0: int, s1: int) -> tuple[np.ndarray, list[Placement]]:
        order, placements = self.order, self.placements
        while self.next < len(order) and placements[order[self.next]].start_sample < s1:
            i = order[self.next]
            self.active[i] = place_clip(self.clips[i])
            self.next += 1
        for i in [i for i in self.active if placements[i].end_sample <= s0]:
            del self.active[i]
        dub = np.zeros(s1 - s0, dtype=np.float32)
        for i in sorted(self.active):
            start, audio = self.active[i]
            lo, hi = max(placements[i].start_sample, s0), min(placements[i].end_sample, s1)
            if hi > lo:
                dub[lo - s0 : hi - s0] += audio[lo - start : hi - start]
        return dub, [placements[i] for i in sorted(self.active)]


def _speaking(active: Sequence[Placement], s0: int, s1: int) -> np.ndarray:
    """1 on the samples of [s0, s1) that some clip covers, else 0."""
    mask = np.zeros(s1 - s0, dtype=np.float32)
    for p in active:
        lo, hi = max(p.start_sample, s0), min(p.end_sample, s1)
        mask[max(lo - s0, 0) : max(hi - s0, 0)] = 1.0
    return mask


def _apply_gain(path: Path, gain: np.float32, block: int, tick: Callable[[], None]) -> None:
    """Multiply the file in place, block by block."""
    with sf.SoundFile(str(path), "r+") as f:
        for a in range(0, f.frames, block):
            x = read_frames(f, a, min(a + block, f.frames))
            x *= gain
            f.seek(a)
            f.write(x)
            tick()


def mix_to_file(
    clips: Sequence[Clip],
    duration_s: float,
    bed_path: Path | None,
    out_path: Path,
    settings: MixSettings | None = None,
    layout: str | None = None,
    *,
    dub_path: Path | None = None,
    block_s: int = BLOCK_S,
    progress: ProgressFn | None = None,
) -> FileMix:
    """Mix a film from ``bed_path`` (the master, or the background stem in ``separate``
    mode; None: a video without sound) into ``out_path``; the dub bus alone goes to
    ``dub_path`` when given. Both are written to temp files and renamed when whole."""
    settings = settings or MixSettings()
    out_path = Path(out_path)
    for folder in {out_path.parent, *([Path(dub_path).parent] if dub_path else [])}:
        folder.mkdir(parents=True, exist_ok=True)
    n = samples_for(duration_s, MIX_RATE)
    block = int(block_s) * MIX_RATE  # whole seconds: the peak blocks fall where mixdown's do
    nblocks = max(-(-n // block), 1)
    done, total = 0, 3 * nblocks if dub_path else 2 * nblocks

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    mode = Background(settings.background)
    placements = _placements(clips, n)
    bus = _DubBus(clips, placements)
    bed = sf.SoundFile(str(bed_path)) if bed_path is not None else None
    parts: list[Path] = []
    try:
        channels, gains, plays = mix_layout(bed.channels if bed else None, mode, layout)
        meter = LoudnessMeter(MIX_RATE, channels, layout if bed is not None else None)
        speech = LoudnessMeter(MIX_RATE, channels, layout if bed is not None else None)
        peaks = []
        mix_part = _part(out_path)
        parts.append(mix_part)
        dub_part = _part(Path(dub_path)) if dub_path else None
        if dub_part is not None:
            parts.append(dub_part)
        with open_writer(mix_part, MIX_RATE, channels, n) as mix_out:
            dub_out = open_writer(dub_part, MIX_RATE, 1, n) if dub_part else None
            try:
                for s0 in range(0, n, block):
                    s1 = min(s0 + block, n)
                    dub, active = bus.block(s0, s1)
                    env = None
                    if plays and mode is not Background.SEPARATE:
                        env = duck_envelope(
                            active, s1 - s0, settings.duck_db, settings.ramp_ms, s0, n
                        )
                    beds = read_frames(bed, s0, s1) if bed is not None and plays else None
                    if beds is not None and not np.isfinite(beds).all():
                        # A broken decoder frame must not poison the loudness of the film.
                        np.nan_to_num(beds, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
                    mixed = mix_block(dub, beds, env, gains)
                    mix_out.write(mixed)
                    meter.add(mixed)
                    if settings.dialogue_gated:  # the mix where the dub speaks, else silence
                        speech.add(mixed * _speaking(active, s0, s1)[:, None])
                    peaks.append(block_peaks(mixed))
                    if dub_out is not None:
                        dub_out.write(dub)
                    tick()
            finally:
                if dub_out is not None:
                    dub_out.close()
        loudness = meter.integrated()
        with sf.SoundFile(str(mix_part)) as pre:
            peak_dbfs = true_peak_from_blocks(
                np.concatenate(peaks) if peaks else np.zeros(0),
                lambda a, b: read_frames(pre, a, b),
                n,
            )
        gated = speech.integrated() if settings.dialogue_gated else loudness
        gain, peak = peak_gain(gated if math.isfinite(gated) else loudness, peak_dbfs, settings)
        curve = short_term(meter.energies())
        for part in parts:
            _apply_gain(part, np.float32(gain), block, tick)
        set_layout(mix_part, layout)
        os.replace(mix_part, out_path)
        if dub_part is not None:
            os.replace(dub_part, Path(dub_path))
    except BaseException as exc:
        full = disk_full_error(exc, out_path.parent)  # before the parts free their room
        for part in parts:
            part.unlink(missing_ok=True)
        if full is not None and full is not exc:
            raise full from exc
        raise
    finally:
        if bed is not None:
            bed.close()
    return FileMix(
        path=out_path,
        placements=placements,
        gain_db=20 * math.log10(gain) if gain > 0 else float("-inf"),
        loudness_lufs=loudness + 20 * math.log10(gain) if math.isfinite(loudness) else loudness,
        true_peak_dbtp=peak,
        num_samples=n,
        channels=channels,
        dub_path=Path(dub_path) if dub_path else None,
        range_lu=loudness_range(curve),
        short_term_lufs=curve + (20 * math.log10(gain) if gain > 0 else 0.0),
    )
