"""Loudness targets a delivery is held to (``--loudness``), and the figures QC reads back.

Each preset is a target the mix's gain is set for (core.audio.mix_stream measures the mix in
its first pass and applies one gain in its second), and a true-peak ceiling the gain is
held under. ``netflix`` measures the mix only where the dub speaks (the spec's
"dialogue-gated" loudness): we know to the sample where the dialogue is, so no speech
detector is needed. ``match-original`` aims at the original mix's own integrated
loudness (read from the master, block by block). ``off`` leaves the gain at 1, clipping
guarded only by the true-peak ceiling of ``streaming``.

Public API::

    @dataclass(frozen=True) LoudnessPreset: name, target_lufs, true_peak_dbtp,
        dialogue_gated, match_original, normalize, summary
    PRESETS: dict[str, LoudnessPreset]      # streaming, ebu-r128, atsc-a85, netflix, ...
    DEFAULT_PRESET = "streaming"
    preset_named(name) -> LoudnessPreset    # OptionError for an unknown name
    @dataclass(frozen=True) LoudnessFigures: integrated_lufs, range_lu, true_peak_dbtp
    measure_file(path, layout=None) -> MeasuredLoudness   # figures + short-term curve
    mix_settings_for(preset, base, original_path, layout) -> MixSettings
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from core.audio.loudness import LoudnessMeter
from core.audio.mixdown import MixSettings, block_peaks, true_peak_from_blocks
from core.audio.stream import read_frames
from core.errors import OptionError
from models.units import MIX_RATE


@dataclass(frozen=True)
class LoudnessPreset:
    name: str
    target_lufs: float | None  # None: the original's own loudness, or no gain at all
    true_peak_dbtp: float
    dialogue_gated: bool = False  # measured where the dub speaks (Netflix)
    match_original: bool = False
    normalize: bool = True
    summary: str = ""


PRESETS: dict[str, LoudnessPreset] = {
    p.name: p
    for p in (
        LoudnessPreset("streaming", -16.0, -1.0, summary="-16 LUFS, -1 dBTP (web, podcasts)"),
        LoudnessPreset("ebu-r128", -23.0, -1.0, summary="EBU R128 broadcast: -23 LUFS, -1 dBTP"),
        LoudnessPreset("atsc-a85", -24.0, -2.0, summary="ATSC A/85: -24 LKFS, -2 dBTP"),
        LoudnessPreset(
            "netflix", -27.0, -2.0, dialogue_gated=True,
            summary="Netflix: -27 LKFS dialogue-gated, -2 dBTP",
        ),
        LoudnessPreset(
            "match-original", None, -1.0, match_original=True,
            summary="the original mix's integrated loudness, -1 dBTP",
        ),
        LoudnessPreset("off", None, -1.0, normalize=False, summary="no loudness gain"),
    )
}  # fmt: skip
DEFAULT_PRESET = "streaming"

# EBU Tech 3342: loudness range from 3 s short-term blocks, gated at -70 LUFS and 20 LU
# under their mean, the spread between the 10th and the 95th percentile.
_SHORT_TERM_SEGMENTS = 30  # 100 ms segments in 3 s
_LRA_RELATIVE_GATE = -20.0
_ABS_GATE = -70.0


def preset_named(name: str) -> LoudnessPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise OptionError(
            f"unknown loudness preset {name!r}; choose one of {', '.join(PRESETS)}", "loudness"
        ) from None


@dataclass(frozen=True)
class LoudnessFigures:
    integrated_lufs: float
    range_lu: float
    true_peak_dbtp: float

    def to_json(self) -> dict:
        def num(x: float) -> float | None:
            return round(x, 2) if math.isfinite(x) else None

        return {
            "integrated_lufs": num(self.integrated_lufs),
            "range_lu": num(self.range_lu),
            "true_peak_dbtp": num(self.true_peak_dbtp),
        }


@dataclass(frozen=True)
class MeasuredLoudness:
    figures: LoudnessFigures
    short_term_lufs: np.ndarray  # one value per 100 ms step (3 s windows), -inf in silence
    step_s: float = 0.1


def short_term(energies: np.ndarray) -> np.ndarray:
    """Short-term loudness (3 s windows, 100 ms apart) from 100 ms mean-square energies."""
    k = _SHORT_TERM_SEGMENTS
    if energies.size < k:
        return np.zeros(0)
    csum = np.concatenate([[0.0], np.cumsum(energies)])
    mean = (csum[k:] - csum[:-k]) / k
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(np.maximum(mean, 0.0))


def loudness_range(short: np.ndarray) -> float:
    """EBU Tech 3342 loudness range (LU) of a short-term curve; 0 when nothing passes."""
    kept = short[short > _ABS_GATE]
    if kept.size == 0:
        return 0.0
    mean_energy = np.mean(10 ** ((kept + 0.691) / 10))
    gate = -0.691 + 10 * math.log10(mean_energy) + _LRA_RELATIVE_GATE
    kept = kept[kept > gate]
    if kept.size == 0:
        return 0.0
    lo, hi = np.percentile(kept, [10, 95])
    return float(hi - lo)


def measure_file(path: Path, layout: str | None = None, block_s: int = 10) -> MeasuredLoudness:
    """Integrated loudness, loudness range and true peak of a WAV, read block by block."""
    with sf.SoundFile(str(path)) as src:
        if src.samplerate != MIX_RATE:
            raise ValueError(f"{path}: expected {MIX_RATE} Hz, got {src.samplerate}")
        meter = LoudnessMeter(MIX_RATE, src.channels, layout)
        peaks = []
        block = block_s * MIX_RATE  # whole seconds: block_peaks' 1 s blocks stay aligned
        for a in range(0, src.frames, block):
            x = read_frames(src, a, min(a + block, src.frames))
            meter.add(x)
            peaks.append(block_peaks(x))
        peak = true_peak_from_blocks(
            np.concatenate(peaks) if peaks else np.zeros(0),
            lambda a, b: read_frames(src, a, b),
            src.frames,
        )
    curve = short_term(meter.energies())
    figures = LoudnessFigures(meter.integrated(), loudness_range(curve), peak)
    return MeasuredLoudness(figures, curve)


def mix_settings_for(
    preset: LoudnessPreset | str,
    base: MixSettings,
    original_path: Path | None = None,
    layout: str | None = None,
) -> MixSettings:
    """``base`` (background, ducking) with the preset's target, ceiling and gating. A
    ``match-original`` dub of a video without sound has nothing to match: it gets the
    streaming target."""
    preset = preset_named(preset) if isinstance(preset, str) else preset
    target = preset.target_lufs
    if preset.match_original:
        original = float("-inf")
        if original_path is not None:
            original = measure_file(Path(original_path), layout).figures.integrated_lufs
        target = original if math.isfinite(original) else PRESETS[DEFAULT_PRESET].target_lufs
    return replace(
        base,
        target_lufs=base.target_lufs if target is None else float(target),
        true_peak_dbtp=preset.true_peak_dbtp,
        normalize=preset.normalize,
        dialogue_gated=preset.dialogue_gated,
    )
