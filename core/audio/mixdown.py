"""Place rendered clips on the 48 kHz timeline, mix them with the original, normalise.

A clip (engine output: float32 mono at 22050 Hz) is resampled with soxr to exactly
round(len * 48000 / 22050) samples and starts at sample round(start_ms * 48). The
original soundtrack (the 48 kHz master from ``core.audio.original_audio``) is kept under the dub in
``duck`` mode, lowered by ``duck_db`` under each clip with short ramps that lie inside
the clip's span (outside every span the original is untouched), or dropped in
``replace`` mode. In ``separate`` mode ``original`` is the background stem of the master
(core/audio/separation.py: same rate, channels and length, the original dialogue taken out),
kept at full level under the dub. In every mode the mix keeps the original's channels:
mono stays mono, stereo stereo, and a surround layout with a centre channel gets the dub
on the centre (elsewhere on the front pair), as a film's dialogue sits, with the rest of
the original (ducked, replaced by silence, or separated) in place. ``auto`` is resolved
by the job before the mix (it looks for a separation model); given here it ducks. The
mix is then brought to -16 LUFS integrated (BS.1770 via core.audio.loudness, surround weights
by layout) and scaled down if its true peak (4x oversampled with soxr) would exceed
-1 dBTP (then to -1.2 dBTP, a margin for the estimate), so it never clips. The output
has the original's channels (stereo without an original), exactly
round(duration_s * 48000) samples long. A film is mixed block by block from and to disk
by core.audio.mix_stream, through the same block kernel (``mix_block``), to the same samples.

Public API::

    MIX_RATE = 48000
    Background = core.settings.BackgroundMode (auto, duck, replace, separate)
    @dataclass MixSettings: background=Background.DUCK, duck_db=-12.0, ramp_ms=50.0,
        target_lufs=-16.0, true_peak_dbtp=-1.0, normalize=True
    @dataclass Clip: start_ms: float, audio: np.ndarray, sample_rate=22050, line_id=None
    @dataclass Placement: line_id, start_sample, length, clip_length, truncated; properties
        end_sample, start_ms, duration_ms
    @dataclass MixResult: audio (n, ch) float32 (the original's channels), dub (n,)
        float32 (the dub bus, same gain),
        placements, gain_db, loudness_lufs, true_peak_dbtp, sample_rate;
        property num_samples
    place_clip(clip) -> tuple[int, np.ndarray]          # start sample, 48 kHz audio
    duck_envelope(placements, num_samples, duck_db, ramp_ms, start=0, timeline=None)
    dub_channel_gains(channels, layout=None) -> np.ndarray  # where the dub goes
    mix_layout(original_channels, mode, layout) -> (channels, gains, original plays)
    mix_block(dub, bed, env, gains) -> np.ndarray        # one stretch, before the gain
    peak_gain(loudness, peak_dbfs, settings) -> (gain, true peak after it)
    block_peaks(audio, rate) -> np.ndarray               # 1 s sample peaks
    true_peak_from_blocks(peaks, read, n, rate) -> float
    true_peak_dbtp(audio: np.ndarray, rate=48000) -> float
    mixdown(clips, duration_s, original=None, settings=MixSettings(),
            original_layout=None) -> MixResult
    write_mix(result, path) -> Path                      # stereo float WAV (atomic)
    write_dub(result, path) -> Path                      # the dub bus alone, mono
    write_stems(result, clips, folder, name="line_{index:04d}.wav") -> list[Path]

``original`` may be None (a video without audio): the output is the dub alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import soxr

from core.audio.loudness import integrated_loudness
from core.audio.samples import resample_to_length, samples_for, write_wav
from core.settings import BackgroundMode
from models.units import MIX_RATE, SAMPLE_RATE

CLIP_RATE = SAMPLE_RATE
_TP_OVERSAMPLE = 4
# True-peak estimates of different oversampling filters disagree by ~0.1 dB on
# impulsive material; when we have to scale down, aim this far below the limit.
_TP_MARGIN_DB = 0.2
_TP_SEARCH_DB = 6.0  # blocks this far below the sample peak are not oversampled
_TP_CONTEXT = 1024  # samples of context around an oversampled block (filter length)


# The project's background setting itself: one enum from the file to the mixer.
Background = BackgroundMode


@dataclass
class MixSettings:
    background: Background = Background.DUCK
    duck_db: float = -12.0
    ramp_ms: float = 50.0
    target_lufs: float = -16.0
    true_peak_dbtp: float = -1.0
    normalize: bool = True
    # The gain set from the mix measured only where the dub speaks (core/audio/loudness_presets.py,
    # Netflix's dialogue gating); honoured by the streamed mix (core.audio.mix_stream).
    dialogue_gated: bool = False


@dataclass
class Clip:
    start_ms: float  # the line's span start
    audio: np.ndarray  # float32 mono
    sample_rate: int = CLIP_RATE
    line_id: object = None


@dataclass
class Placement:
    line_id: object
    start_sample: int  # at 48 kHz on the output timeline: round(start_ms * 48)
    length: int  # samples at 48 kHz actually on the timeline
    clip_length: int  # round(len22k * 48000 / 22050): the whole resampled clip
    truncated: bool = False  # part of the clip fell outside the video and was cut

    @property
    def end_sample(self) -> int:
        return self.start_sample + self.length

    @property
    def start_ms(self) -> float:
        return self.start_sample * 1000.0 / MIX_RATE

    @property
    def duration_ms(self) -> float:
        return self.length * 1000.0 / MIX_RATE


@dataclass
class MixResult:
    audio: np.ndarray  # (n, ch) float32, normalised, in the original's channels
    dub: np.ndarray  # (n,) float32 dub bus with the same gain as in the mix
    placements: list[Placement] = field(default_factory=list)
    gain_db: float = 0.0
    loudness_lufs: float = float("-inf")  # after normalisation
    true_peak_dbtp: float = float("-inf")
    sample_rate: int = MIX_RATE

    @property
    def num_samples(self) -> int:
        return int(self.audio.shape[0])


def place_clip(clip: Clip) -> tuple[int, np.ndarray]:
    """The clip's start sample and its audio at 48 kHz with the rule length."""
    audio = np.asarray(clip.audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"clip {clip.line_id!r}: expected mono audio, got shape {audio.shape}")
    length = int(round(audio.shape[0] * MIX_RATE / clip.sample_rate))
    start = int(round(clip.start_ms * MIX_RATE / 1000.0))
    return start, resample_to_length(audio, clip.sample_rate, MIX_RATE, length)


