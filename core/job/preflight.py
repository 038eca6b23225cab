"""Everything about a dub that can be found wrong before the models load: settings,
outputs, voice files, emotions the engine cannot honour, and disk space."""

from __future__ import annotations

from pathlib import Path

from core import project as proj
from core.audio.original_audio import MASTER_RATE
from core.audio.samples import read_any_audio
from core.disk_space import SpaceNeed, check_space, describe, film_cache_bytes, wav_bytes
from core.errors import EngineUnavailable, OptionError
from core.job import output_guard
from core.job.inputs import AUDIO_SIZE_LIMIT, Inputs, check_input_file
from core.job.options import DubOptions
from core.job.project_keeper import ProjectKeeper
from core.models.engines import TEXT_EMOTION_MISSING, EngineFactory
from core.settings import DubSettings
from core.speakers.voices import VoiceError, VoicePrompt, prompt_from_file
from core.subtitles.read import Cue
from models.common import default_model_dir
from models.contract import SAMPLE_RATE, EmotionSource


def check_outputs(video: Path, options: DubOptions) -> None:
    """Every file this dub will write can be written and is none of its inputs nor another
    of its outputs (core.job.output_guard: the one place of that rule)."""
    output_guard.check_outputs(video, options)


class VoiceNameError(VoiceError, OptionError):
    """A voice file given for a speaker the dub does not have: a mistake on the command
    line (a typo, an old name), not an unreadable input."""


def check_device(device: str) -> None:
    """A CUDA device asked for where there is none is refused before any work."""
    if not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise OptionError(
            f"a CUDA GPU was asked for ({device}), but there is no CUDA GPU here (or its "
            "driver is not working); use the CPU (--device cpu, slower) or --device auto",
            "device",
        )


def read_voice_files(
    cues: list[Cue], speakers: dict[int, str], options: DubOptions, has_audio: bool
) -> dict[str, VoicePrompt]:
    """The editor's voice files, read now (a broken file is found before any long work),
    and a clear refusal when a speaker has neither a file nor original audio to cut from."""
    needed = sorted(set(speakers[c.index] for c in cues))
    unknown = sorted(set(options.voices) - set(needed))
    # With audio, the analysis may find other speakers: their names are checked after it.
    if unknown and not has_audio:
        raise VoiceNameError(
            f"a voice file is given for speaker(s) not in the subtitles: {', '.join(unknown)}; "
            f"speakers are: {', '.join(needed)}"
        )
    missing = [sid for sid in needed if sid not in options.voices]
    if missing and not has_audio:
        raise VoiceError(
            "the video has no audio, so every voice must come from a sample file: give one "
            f"for {', '.join(repr(s) for s in missing)}",
            missing,
        )
    for sid, path in options.voices.items():
        check_input_file(Path(path), f"the voice file of {sid}", AUDIO_SIZE_LIMIT)
    return {
        sid: prompt_from_file(sid, path, read_any_audio) for sid, path in options.voices.items()
    }


def check_voice_names(voices: dict[str, object], speakers: set[str]) -> None:
    """Voice files given for speakers the dub does not have (a typo, or an old name)."""
    unknown = sorted(set(voices) - speakers)
    if unknown:
        raise VoiceNameError(
            f"a voice file is given for speaker(s) not in this video: {', '.join(unknown)}; "
            f"speakers are: {', '.join(sorted(speakers))}"
        )


def check_settings(settings: DubSettings, options: DubOptions) -> None:
    """Settings that would fail late (in ffmpeg, after the render) are refused now."""
    settings.validate()
    check_device(options.device)
    if options.batch_size < 1:
        raise OptionError(f"the batch size must be at least 1, got {options.batch_size}")


def check_line_emotions(
    cues: list[Cue],
    keeper: ProjectKeeper | None,
    factory: EngineFactory,
    options: DubOptions,
) -> None:
    """Refuse, before the models load, emotions that the engine is known not to honour
    (text without its model), rather than leave those lines silent after the render."""
    if keeper is None:
        return
    honours = getattr(factory, "emotion_sources", None)
    sources = honours(options.model_dir) if honours else None
    texts = [
        c.index
        for c in cues
        if (e := keeper.line_emotion(c.index)) is not None and e.mode is proj.EmotionMode.TEXT
    ]
    if texts and sources is not None and EmotionSource.TEXT not in sources:
        shown = ", ".join(str(i) for i in texts[:10]) + (" …" if len(texts) > 10 else "")
        # The routed engine's own words when it is a registered one (IndexTTS-2.5's
        # text-emotion model lives in its own folder).
        entry = getattr(factory, "entry", None)
        said = (entry.missing_emotion if entry else {}).get(EmotionSource.TEXT)
        raise EngineUnavailable(
            (said or TEXT_EMOTION_MISSING).format(model_dir=options.model_dir or "(default)")
            + f"; line(s) {shown} use it: install it, or set those lines to another emotion"
        )


def take_rate_of(factory: EngineFactory | None, model_dir: Path | None) -> int:
    """The rate the routed engine's takes are written at, read from its model folder
    without loading it (VoxCPM2 writes 48 kHz takes, twice the room of 22.05 kHz ones).
    An engine the registry does not know (or a folder it cannot read yet: the load will
    say why) counts at the contract's rate."""
    entry = getattr(factory, "entry", None)
    if entry is None:
        return SAMPLE_RATE
    try:
        return int(entry.capabilities(Path(model_dir or default_model_dir())).sample_rate)
    except Exception:  # a missing folder is the model check's to report, not the disk's
        return SAMPLE_RATE


def check_disk(
    video: Path,
    inputs: Inputs,
    cues: list[Cue],
    options: DubOptions,
    work: Path,
    take_rate: int = SAMPLE_RATE,
) -> None:
    """Cache and output space, estimated from the video and the lines, before any model;
    `take_rate`: the routed engine's (take_rate_of)."""
    duration = inputs.media.duration_s or 0.0
    channels = max([s.channels or 2 for s in inputs.media.audio_streams] or [2])
    lines_s = sum(c.duration_ms for c in cues) / 1000
    parts = film_cache_bytes(
        duration,
        channels if inputs.media.has_audio else 2,
        lines_s,
        take_rate=take_rate,
        extract=inputs.media.has_audio and not (work / "audio").is_dir(),
        separate=inputs.media.has_audio and options.changes.get("background") == "separate",
    )
    out = Path(options.output)
    needs = [
        SpaceNeed(work, sum(parts.values()), describe("the cache", parts)),
        SpaceNeed(out.parent, inputs.media.size_bytes + int(duration * 256_000 / 8), "the output"),
    ]
    if options.dub_wav:
        needs.append(
            SpaceNeed(Path(options.dub_wav).parent, wav_bytes(duration, MASTER_RATE), "the dub WAV")
        )
    if options.stems_dir:
        needs.append(
            SpaceNeed(Path(options.stems_dir), wav_bytes(lines_s, MASTER_RATE), "the stems")
        )
    check_space(needs)
