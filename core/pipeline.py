"""One dub from end to end: read, extract, voices, render, mix, export.

The same functions serve the CLI (progress bars) and the GUI (worker threads): progress
is reported through a callback `progress(step, done, total)` and every long step checks a
`CancelToken`. Nothing is written next to the input except the requested output and the
project file; working files live in a per-video work folder in the user cache.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import project as proj
from core.audio import read_any_audio
from core.disk_space import SpaceNeed, check_space, wav_bytes, writing_to
from core.export import ExportOptions, container_for, export_video, same_file
from core.language import language_from_filename, to_iso639_2
from core.media import (
    MASTER_RATE,
    ExtractedAudio,
    MediaError,
    MediaInfo,
    extract_audio,
    probe,
    require_video,
)
from core.mixdown import Background, Clip, MixSettings, mixdown, write_dub, write_mix, write_stems
from core.notices import Notice
from core.project_keeper import ProjectKeeper
from core.render import CancelToken, TakeCache, render
from core.report import DubReport, LineReport, write_report
from core.silence import silence_until_ms
from core.subtitles import (
    Cue,
    SubtitleDoc,
    SubtitleError,
    find_subtitles_for,
    load_subtitles,
    write_clean_srt,
)
from core.timing import Timing, plan_lines
from core.voices import (
    VoiceError,
    VoicePrompt,
    assign_speakers,
    cut_prompt,
    line_reference,
    prompt_from_file,
    speaker_names,
)
from models.contract import (
    SAMPLE_RATE,
    DurationMode,
    EmotionSource,
    EmotionSpec,
    Engine,
    Sampling,
    SynthesisRequest,
    VoiceHandle,
)

ProgressFn = Callable[[str, int, int], None]
EngineFactory = Callable[[Path | None, str], Engine]

STEPS = ("read", "models", "extract", "voices", "render", "mix", "export")


class InputError(Exception):
    """The video or subtitles cannot be used; the message says which and why."""


class OptionError(ValueError):
    """A dub setting is out of range or unknown; the message names it and what is allowed."""


class EngineUnavailable(Exception):
    """No speech engine can be loaded (model files missing, engine not installed)."""


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


@dataclass
class Inputs:
    video: Path
    media: MediaInfo
    subtitles: SubtitleDoc


# --- reading ---------------------------------------------------------------------------------


def read_inputs(
    video: Path, subtitles: Path | None = None, *, merge_split_sentences: bool = False
) -> Inputs:
    """Probe the video and read its subtitles (found next to it when not given)."""
    video = Path(video)
    if not video.exists():
        raise InputError(f"video not found: {video}")
    try:
        media = probe(video)
        require_video(media)
    except MediaError as exc:
        raise InputError(str(exc)) from exc
    if subtitles is None:
        subtitles = find_subtitles_for(video)
        if subtitles is None:
            raise InputError(
                f"no subtitles found next to {video.name} (looked for {video.stem}.srt, "
                f".ass, .vtt, ...); pass the subtitle file after the video"
            )
    try:
        doc = load_subtitles(
            Path(subtitles),
            fps=media.fps,
            video_duration_ms=round(media.duration_s * 1000) if media.duration_s else None,
            merge_split_sentences=merge_split_sentences,
        )
    except SubtitleError as exc:
        raise InputError(str(exc)) from exc
    return Inputs(video, media, doc)


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


TEXT_EMOTION_MISSING = (
    "emotion from a text description needs the optional text-emotion model "
    "(indextts2/qwen0.6bemo4-merge/ in the model folder {model_dir}), which is not installed"
)


def text_emotion_available(model_dir: Path | None) -> bool:
    """Whether the optional text-to-emotion model is installed (known before any loading)."""
    from models.layout import default_model_dir, locate

    files = locate(Path(model_dir) if model_dir else default_model_dir())
    return (files.qwen_emotion / "config.json").is_file()


class IndexTTS2Factory:
    """Loads the IndexTTS2 engine from a model directory, and tells before loading which
    emotion inputs it will honour there (text needs the optional model)."""

    def __call__(self, model_dir: Path | None, device: str) -> Engine:
        """The engine on the model directory (clear errors when it is incomplete)."""
        from models.layout import default_model_dir, locate

        model_dir = Path(model_dir) if model_dir else default_model_dir()
        locate(model_dir).check(model_dir)  # ModelFilesMissing lists what to download
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise EngineUnavailable(
                    "a CUDA GPU was asked for, but there is no CUDA GPU here; "
                    "use the CPU (slower) or check the GPU driver"
                )
        try:
            from models.engine import IndexTTS2Engine
        except ImportError as exc:
            raise EngineUnavailable(f"the IndexTTS2 engine cannot be loaded: {exc}") from exc
        return IndexTTS2Engine.load(model_dir, device=device)

    def emotion_sources(self, model_dir: Path | None) -> frozenset[EmotionSource]:
        every = frozenset(EmotionSource)
        return every if text_emotion_available(model_dir) else every - {EmotionSource.TEXT}


default_engine_factory = IndexTTS2Factory()


# --- the dub -----------------------------------------------------------------------------------


def normalizer_language(script_language: str) -> str | None:
    """The text normaliser's language for a line's script (it knows English and Chinese)."""
    return {"latin": "en", "zh": "zh"}.get(script_language)


def _check_outputs(video: Path, options: DubOptions) -> None:
    """Every file this dub will write: its folder exists and is writable, and it is none of
    the inputs (a mistyped --dub-wav must not overwrite the video)."""
    inputs = [video, *([options.subtitles] if options.subtitles else []), *options.voices.values()]
    outputs = {"-o": Path(options.output)}
    if options.dub_wav:
        outputs["--dub-wav"] = Path(options.dub_wav)
    if options.report_path:
        outputs["--report"] = Path(options.report_path)
    for flag, path in outputs.items():
        for source in inputs:
            if same_file(path, Path(source)):
                raise InputError(f"{flag} {path} is an input of this dub; choose another file")
        if not path.parent.is_dir():
            raise InputError(f"cannot write {path}: the folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK):
            raise InputError(f"cannot write {path}: the folder {path.parent} is not writable")
    if options.dub_wav and same_file(Path(options.dub_wav), Path(options.output)):
        raise InputError("--dub-wav and -o name the same file")
    if options.stems_dir:
        stems = Path(options.stems_dir)
        if stems.exists() and not stems.is_dir():
            raise InputError(f"--stems {stems} is a file, not a folder")
        if any(same_file(stems, Path(s).parent) for s in inputs):
            raise InputError(f"--stems {stems} is the folder of an input; choose an empty folder")


def _noop(step: str, done: int, total: int) -> None:
    pass


def _plan(
    cues: list[Cue],
    options: DubOptions,
    inputs: Inputs,
    extracted: ExtractedAudio | None,
    warnings: list[Notice],
) -> dict[int, Timing]:
    """Each line's span and counts; spans grow into following silence when asked."""
    silences = None
    if options.extend_into_silence_ms > 0 and extracted is not None:
        silences = silence_until_ms(extracted.load_mono16k(), 16000, [c.end_ms for c in cues])
    planned = plan_lines(
        cues,
        silences_until_ms=silences,
        extend_ms=options.extend_into_silence_ms,
        video_end_ms=round(inputs.media.duration_s * 1000),
    )
    timings = {}
    for c, t in zip(cues, planned, strict=True):
        timings[c.index] = t
        if t.flag:
            warnings.append(Notice(c.index, "pace", t.flag))
    return timings