def duck_envelope(
    placements: Sequence[Placement],
    num_samples: int,
    duck_db: float,
    ramp_ms: float,
    start: int = 0,
    timeline: int | None = None,
) -> np.ndarray:
    """Gain for the original: 1 outside every clip, 10^(duck_db/20) inside, with
    linear-in-dB ramps that lie inside the clip so nothing outside a span changes.

    The envelope covers samples [start, start + num_samples) of a timeline ``timeline``
    samples long (default: the envelope itself), so a block of a film gets the very
    values the whole film's envelope has there."""
    env = np.ones(num_samples, dtype=np.float32)
    floor = 10 ** (duck_db / 20)
    total = num_samples if timeline is None else timeline
    for p in placements:
        a, b = max(p.start_sample, 0), min(p.end_sample, total)
        lo, hi = max(a, start), min(b, start + num_samples)
        if b <= a or hi <= lo:
            continue
        n = b - a
        ramp = min(int(round(ramp_ms * MIX_RATE / 1000)), n // 2)
        seg = np.full(n, floor, dtype=np.float32)
        if ramp > 0:
            shape = 10 ** (np.linspace(0.0, duck_db, ramp, dtype=np.float64) / 20)
            seg[:ramp] = shape
            seg[n - ramp :] = shape[::-1]
        # Overlapping clips: the deeper duck wins.
        view = env[lo - start : hi - start]
        np.minimum(view, seg[lo - a : hi - a], out=view)
    return env


# ffmpeg's layouts whose third channel is the front centre (FL FR FC ...).
_CENTRE_AT_2 = frozenset(
    {"3.0", "3.1", "4.0", "4.1", "5.0", "5.0(side)", "5.1", "5.1(side)", "6.0", "6.1",
     "6.1(back)", "7.0", "7.0(front)", "7.1", "7.1(wide)", "7.1(wide-side)", "hexagonal",
     "octagonal"}
)  # fmt: skip


def dub_channel_gains(channels: int, layout: str | None = None) -> np.ndarray:
    """The dub's gain on each channel of a mix that keeps the original's channels: all of
    mono and stereo, the centre alone of a surround layout that has one, else the front
    pair (the first two channels of every layout ffmpeg names)."""
    gains = np.zeros(channels, dtype=np.float32)
    if channels <= 2:
        gains[:] = 1.0
    elif layout in _CENTRE_AT_2:
        gains[2] = 1.0
    else:
        gains[:2] = 1.0
    return gains


def block_peaks(audio: np.ndarray, rate: int = MIX_RATE) -> np.ndarray:
    """The sample peak of each 1 s block of ``audio`` (all channels), the first pass of
    the true-peak search; a film's blocks come in whole seconds, so blocks cut a film
    where the whole array's blocks fall."""
    audio = np.asarray(audio, dtype=np.float32)
    audio = audio[:, None] if audio.ndim == 1 else audio
    n, block = audio.shape[0], rate
    nblocks = -(-n // block)
    padded = audio if n == nblocks * block else np.pad(audio, [(0, nblocks * block - n), (0, 0)])
    return np.abs(padded.reshape(nblocks, block * audio.shape[1])).max(axis=1)


def true_peak_from_blocks(
    peaks: np.ndarray, read: Callable[[int, int], np.ndarray], n: int, rate: int = MIX_RATE
) -> float:
    """dBTP from the 1 s blocks' sample peaks: the blocks within ``_TP_SEARCH_DB`` of the
    loudest sample are read again through ``read(a, b)`` (samples [a, b)) with a little
    context and oversampled 4x with soxr."""
    peak = float(peaks.max()) if peaks.size else 0.0  # the samples lie on the curve
    if peak == 0.0:
        return float("-inf")
    block, ctx, up = rate, _TP_CONTEXT, _TP_OVERSAMPLE
    for k in np.flatnonzero(peaks >= peak * 10 ** (-_TP_SEARCH_DB / 20)):
        a, b = int(k) * block, min((int(k) + 1) * block, n)
        lo, hi = max(a - ctx, 0), min(b + ctx, n)
        over = soxr.resample(read(lo, hi), rate, rate * up, quality="HQ")
        core_part = over[(a - lo) * up : (b - lo) * up]
        if core_part.size:
            peak = max(peak, float(np.abs(core_part).max()))
    return 20 * math.log10(peak)


def true_peak_dbtp(audio: np.ndarray, rate: int = MIX_RATE) -> float:
    """Inter-sample peak estimate in dBTP: 4x oversampling with soxr.

    Only the 1 s blocks whose sample peak is within ``_TP_SEARCH_DB`` of the loudest
    sample are oversampled (with a little context on each side): an inter-sample
    peak rises a few dB at most above its neighbouring samples, so quieter blocks
    cannot hold the maximum, and a film's soundtrack is mostly quieter blocks.
    """
    audio = np.asarray(audio, dtype=np.float32)
    audio = audio[:, None] if audio.ndim == 1 else audio
    if audio.shape[0] == 0:
        return float("-inf")
    return true_peak_from_blocks(
        block_peaks(audio, rate), lambda a, b: audio[a:b], audio.shape[0], rate
    )


def mix_layout(
    original_channels: int | None, mode: Background, layout: str | None
) -> tuple[int, np.ndarray, bool]:
    """Channels of the mix, the dub's gain on each, and whether the original plays.

    The mix keeps the original's layout in every background mode (mono stays mono,
    stereo stereo, 5.1/7.1 carry the dub on the centre); a video without sound gets a
    stereo dub."""
    if original_channels is None:
        return 2, np.ones(2, dtype=np.float32), False
    gains = dub_channel_gains(original_channels, layout)
    return original_channels, gains, mode is not Background.REPLACE


def mix_block(
    dub: np.ndarray, bed: np.ndarray | None, env: np.ndarray | None, gains: np.ndarray
) -> np.ndarray:
    """One stretch of the mix, before the loudness gain: the bed (ducked by ``env``, or
    as it is) with the dub added on the channels ``gains`` names. The whole-array and
    the block mix both go through here, so they agree sample for sample."""
    k, channels = dub.shape[0], gains.shape[0]
    if bed is None:
        out = np.zeros((k, channels), dtype=np.float32)
    elif env is None:
        out = np.array(bed, dtype=np.float32, copy=True)
    else:
        out = np.multiply(bed, env[:, None], dtype=np.float32)
    for c in np.flatnonzero(gains):
        out[:, c] += dub * gains[c]
    return out


def peak_gain(loudness: float, peak_dbfs: float, settings: MixSettings) -> tuple[float, float]:
    """The loudness gain (linear) and the true peak after it, held under the limit."""
    gain = 1.0
    if settings.normalize and math.isfinite(loudness):
        gain = 10 ** ((settings.target_lufs - loudness) / 20)
    peak = peak_dbfs + 20 * math.log10(gain) if gain > 0 else float("-inf")
    if peak > settings.true_peak_dbtp:
        # Scaling down costs loudness but never clips; a limiter would colour the dub.
        target = settings.true_peak_dbtp - _TP_MARGIN_DB
        gain *= 10 ** ((target - peak) / 20)
        peak = target
    return gain, peak


def mixdown(
    clips: Sequence[Clip],
    duration_s: float,
    original: np.ndarray | None = None,
    settings: MixSettings | None = None,
    original_layout: str | None = None,
) -> MixResult:
    """Build the dubbed soundtrack of a video lasting ``duration_s``.

    ``original``: the 48 kHz master (n,) or (n, ch), or its background stem in
    ``separate`` mode, or None. It is padded/trimmed to the timeline. Clips may overlap
    (they add); a clip past the end is cut and its placement marked ``truncated``; a
    clip starting before 0 is cut at the front.
    """
    settings = settings or MixSettings()
    n = samples_for(duration_s, MIX_RATE)
    dub = np.zeros(n, dtype=np.float32)
    placements: list[Placement] = []
    for clip in clips:
        start, audio = place_clip(clip)
        a, b = max(start, 0), min(start + audio.shape[0], n)
        if b > a:
            dub[a:b] += audio[a - start : b - start]
        placements.append(
            Placement(
                line_id=clip.line_id,
                start_sample=a,
                length=max(b - a, 0),
                clip_length=audio.shape[0],
                truncated=(b - a) < audio.shape[0],
            )
        )

    mode = Background(settings.background)
    bed = None if original is None else np.asarray(original, dtype=np.float32)
    if bed is not None and bed.ndim == 1:
        bed = bed[:, None]
    channels, gains, plays = mix_layout(
        None if bed is None else bed.shape[1], mode, original_layout
    )
    env = None
    if plays and mode is not Background.SEPARATE:
        env = duck_envelope(placements, n, settings.duck_db, settings.ramp_ms)
    if bed is not None:  # padded/trimmed to the timeline
        bed = bed[:n] if bed.shape[0] >= n else np.pad(bed, [(0, n - bed.shape[0]), (0, 0)])
    mix = mix_block(dub, bed if plays else None, env, gains)

    loudness = integrated_loudness(mix, MIX_RATE, original_layout if bed is not None else None)
    gain, peak = peak_gain(loudness, true_peak_dbtp(mix), settings)
    mix *= np.float32(gain)
    dub *= np.float32(gain)
    return MixResult(
        audio=mix,
        dub=dub,
        placements=placements,
        gain_db=20 * math.log10(gain) if gain > 0 else float("-inf"),
        loudness_lufs=loudness + 20 * math.log10(gain) if math.isfinite(loudness) else loudness,
        true_peak_dbtp=peak,
    )


def write_mix(result: MixResult, path: Path) -> Path:
    """The full mix as a 48 kHz float WAV (what export encodes)."""
    return write_wav(Path(path), result.audio, result.sample_rate)


def write_dub(result: MixResult, path: Path) -> Path:
    """The dub bus alone (all clips, no original), mono, same gain as the mix."""
    return write_wav(Path(path), result.dub, result.sample_rate)


class Gained(Protocol):
    """A finished mix as far as its stems care: a MixResult, or core.audio.mix_stream's FileMix."""

    gain_db: float
    sample_rate: int


def write_stems(
    result: Gained, clips: Sequence[Clip], folder: Path, name: str = "line_{index:04d}.wav"
) -> list[Path]:
    """Each clip as its own 48 kHz mono WAV at the mix gain, for an editor's DAW.

    ``name`` is formatted with ``index`` (position in ``clips``) and ``line_id``.
    """
    folder = Path(folder)
    gain = np.float32(10 ** (result.gain_db / 20)) if math.isfinite(result.gain_db) else 0
    paths = []
    for index, clip in enumerate(clips):
        _, audio = place_clip(clip)
        path = folder / name.format(index=index, line_id=clip.line_id)
        paths.append(write_wav(path, audio * gain, result.sample_rate))
    return paths
