"""The mix stage: the takes placed over the original's bed, block by block on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.audio.loudness_presets import mix_settings_for
from core.audio.mix_stream import FileMix, mix_to_file
from core.audio.mixdown import Clip, MixSettings, write_stems
from core.audio.original_audio import ExtractedAudio
from core.audio.separation import Stems
from core.disk_space import wav_bytes, writing_to
from core.job.lines import LinePlan
from core.job.options import DubOptions
from core.job.runner import Tick
from core.settings import BackgroundMode, DubSettings
from models.units import MIX_RATE


@dataclass(frozen=True)
class Mixed:
    """The mix and what it was made of (the deliver stage measures it again)."""

    mix: FileMix
    clips: list[Clip]
    bed: Path | None
    settings: MixSettings


def mix_dub(
    lines: list[LinePlan],
    duration_s: float,
    extracted: ExtractedAudio | None,
    stems: Stems | None,
    background: BackgroundMode,
    settings: DubSettings,
    options: DubOptions,
    work: Path,
    tick: Tick,
) -> Mixed:
    clips = [
        Clip(
            start_ms=ln.timing.span.start_ms,
            audio=ln.take.audio,
            sample_rate=ln.take.sample_rate,  # the engine's: 22.05 kHz, VoxCPM2 48 kHz
            line_id=ln.index,
        )
        for ln in lines
        if ln.take is not None and ln.timing is not None
    ]
    if stems is not None:  # the music and effects, without the original actors
        bed = stems.background_path
    else:
        bed = extracted.master_path if extracted else None
    layout = extracted.channel_layout if extracted else None
    mix_settings = mix_settings_for(  # --loudness (core/audio/loudness_presets.py)
        options.loudness, MixSettings(background=background, duck_db=settings.duck_db),
        extracted.master_path if extracted else None, layout,
    )  # fmt: skip
    # The mix in the bed's channels (stereo without one), and the dub bus alone, mono.
    need = wav_bytes(duration_s, MIX_RATE, extracted.channels if extracted else 2)
    need += wav_bytes(duration_s, MIX_RATE) if options.dub_wav else 0
    with writing_to(work, "the mix", need):  # block by block, from and to disk
        mix = mix_to_file(
            clips,
            duration_s,
            bed,
            work / "mix.wav",
            mix_settings,
            layout,
            dub_path=Path(options.dub_wav) if options.dub_wav else None,
            progress=tick,
        )
    return Mixed(mix, clips, bed, mix_settings)


def write_line_stems(mixed: Mixed, stems_dir: Path) -> None:
    with writing_to(stems_dir, "the stems"):
        stems_dir.mkdir(parents=True, exist_ok=True)
        # Named by cue number, so they match the subtitles.
        write_stems(mixed.mix, mixed.clips, stems_dir, name="cue{line_id:04d}.wav")