def _emotion_for(
    cue: Cue,
    custom: proj.Emotion | None,
    options: DubOptions,
    mono22k: np.ndarray | None,
    warnings: list[Notice],
) -> EmotionSpec:
    """A line's emotion: its own setting from the project file when the editor gave one,
    else the dub's default (`--emotion original|voice`)."""
    if custom is not None:
        try:
            return emotion_spec(custom, cue, mono22k)
        except (ValueError, OSError, MediaError) as exc:
            warnings.append(
                Notice(
                    cue.index,
                    "emotion",
                    f"its emotion setting cannot be used ({exc}); using the default",
                )
            )
    if options.emotion == "original" and mono22k is not None:
        ref = line_reference(mono22k, SAMPLE_RATE, cue.start_ms, cue.end_ms)
        if len(ref) >= MIN_REFERENCE:
            return EmotionSpec(
                EmotionSource.REFERENCE, reference_audio=ref, reference_rate=SAMPLE_RATE
            )
        warnings.append(
            Notice(
                cue.index, "short-reference", "too short to copy its delivery; using the voice's"
            )
        )
    return EmotionSpec(EmotionSource.VOICE)


MIN_REFERENCE = SAMPLE_RATE // 4  # under 0.25 s there is no delivery to copy


def emotion_spec(emotion: proj.Emotion, cue: Cue, mono22k: np.ndarray | None) -> EmotionSpec:
    """The engine's emotion for a line's project setting (ValueError when it cannot be met)."""
    emotion.validate()
    mode = proj.EmotionMode(emotion.mode)
    if mode is proj.EmotionMode.DEFAULT:
        raise ValueError("the line follows the dub's default emotion")
    if mode is proj.EmotionMode.VOICE:
        return EmotionSpec(EmotionSource.VOICE)
    if mode is proj.EmotionMode.ORIGINAL:
        if mono22k is None:
            raise ValueError("the video has no audio to take the original delivery from")
        ref = line_reference(mono22k, SAMPLE_RATE, cue.start_ms, cue.end_ms)
        if len(ref) < MIN_REFERENCE:
            raise ValueError("the line is too short to copy its delivery")
        return EmotionSpec(
            EmotionSource.REFERENCE,
            reference_audio=ref,
            reference_rate=SAMPLE_RATE,
            alpha=emotion.alpha,
        )
    if mode is proj.EmotionMode.REFERENCE:
        audio, rate = read_any_audio(Path(emotion.reference_path))
        audio = np.asarray(audio, np.float32)
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        return EmotionSpec(
            EmotionSource.REFERENCE,
            reference_audio=audio,
            reference_rate=rate,
            alpha=emotion.alpha,
        )
    if mode is proj.EmotionMode.VECTOR:
        return EmotionSpec(
            EmotionSource.VECTOR,
            vector=tuple(float(v) for v in emotion.vector),
            alpha=emotion.alpha,
        )
    return EmotionSpec(EmotionSource.TEXT, text=emotion.text, alpha=emotion.alpha)


def _voice_files(
    cues: list[Cue], speakers: dict[int, str], options: DubOptions, has_audio: bool
) -> dict[str, VoicePrompt]:
    """The editor's voice files, read now (a broken file is found before any long work),
    and a clear refusal when a speaker has neither a file nor original audio to cut from."""
    needed = sorted(set(speakers[c.index] for c in cues))
    unknown = sorted(set(options.voices) - set(needed))
    if unknown:
        raise VoiceError(
            f"a voice file is given for speaker(s) not in the subtitles: {', '.join(unknown)}; "
            f"speakers are: {', '.join(needed)}"
        )
    missing = [sid for sid in needed if sid not in options.voices]
    if missing and not has_audio:
        raise VoiceError(
            "the video has no audio, so every voice must come from a sample file: give "
            + " ".join(f"--voice '{s}=sample.wav'" for s in missing)
        )
    return {
        sid: prompt_from_file(sid, options.voices[sid], read_any_audio)
        for sid in needed
        if sid in options.voices
    }


def _voice_prompts(
    cues: list[Cue],
    speakers: dict[int, str],
    files: dict[str, VoicePrompt],
    mono22k: np.ndarray | None,
    all_cues: list[Cue],
) -> dict[str, VoicePrompt]:
    prompts = dict(files)
    for sid in sorted(set(speakers[c.index] for c in cues) - set(files)):
        assert mono22k is not None  # _voice_files refused this case up front
        own = [c for c in cues if speakers[c.index] == sid]
        prompts[sid] = cut_prompt(sid, mono22k, SAMPLE_RATE, own, all_cues)
    return prompts


def _check_options(options: DubOptions) -> None:
    """Settings that would fail late (in ffmpeg, after the render) are refused now."""
    if not math.isfinite(options.duck_db) or options.duck_db > 0:
        raise OptionError(
            f"the duck level must be a number of dB at or below 0 (e.g. -12), got {options.duck_db}"
        )
    try:
        Background(options.background)
    except ValueError:
        raise OptionError(
            f"unknown background mode '{options.background}' (duck or replace)"
        ) from None
    if options.emotion not in ("original", "voice"):
        raise OptionError(f"unknown default emotion '{options.emotion}' (original or voice)")
    if options.extend_into_silence_ms < 0:
        raise OptionError("the extension into silence cannot be negative")
    if options.batch_size < 1:
        raise OptionError(f"the batch size must be at least 1, got {options.batch_size}")
    if options.language is not None and to_iso639_2(options.language) is None:
        raise OptionError(
            f"the dub language must be a code such as eng, fra or de, got '{options.language}'"
        )


def _check_line_emotions(
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
        raise EngineUnavailable(
            TEXT_EMOTION_MISSING.format(model_dir=options.model_dir or "(default)")
            + f"; line(s) {shown} use it: install it, or set those lines to another emotion"
        )


def _check_space(
    video: Path, inputs: Inputs, cues: list[Cue], options: DubOptions, work: Path
) -> None:
    """Cache and output space, estimated from the video and the lines, before any model."""
    duration = inputs.media.duration_s or 0.0
    channels = max([s.channels or 2 for s in inputs.media.audio_streams] or [2])
    lines_s = sum(c.duration_ms for c in cues) / 1000
    cache = wav_bytes(lines_s, SAMPLE_RATE) + wav_bytes(duration, MASTER_RATE, max(2, channels))
    if inputs.media.has_audio and not (work / "audio").is_dir():
        cache += wav_bytes(duration, MASTER_RATE, channels) + wav_bytes(duration, 16000)
        cache += wav_bytes(duration, SAMPLE_RATE)
    out = Path(options.output)
    needs = [
        SpaceNeed(work, cache, "the cache"),
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


def dub(
    video: Path,
    options: DubOptions,
    *,
    engine_factory: EngineFactory = default_engine_factory,
    progress: ProgressFn = _noop,
    cancel: CancelToken | None = None,
) -> DubReport:
    """Dub `video` into options.output. Raises InputError, VoiceError, EngineUnavailable,
    ModelFilesMissing, DiskSpaceError, MediaError (export) or Cancelled; a line that fails
    to render is reported in the result and left silent. Everything knowable about the
    inputs and settings is checked before the models load."""
    cancel = cancel or CancelToken()
    t_start = time.perf_counter()
    step_s: dict[str, float] = {}
    video = Path(video)
    out = Path(options.output)
    if out.exists() and out.resolve() == video.resolve():
        raise InputError(f"the output {out} is the input video; choose another output file")
    _check_options(options)
    # A bad output is found now, not after hours of rendering.
    try:
        container_for(out)
    except MediaError as exc:
        raise InputError(str(exc)) from exc
    _check_outputs(video, options)

    # read: everything about the inputs that can be known without the models
    t0 = time.perf_counter()
    progress("read", 0, 1)
    inputs = read_inputs(
        video, options.subtitles, merge_split_sentences=options.merge_split_sentences
    )
    warnings: list[Notice] = list(inputs.subtitles.warnings)
    cues = inputs.subtitles.usable_cues()
    if not cues:
        raise InputError(f"{inputs.subtitles.path.name} has no usable lines to dub")
    # Cues past the end of the picture cannot be dubbed (growing into silence cannot help).
    video_end_ms = round(inputs.media.duration_s * 1000)
    cues = [
        c
        for c, t in zip(cues, plan_lines(cues, video_end_ms=video_end_ms), strict=True)
        if t.samples_22k > 0
    ]
    if not cues:
        raise InputError(
            f"no line of {inputs.subtitles.path.name} lies within the video "
            f"({inputs.media.duration_s:.1f} s): wrong subtitles, or a wrong frame rate?"
        )
    speakers = assign_speakers(cues)
    names = speaker_names(cues)
    voice_files = _voice_files(cues, speakers, options, inputs.media.has_audio)
    work = Path(options.work_dir) if options.work_dir else default_work_dir(video)
    _check_space(video, inputs, cues, options, work)
    keeper = ProjectKeeper(video, warnings) if options.save_project else None
    if keeper:
        keeper.set_settings(
            video_path=video.resolve(),
            subtitle_path=inputs.subtitles.path.resolve(),
            output_path=out.resolve(),
            background_mode=proj.BackgroundMode(options.background),
            duck_db=options.duck_db,
            keep_original_track=options.keep_original_track,
            model={"device": options.device, "model_dir": options.model_dir},
        )
    try:
        if keeper:
            keeper.sync_lines(cues, speakers, names, options.voices, options.mode)
        _check_line_emotions(cues, keeper, engine_factory, options)
        progress("read", 1, 1)
        step_s["read"] = time.perf_counter() - t0
        cancel.check()

        # the engine is loaded before the long extraction so a missing model fails fast
        t0 = time.perf_counter()
        progress("models", 0, 1)
        engine = engine_factory(options.model_dir, options.device)
        progress("models", 1, 1)
        step_s["models"] = time.perf_counter() - t0

        # extract
        t0 = time.perf_counter()
        progress("extract", 0, 1)
        with writing_to(work, "the extracted audio"):
            work.mkdir(parents=True, exist_ok=True)
            extracted: ExtractedAudio | None = extract_audio(video, work / "audio")
        mono22k = extracted.load_mono22k() if extracted else None
        if extracted is None:
            warnings.append(
                Notice(
                    None,
                    "no-audio",
                    "the video has no audio track: voices come from the sample files, "
                    "emotion from the voices",
                )
            )
        progress("extract", 1, 1)
        step_s["extract"] = time.perf_counter() - t0
        cancel.check()

        timings = _plan(cues, options, inputs, extracted, warnings)

        # voices
        t0 = time.perf_counter()
        prompts = _voice_prompts(cues, speakers, voice_files, mono22k, inputs.subtitles.cues)
        handles: dict[str, VoiceHandle] = {}
        for n, (sid, prompt) in enumerate(sorted(prompts.items())):
            progress("voices", n, len(prompts))
            cancel.check()
            handles[sid] = engine.prepare_voice(prompt.audio, prompt.sample_rate)
        progress("voices", len(prompts), len(prompts))
        step_s["voices"] = time.perf_counter() - t0

        # render
        t0 = time.perf_counter()
        requests = [
            SynthesisRequest(
                text=c.text,
                voice=handles[speakers[c.index]],
                emotion=_emotion_for(
                    c,
                    keeper.line_emotion(c.index) if keeper else None,
                    options,
                    mono22k,
                    warnings,
                ),
                duration_s=timings[c.index].samples_22k / SAMPLE_RATE,
                mode=options.mode,
                sampling=options.sampling,
                seed=options.seed + (keeper.line_number(c.index) if keeper else c.index),
                language=normalizer_language(timings[c.index].language),
            )
            for c in cues
        ]
        with writing_to(work, "the rendered lines"):
            cache = TakeCache(work / "takes")
            outcome = render(
                engine,
                requests,
                cache,
                # The engine's own batch: cancel and progress then land per batch it renders.
                batch_size=min(
                    options.batch_size, getattr(engine, "max_batch", options.batch_size)
                ),
                progress=lambda d, t: progress("render", d, t),
                cancel=cancel,
                on_take=None
                if keeper is None
                else (
                    lambda pos, take: keeper.record_take(
                        cues[pos].index,
                        take,
                        cache.path(take.key),
                        options.mode,
                        requests[pos].seed,
                    )
                ),
            )
        step_s["render"] = time.perf_counter() - t0
        cancel.check()

        # mix
        t0 = time.perf_counter()
        progress("mix", 0, 1)
        clips = [
            Clip(
                start_ms=timings[c.index].span.start_ms,
                audio=take.audio,
                sample_rate=SAMPLE_RATE,
                line_id=c.index,
            )
            for c, take in zip(cues, outcome.takes, strict=True)
            if take is not None
        ]
        original = extracted.load_master() if extracted else None
        settings = MixSettings(background=Background(options.background), duck_db=options.duck_db)
        mix = mixdown(
            clips,
            inputs.media.duration_s,
            original,
            settings,
            extracted.channel_layout if extracted else None,
        )
        with writing_to(work, "the mix"):
            mix_path = write_mix(mix, work / "mix.wav")
        if options.dub_wav:
            with writing_to(Path(options.dub_wav).parent, "the dub WAV"):
                write_dub(mix, Path(options.dub_wav))
        if options.stems_dir:
            with writing_to(Path(options.stems_dir), "the stems"):
                Path(options.stems_dir).mkdir(parents=True, exist_ok=True)
                # Named by cue number, so they match the subtitles.
                write_stems(mix, clips, Path(options.stems_dir), name="cue{line_id:04d}.wav")
        progress("mix", 1, 1)
        step_s["mix"] = time.perf_counter() - t0
        cancel.check()

        # export
        t0 = time.perf_counter()
        progress("export", 0, 1)
        export_video(
            video,
            mix_path,
            out,
            ExportOptions(
                dub_language=to_iso639_2(options.language)
                or language_from_filename(inputs.subtitles.path)
                or "und",
                include_original=options.keep_original_track and extracted is not None,
                subtitles=(
                    write_clean_srt(cues, work / "subtitles.srt")
                    if options.subtitle_track
                    else None
                ),
            ),
        )
        progress("export", 1, 1)
        step_s["export"] = time.perf_counter() - t0

        placements = {p.line_id: p for p in mix.placements}
        lines: list[LineReport] = []
        for pos, (c, take) in enumerate(zip(cues, outcome.takes, strict=True)):
            t = timings[c.index]
            place = placements.get(c.index)
            lines.append(
                LineReport(
                    index=c.index,
                    speaker=speakers[c.index],
                    text=c.text,
                    span_start_ms=t.span.start_ms,
                    span_end_ms=t.span.end_ms,
                    duration_mode=options.mode.value,
                    target_samples_22k=requests[pos].target_samples(),
                    rendered_samples_22k=len(take.audio) if take else None,
                    placed_at_48k=place.start_sample if place else None,
                    cached=bool(take and take.cached),
                    pace=round(t.pace, 3) if np.isfinite(t.pace) else None,
                    flag=take.flagged if take else None,
                    pace_flag=t.flag,
                    error=outcome.errors.get(pos),
                    timings=dict(take.timings) if take else {},
                )
            )
        for c, take in zip(cues, outcome.takes, strict=True):
            for note in take.notes if take else []:
                warnings.append(Notice(c.index, "engine-note", note))
        for pos, msg in sorted(outcome.errors.items()):
            warnings.append(
                Notice(cues[pos].index, "not-rendered", f"not rendered ({msg}); left silent")
            )

        if keeper:
            keeper.save()
    finally:
        # Saved on success, on cancel and on errors alike: the takes so far stay named.
        if keeper:
            keeper.save()

    report = DubReport(video, out, lines, warnings, time.perf_counter() - t_start, step_s)
    if options.report_path:
        write_report(report, Path(options.report_path))
    return report
