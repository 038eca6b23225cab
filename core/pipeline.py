"""One dub as a job of named stages, run the same way by the CLI, the window and a batch.

    read -> engine -> extract -> analyze -> plan -> voices -> render -> mix -> export -> report

One runner times every stage, reports its progress and checks cancel before it; the job
tells its listener (`JobEvents`) of stages, of each line as its take arrives and of each
warning. Each line of the dub is one `LinePlan`, filled in stage by stage. Everything that
can be found wrong without the models is checked in `read`, before the engine loads.
Nothing is written next to the input except the requested output and the project file;
working files live in a per-video work folder in the user cache.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import preflight
from core import project as proj
from core.analysis import analyze_speakers
from core.audio import resample_to_length
from core.borrow_silence import plan_borrowing
from core.cut_check import cut_note, needs_retake, retake_first
from core.deliver.stage import deliver_stage
from core.desk import seed_for
from core.disk_space import writing_to
from core.engines import (
    TEXT_EMOTION_MISSING,
    EngineChoice,
    EngineFactory,
    RegistryFactory,
    choose_engine,
    default_engine_factory,
    load_engine,
    resolve_device,
    text_emotion_available,
)
from core.errors import EngineUnavailable, InputError, OptionError
from core.export import ExportOptions, export_video
from core.inputs import Inputs, read_inputs
from core.language import (
    detect_language,
    language_from_filename,
    language_name,
    to_iso639_1,
    to_iso639_2,
)
from core.line_emotion import MIN_REFERENCE, emotion_for, emotion_spec
from core.line_limits import line_problem
from core.listening import (
    Listener,
    ListenerUnavailable,
    TakeCheck,
    check_take,
    speech_span,
    whisper_folder_problem,
)
from core.loudness_presets import mix_settings_for
from core.media import ExtractedAudio, extract_audio
from core.mix_stream import mix_to_file
from core.mixdown import Clip, MixSettings, write_stems
from core.notices import Notice
from core.options import DubOptions, default_work_dir
from core.project_keeper import ProjectKeeper
from core.prompt_choice import Span
from core.render import CancelToken, Take, TakeCache, render
from core.report import DubReport, LineReport, fit_fields, write_report
from core.retakes import better_take, open_voice_check
from core.separation import (
    SeparationNotInstalled,
    SeparationUnavailable,
    Stems,
    find_model,
    separate_master,
)
from core.settings import (
    EXTEND_AUTO,
    PRESET_SAMPLING,
    BackgroundMode,
    DefaultEmotion,
    DubSettings,
    QualityPreset,
)
from core.silence import silence_until_ms
from core.speaker_embedding import VoiceCheck, load_line_embedder
from core.subtitles import Cue, write_clean_srt
from core.timing import Timing, plan_lines
from core.voices import VoicePrompt, assign_speakers, cut_prompt, speaker_names
from models.contract import (
    SAMPLE_RATE,
    DurationMode,
    EmotionSource,
    EmotionSpec,
    Engine,
    SynthesisRequest,
    VoiceHandle,
)
from models.registry import default_model_dir

__all__ = [
    "MIN_REFERENCE",
    "BackgroundMode",
    "DefaultEmotion",
    "DubSettings",
    "STAGES",
    "STAGE_WEIGHTS",
    "STEPS",
    "TEXT_EMOTION_MISSING",
    "DubJob",
    "DubOptions",
    "EngineFactory",
    "EngineUnavailable",
    "RegistryFactory",
    "InputError",
    "Inputs",
    "JobEvents",
    "ProgressEvents",
    "LinePlan",
    "OptionError",
    "default_engine_factory",
    "default_work_dir",
    "dub",
    "emotion_spec",
    "read_inputs",
    "text_emotion_available",
]

ProgressFn = Callable[[str, int, int], None]

STAGES = (
    "read",
    "engine",
    "extract",
    "analyze",
    "plan",
    "voices",
    "render",
    "mix",
    "export",
    "deliver",
    "report",
)
STEPS = STAGES
# Rough shares of a dub's time on a CPU (rendering is nearly all of it), so one progress
# bar moves with the work instead of jumping to half before the first line renders.
STAGE_WEIGHTS = {
    "read": 1,
    "engine": 5,
    "extract": 3,
    "analyze": 1,
    "plan": 1,
    "voices": 3,
    "render": 80,
    "mix": 3,
    "export": 3,
    "deliver": 0,  # without --deliver it only measures the mix
    "report": 0,
}


class JobEvents:
    """What a running job tells its listener. Subclass and override what you need; every
    method is called on the thread that runs the job."""

    def stage(self, name: str, done: int, total: int) -> None:
        pass

    def line_rendered(self, index: int, take: Take) -> None:
        pass

    def warning(self, notice: Notice) -> None:
        pass


class ProgressEvents(JobEvents):
    """The older `progress(step, done, total)` callback as a listener."""

    def __init__(self, progress: ProgressFn) -> None:
        self.progress = progress

    def stage(self, name: str, done: int, total: int) -> None:
        self.progress(name, done, total)


@dataclass
class LinePlan:
    """One line of the dub, filled in stage by stage."""

    cue: Cue
    speaker: str
    seed: int
    # The line's own duration mode, else the dub's: what its request, its take, the take
    # cache key and its report carry.
    mode: DurationMode = DurationMode.EXACT
    timing: Timing | None = None
    request: SynthesisRequest | None = None
    take: Take | None = None
    error: str | None = None
    check: TakeCheck | None = None  # the listening check of `take`
    similarity: float | None = None  # the take's voice against its speaker's prompt
    takes_tried: int = 1

    @property
    def index(self) -> int:
        return self.cue.index


class StageRunner:
    """Runs named stages: cancel checked before each, progress reported, time measured."""

    def __init__(self, events: JobEvents, cancel: CancelToken) -> None:
        self.events = events
        self.cancel = cancel
        self.seconds: dict[str, float] = {}

    def run(self, name: str, stage: Callable[[Callable[[int, int], None]], None]) -> None:
        if name != "report":  # once the output is written, the report is part of it
            self.cancel.check()
        self.events.stage(name, 0, 1)
        t0 = time.perf_counter()
        last_total = [1]

        def tick(done: int, total: int) -> None:
            last_total[0] = max(total, 1)
            self.events.stage(name, done, total)

        stage(tick)
        self.seconds[name] = time.perf_counter() - t0
        self.events.stage(name, last_total[0], last_total[0])  # done, in its own units


RETAKE_SEED_STEP = 7919  # a retake's seed: far from every line's own (a prime step)


def _check_language(language: str | None, inputs: Inputs | None) -> str | None:
    """The dub's language for the recogniser (ISO 639-1), when it is known."""
    from core.language import to_iso639_1

    tag = language or (language_from_filename(inputs.subtitles.path) if inputs else None)
    return to_iso639_1(tag) if tag else None


_DEVICE_WORDS = {"cuda": "the CUDA GPU", "mps": "Apple's GPU (MPS)", "cpu": "the CPU (slow)"}


def normalizer_language(script_language: str) -> str | None:
    """The text normaliser's language for a line's script (it knows English and Chinese)."""
    return {"latin": "en", "zh": "zh"}.get(script_language)


class DubJob:
    """Dub one video into `options.output`. `run()` raises InputError, OptionError,
    VoiceError, EngineUnavailable, ModelFilesMissing, DiskSpaceError, MediaError (export)
    or Cancelled; a line that fails to render is reported and left silent."""

    def __init__(
        self,
        video: Path,
        options: DubOptions,
        *,
        engine_factory: EngineFactory = default_engine_factory,
        events: JobEvents | None = None,
        cancel: CancelToken | None = None,
        project: proj.Project | None = None,
        embedder_factory: Callable[[Path, str], object] | None = None,
    ) -> None:
        self.video = Path(video)
        self.embedder_factory = embedder_factory  # for telling voices apart; None: registry
        self.project = project  # the caller's own, kept up to date; None: the file's
        self.options = options
        self.engine_factory = engine_factory
        self.events = events or JobEvents()
        self.cancel = cancel or CancelToken()
        self.warnings: list[Notice] = []
        self.lines: list[LinePlan] = []
        self.keeper: ProjectKeeper | None = None
        self.inputs: Inputs | None = None
        self.engine: Engine | None = None
        self.extracted: ExtractedAudio | None = None
        self.mono22k: np.ndarray | None = None
        self.voice_files: dict[str, VoicePrompt] = {}
        self.voices: dict[str, VoiceHandle] = {}
        self.work = Path(options.work_dir) if options.work_dir else default_work_dir(self.video)
        self.mix_path: Path | None = None
        self.delivery: dict | None = None  # core/deliver/stage.py: loudness, delivered files
        self.placements: dict[int, int] = {}  # cue number -> 48 kHz start sample
        self.runner = StageRunner(self.events, self.cancel)
        self.result: DubReport | None = None
        self._t_start = 0.0
        self.settings = DubSettings()  # the effective settings, known once read runs
        self.others: dict[str, list[Span]] = {}  # per speaker, everyone else's speech
        self.analysis_only = False  # `analyze`: no output is written, none is checked
        self.words: list = []  # the original's words with times (whisper), for speech spans
        self.prompts: dict[str, VoicePrompt] = {}
        self._voice_check: VoiceCheck | None | bool = False  # False: not looked for yet
        self._listener: Listener | None | bool = False  # False: not looked for yet
        self.choice: EngineChoice | None = None  # the engine the dub's language goes to
        self._unhonoured: dict[EmotionSource, list[int]] = {}  # emotions it cannot take
        self.stems: Stems | None = None  # dialogue / background of the master, when split
        self.background = BackgroundMode.DUCK  # the mode the mix uses (auto resolved)
        self.separation_detail = "not run"  # what separation did, for `analyze`

    def warn(self, notice: Notice) -> None:
        self.warnings.append(notice)
        self.events.warning(notice)

    ANALYSIS_STAGES = ("read", "extract", "analyze", "plan")

    def analyze(self) -> dict[str, VoicePrompt]:
        """Only find who speaks and choose each speaker's prompt (no engine, no render):
        the project is written with speakers, prompts and scores; the prompts are returned."""
        self.analysis_only = True
        try:
            for name in self.ANALYSIS_STAGES:
                self.runner.run(name, getattr(self, f"_{name}"))
            prompts = self.choose_prompts()
        finally:
            if self.keeper:
                self.keeper.save()
        return prompts

    def run(self) -> DubReport:
        self._t_start = time.perf_counter()
        try:
            for name in STAGES:
                self.runner.run(name, getattr(self, f"_{name}"))
        finally:
            # Saved on success, on cancel and on errors alike: the takes so far stay named.
            if self.keeper:
                self.keeper.save()
        assert self.result is not None
        return self.result

    # --- stages ----------------------------------------------------------------------------

    def _read(self, tick) -> None:
        """Inputs, settings, outputs, voice files, disk space, the project: all checked now."""
        options, video = self.options, self.video
        out = Path(options.output)
        # Only read here: the project file is written once every check has passed.
        self.keeper = (
            ProjectKeeper(video, self.warn, project=self.project) if options.save_project else None
        )
        saved = self.keeper.project.settings if self.keeper else DubSettings()
        self.settings = settings = (options.settings or saved).with_changes(**options.changes)
        preflight.check_settings(settings, options)
        if not self.analysis_only:  # a bad output is found now, not after hours of rendering
            preflight.check_outputs(video, options)
        self.inputs = inputs = read_inputs(
            video, options.subtitles, merge_split_sentences=settings.merge_split_sentences
        )
        for w in inputs.subtitles.warnings:
            self.warn(w)
        cues = inputs.subtitles.usable_cues()
        if not cues:
            raise InputError(f"{inputs.subtitles.path.name} has no usable lines to dub")
        # Cues past the end of the picture cannot be dubbed (growing into silence cannot help).
        video_end_ms = round(inputs.media.duration_s * 1000)
        planned = plan_lines(cues, video_end_ms=video_end_ms)
        cues = [c for c, t in zip(cues, planned, strict=True) if t.samples_22k > 0]
        if not cues:
            raise InputError(
                f"no line of {inputs.subtitles.path.name} lies within the video "
                f"({inputs.media.duration_s:.1f} s): wrong subtitles, or a wrong frame rate?"
            )
        if all(line_problem(c.text, 0.0) for c in cues):  # text no engine is given, alone
            raise InputError(f"{inputs.subtitles.path.name}: cue {cues[0].index} is not "
                             f"dubbed: {line_problem(cues[0].text, 0.0)}")  # fmt: skip
        if not self.analysis_only:
            # The engine for the dub's language, before anything is saved or loaded: a
            # language no installed engine speaks (or --engine one that cannot) stops here.
            self.route(cues)
        speakers = assign_speakers(cues)
        self.voice_files = preflight.read_voice_files(
            cues, speakers, options, inputs.media.has_audio
        )
        if not self.analysis_only:
            preflight.check_disk(video, inputs, cues, options, self.work)
        if self.keeper:
            paths = {
                "video_path": video.resolve(),
                "subtitle_path": inputs.subtitles.path.resolve(),
            }
            if not self.analysis_only:
                paths["output_path"] = out.resolve()
            self.keeper.set_settings(
                **paths,
                settings=settings,
                model={"device": options.device, "model_dir": options.model_dir},
            )
            self.keeper.sync_lines(cues, speakers, speaker_names(cues), options.voices)
        preflight.check_line_emotions(
            cues,
            self.keeper,
            self.engine_factory if self.analysis_only else self.route(cues).factory,
            options,
        )
        self.lines = [
            LinePlan(
                c,
                speakers[c.index],
                # The seed follows the line, not its cue number: an inserted cue must not
                # re-render every later line. A take the editor chose (the desk) keeps its seed.
                seed_for(
                    self.keeper.line(c.index) if self.keeper else None,
                    settings.seed + (self.keeper.line_number(c.index) if self.keeper else c.index),
                ),
                proj.effective_mode(
                    self.keeper.line(c.index) if self.keeper else None, settings.duration_mode
                ),
            )
            for c in cues
        ]

    def dub_language(self, cues: list[Cue] | None = None) -> str | None:
        """The dub's language (ISO 639-1): --language, else the subtitle name
        (movie.de.srt), else what the lines' text is written in; None when unsure."""
        tagged = to_iso639_1(self.settings.language)
        if tagged:
            return tagged
        if self.inputs is not None:
            named = to_iso639_1(language_from_filename(self.inputs.subtitles.path))
            if named:
                return named
        texts = [c.text for c in (cues if cues is not None else [ln.cue for ln in self.lines])]
        return detect_language(texts)

    def route(self, cues: list[Cue] | None = None) -> EngineChoice:
        """The engine that speaks the dub's language (core/engines.py), chosen once: a
        language no installed engine speaks is refused here, before any model loads."""
        if self.choice is None:
            self.choice = choose_engine(
                self.dub_language(cues),
                self.options.model_dir,
                self.settings.engine,
                self.engine_factory,
            )
        return self.choice

    def _spoken_language(self, line: LinePlan) -> str | None:
        """The language the engine is to speak a line in: the dub's own when it is not
        Chinese or English and the engine speaks it (IndexTTS-2.5 speaks Spanish lines as
        Spanish, not as the English its Latin script suggests); for zh/en each line's script
        decides, so a Chinese line in an English or Spanish dub is still read as Chinese
        (in a Japanese dub a line of kanji alone is Japanese)."""
        assert line.timing is not None
        dub = self.choice.language if self.choice else None
        speaks = self.engine.capabilities.languages if self.engine else ()
        script = normalizer_language(line.timing.language)
        if dub and dub not in ("zh", "en") and dub in speaks:
            return "zh" if script == "zh" and dub != "ja" and "zh" in speaks else dub
        return script

    def _engine(self, tick) -> None:
        device = resolve_device(self.options.device)
        if self.options.device == "auto":  # say which: a CPU dub is hours, a GPU's minutes
            self.warn(Notice(None, "device", f"rendering on {_DEVICE_WORDS.get(device, device)}"))
        choice = self.route()
        self.engine = load_engine(
            choice.factory, self.options.model_dir, device, self.options.precision
        )
        use_precision = getattr(self.engine, "use_precision", None)
        if use_precision is not None:  # engines that keep their weights in a chosen format
            said = use_precision(self.options.precision)
            if said:
                self.warn(Notice(None, "precision", said))
        speaks = self.engine.capabilities.languages
        if choice.name == "given":  # the caller's engine: its name, and a word if it is mute
            title = getattr(self.engine, "name", "the given engine")
            self.choice = choice = dataclasses.replace(choice, name=title, title=title)
            if choice.language and choice.language not in speaks:
                self.warn(
                    Notice(
                        None,
                        "engine-language",
                        f"{title} does not list {language_name(choice.language)} among "
                        f"its languages ({', '.join(speaks)})",
                    )
                )
        self.warn(Notice(None, "engine", f"engine: {choice.describe()}"))
        for note in getattr(self.engine, "load_notes", []):
            self.warn(Notice(None, "engine-note", note))

    def _extract(self, tick) -> None:
        with writing_to(self.work, "the extracted audio"):
            self.work.mkdir(parents=True, exist_ok=True)
            self.extracted = extract_audio(self.video, self.work / "audio")
        if self.extracted is None:
            self.warn(
                Notice(
                    None,
                    "no-audio",
                    "the video has no audio track: voices come from the sample files, "
                    "emotion from the voices",
                )
            )
        else:
            self.mono22k = self.extracted.load_mono22k()

    def _analyze(self, tick) -> None:
        """Who speaks each line (core/analysis.py), unless the project knows already: the
        analysis runs when the project has none, or lines came that it never saw."""
        self._separate(tick)
        keeper = self.keeper
        project = keeper.project if keeper else None
        lines = {ln.index: keeper.line(ln.index) for ln in self.lines} if keeper else {}
        known = project is not None and project.analysis is not None
        if known and not self.analysis_only and all(ln.speaker_source for ln in lines.values()):
            for plan in self.lines:
                plan.speaker = lines[plan.index].speaker_id or plan.speaker
            self.others = {}
            self._listen_to_original()  # word times are not kept: the spans need them again
            return
        analysis = analyze_speakers(
            [ln.cue for ln in self.lines],
            self._dialogue16k(),
            self.options.model_dir or default_model_dir(),
            device=resolve_device(self.options.device),
            num_speakers=self.settings.speakers,
            progress=tick,
            cancelled=lambda: self.cancel.cancelled,
            embedder_factory=self.embedder_factory,
            min_silhouette=self.settings.min_silhouette,
        )
        self.others = analysis.others
        self.warn(Notice(None, "speakers", f"speakers: {analysis.detail}"))
        for plan in self.lines:
            line = lines.get(plan.index)
            if line is not None and line.speaker_source == "user":
                plan.speaker = line.speaker_id or plan.speaker
                continue
            plan.speaker = analysis.speakers[plan.index]
            flag = analysis.flags.get(plan.index)
            if flag:
                self.warn(Notice(plan.index, "speaker", flag))
            if line is not None:
                line.speaker_id = plan.speaker
                line.speaker_source = analysis.sources[plan.index]
                line.speaker_flag = flag
        if keeper:
            keeper.record_analysis(analysis.to_dict(), analysis.names)
        self._listen_to_original()

    def _separate(self, tick) -> None:
        """The dialogue and background stems of the master (core/separation.py) when the
        background is `separate`, or `auto` with a separation model installed; cached in
        the work folder. Without a model, `separate` says so and the mix ducks."""
        mode = self.settings.background
        wanted = mode in (BackgroundMode.AUTO, BackgroundMode.SEPARATE)
        self.background = BackgroundMode.DUCK if wanted else mode
        if not wanted:
            self.separation_detail = f"not run (background {mode.value})"
            return
        if self.extracted is None:
            self.separation_detail = "not run (the video has no audio)"
            return
        try:
            model = find_model(self.options.model_dir or default_model_dir())
            with writing_to(self.work, "the separated stems"):
                self.stems = separate_master(
                    self.extracted.master_path,
                    model,
                    self.work / "stems",
                    device=resolve_device(self.options.device),
                    layout=self.extracted.channel_layout,
                    progress=tick,
                    cancelled=lambda: self.cancel.cancelled,
                )
        except SeparationUnavailable as exc:
            self.separation_detail = f"not run: {exc}"
            # Not asked for (auto) and nothing installed: ducking is simply the default.
            if mode is BackgroundMode.SEPARATE or not isinstance(exc, SeparationNotInstalled):
                self.warn(
                    Notice(
                        None,
                        "separation-off",
                        f"the original is ducked under the dub, not separated: {exc}",
                    )
                )
            return
        self.background = BackgroundMode.SEPARATE
        # Prompts, emotion references, speakers and word times: from the dialogue alone.
        self.mono22k = self.stems.load_dialogue_mono22k()
        self.separation_detail = f"dialogue and background split by {self.stems.model}" + (
            " (stems from the cache)" if self.stems.cached else ""
        )
        self.warn(Notice(None, "separation", f"separation: {self.separation_detail}"))

    def _dialogue16k(self) -> np.ndarray | None:
        """The original's speech at 16 kHz mono: the dialogue stem when there is one."""
        if self.stems is not None:
            return self.stems.load_dialogue_mono16k()
        return self.extracted.load_mono16k() if self.extracted else None

    def listener(self) -> Listener | None:
        """The whisper model of the model directory (whisper/), loaded once; None, with one
        notice saying why, when it is not installed."""
        if self._listener is False:
            folder = (self.options.model_dir or default_model_dir()) / "whisper"
            problem = whisper_folder_problem(folder)
            if problem is None:
                try:
                    self._listener = Listener.load(
                        folder, device=resolve_device(self.options.device)
                    )
                except ListenerUnavailable as exc:
                    problem = str(exc)
            if problem is not None:
                self._listener = None
                self.warn(Notice(None, "listening-off", f"no listening check: {problem}"))
        return self._listener or None

    def _listen_to_original(self) -> None:
        """Word times of the original, when the spans are to follow the speech."""
        if self.settings.span != "speech" or self.extracted is None:
            return
        listener = self.listener()
        if listener is None:
            self.warn(Notice(None, "span", "spans follow the subtitles: no speech recogniser"))
            return
        self.words = listener.words(self._dialogue16k())

    def _plan(self, tick) -> None:
        """Each line's span and counts; spans grow into the following silence when asked."""
        assert self.inputs is not None
        settings, cues = self.settings, [ln.cue for ln in self.lines]
        ext, end_ms = settings.extend_into_silence_ms, round(self.inputs.media.duration_s * 1000)
        silences = None
        if ext != EXTEND_AUTO and ext > 0 and self.extracted is not None:
            silences = silence_until_ms(
                self.extracted.load_mono16k(), 16000, [c.end_ms for c in cues]
            )
        if self.words:  # the lips move for the speech, not for the subtitle's lead-in
            cues = [self._speech_cue(c) for c in cues]
        if ext == EXTEND_AUTO:  # only what a too-fast line needs (core/borrow_silence.py)
            planned = plan_borrowing(cues, [ln.speaker for ln in self.lines], words=self.words,
                                     audio16k=self._dialogue16k(), video_end_ms=end_ms)  # fmt: skip
        else:
            planned = plan_lines(
                cues, silences_until_ms=silences, extend_ms=ext, video_end_ms=end_ms
            )
        for line, timing in zip(self.lines, planned, strict=True):
            line.timing = timing
            why = line_problem(line.cue.text, timing.duration_s, language=timing.language,
                               mode=line.mode, engine=self.engine)  # fmt: skip
            if why:  # refused now: never sent to the engine (core/line_limits.py)
                line.error = f"not dubbed: {why}"
                self.warn(Notice(line.index, "too-long", line.error))
            elif timing.flag:
                self.warn(Notice(line.index, "pace", timing.flag))

    def choose_prompts(self) -> dict[str, VoicePrompt]:
        """One prompt per speaker: the editor's file, else the cleanest stretches of that
        speaker's own lines (their scores and reasons go into the project)."""
        assert self.inputs is not None
        speakers = {ln.speaker for ln in self.lines}
        preflight.check_voice_names(self.voice_files, speakers)
        prompts = {sid: p for sid, p in self.voice_files.items() if sid in speakers}
        project = self.keeper.project if self.keeper else None
        for sid in sorted(speakers - set(prompts)):
            assert self.mono22k is not None  # read refused this case up front
            own = [ln.cue for ln in self.lines if ln.speaker == sid]
            # The editor may have chosen the lines the prompt is cut from.
            speaker = project.speaker(sid) if project else None
            chosen = set(speaker.prompt_lines) if speaker else set()
            if chosen and self.keeper:
                picked = [c for c in own if (ln := self.keeper.line(c.index)) and ln.id in chosen]
                own = picked or own
            prompts[sid] = cut_prompt(
                sid,
                self.mono22k,
                SAMPLE_RATE,
                own,
                self.inputs.subtitles.cues,
                others=self.others.get(sid),
            )
        self._transcribe_prompts(prompts)
        if self.keeper:
            self.keeper.record_prompts(prompts)
        return prompts

    def _transcribe_prompts(self, prompts: dict[str, VoicePrompt]) -> None:
        """What each prompt says (faster-whisper, its language detected), so an engine that
        clones better knowing the prompt's words gets them (`VoicePrompt.prompt_text`);
        kept with the speaker in the project and heard again only when the prompt changes.
        Without the whisper model the prompts go without."""
        project = self.keeper.project if self.keeper else None
        todo = []
        for sid, prompt in sorted(prompts.items()):
            speaker = project.speaker(sid) if project else None
            if speaker is not None and speaker.prompt_text is not None:
                if speaker.prompt_text_key == prompt.key:
                    prompt.prompt_text = speaker.prompt_text
                    continue
            todo.append(prompt)
        listener = self.listener() if todo else None
        for prompt in todo if listener is not None else []:
            self.cancel.check()
            audio16k = resample_to_length(prompt.audio, prompt.sample_rate, 16000)
            prompt.prompt_text = listener.transcript(audio16k).strip()

    def _speech_cue(self, cue: Cue) -> Cue:
        span = speech_span(self.words, cue.start_ms, cue.end_ms)
        if span is None or span[1] - span[0] < 300:
            return cue
        return dataclasses.replace(cue, start_ms=span[0], end_ms=span[1])

    def _voices(self, tick) -> None:
        assert self.engine is not None
        prompts = self.prompts = self.choose_prompts()
        for n, (sid, prompt) in enumerate(sorted(prompts.items())):
            tick(n, len(prompts))
            self.cancel.check()
            transcript = getattr(prompt, "prompt_text", None)
            if transcript and self.engine.capabilities.prompt_transcript:
                self.voices[sid] = self.engine.prepare_voice(
                    prompt.audio, prompt.sample_rate, transcript=transcript
                )
            else:
                self.voices[sid] = self.engine.prepare_voice(prompt.audio, prompt.sample_rate)

    def _render(self, tick) -> None:
        assert self.engine is not None
        options, settings, keeper = self.options, self.settings, self.keeper
        sampling = options.sampling
        if settings.preset is not QualityPreset.FINAL:  # final: the sampling as given
            steps, prompt_s, guidance = PRESET_SAMPLING[settings.preset]
            sampling = dataclasses.replace(
                sampling, diffusion_steps=steps, flow_prompt_s=prompt_s, cfg_rate=guidance
            )
        if settings.flow_steps is not None:
            sampling = dataclasses.replace(sampling, diffusion_steps=settings.flow_steps)
        sampling = dataclasses.replace(sampling, stop_window=settings.stop_window)
        live = [ln for ln in self.lines if ln.error is None]  # the refused stay silent
        for line in live:
            assert line.timing is not None
            own = keeper.line_emotion(line.index) if keeper else None
            line.request = SynthesisRequest(
                text=line.cue.text,
                voice=self.voices[line.speaker],
                emotion=self._honoured(
                    line.index,
                    emotion_for(line.cue, own, settings.emotion, self.mono22k, self.warn),
                ),
                duration_s=line.timing.samples_22k / SAMPLE_RATE,
                mode=line.mode,
                sampling=sampling,
                seed=line.seed,
                language=self._spoken_language(line),
            )
        self._say_unhonoured()

        def arrived(pos: int, take: Take) -> None:
            line = live[pos]
            line.take = take
            if keeper:
                keeper.record_take(line.index, take, cache.path(take.key), line.mode, line.seed)
            self.events.line_rendered(line.index, take)

        with writing_to(self.work, "the rendered lines"):
            cache = TakeCache(self.work / "takes")
            outcome = render(
                self.engine,
                [ln.request for ln in live],
                cache,
                # The engine's own batch: cancel and progress then land per batch it renders.
                batch_size=min(options.batch_size, self.engine.max_batch),
                progress=tick,
                cancel=self.cancel,
                on_take=arrived,
            )
        for pos, line in enumerate(live):
            line.take = outcome.takes[pos]
            line.error = outcome.errors.get(pos)
        self._listen_to_takes(cache)
        for line in live:
            for note in line.take.notes if line.take else []:
                self.warn(Notice(line.index, "engine-note", note))
            if line.error:
                self.warn(
                    Notice(line.index, "not-rendered", f"not rendered ({line.error}); left silent")
                )

    def _honoured(self, index: int, emotion: EmotionSpec) -> EmotionSpec:
        """The line's emotion if the engine honours its kind, else the voice's own
        delivery (the line is noted: the user is told, not left guessing)."""
        assert self.engine is not None
        if emotion.source in self.engine.capabilities.emotion_inputs:
            return emotion
        self._unhonoured.setdefault(emotion.source, []).append(index)
        return EmotionSpec()

    def _say_unhonoured(self) -> None:
        from models.registry import ENGINES

        entry = ENGINES.get(self.choice.name) if self.choice else None
        for source, lines in sorted(self._unhonoured.items()):
            said = entry.missing_emotion.get(source) if entry else None
            title = self.choice.title if self.choice else "the engine"
            said = said or f"{title} does not honour {source.value} emotions"
            shown = ", ".join(str(i) for i in lines[:10]) + (" …" if len(lines) > 10 else "")
            self.warn(Notice(None, "emotion-ignored", f"{said} (line(s) {shown})"))
        self._unhonoured = {}

    def _listen_to_takes(self, cache: TakeCache) -> None:
        """The listening check: each take transcribed in the dub's language and scored
        against its text; a take over the limit is flagged and, with `retakes`, rendered
        again with new seeds, keeping the best: the lowest error rate, then the voice
        closest to the speaker's prompt."""
        listener = self.listener() if any(ln.take for ln in self.lines) else None
        if listener is None:
            return
        settings = self.settings
        language = _check_language(settings.language, self.inputs)
        for line in self.lines:
            if line.take is not None:
                line.check = check_take(
                    listener, line.take.audio, line.take.sample_rate, line.cue.text, language
                )
        # Suspected cuts whose last words are not heard come first (core/cut_check.py).
        failing = retake_first(self.lines, settings.max_error_rate, language)
        for attempt in range(1, settings.retakes + 1):
            if not failing:
                break
            self.cancel.check()
            requests = [
                dataclasses.replace(ln.request, seed=ln.seed + RETAKE_SEED_STEP * attempt)
                for ln in failing
            ]
            outcome = render(self.engine, requests, cache, cancel=self.cancel)
            still = []
            for line, take in zip(failing, outcome.takes, strict=True):
                line.takes_tried += 1
                if take is None:
                    still.append(line)
                    continue
                check = check_take(listener, take.audio, take.sample_rate, line.cue.text, language)
                if self._better_take(line, take, check):  # the better take is kept
                    line.take, line.check = take, check
                    if self.keeper:
                        self.keeper.record_take(
                            line.index,
                            take,
                            cache.path(take.key),
                            line.mode,
                            line.seed + RETAKE_SEED_STEP * attempt,
                        )
                    self.events.line_rendered(line.index, take)
                if needs_retake(line, settings.max_error_rate, language):
                    still.append(line)
            failing = still
        self._check_voices()
        for line in failing:
            self.warn(
                Notice(
                    line.index,
                    "listening",
                    f'the take says "{line.check.transcript[:60]}" '
                    f"({line.check.error_rate:.0%} off its text, after {line.takes_tried} "
                    f"take(s)){cut_note(line, language)}; listen to it",
                )
            )

    def _better_take(self, line: LinePlan, take: Take, check: TakeCheck) -> bool:
        return better_take(line, take, check, self._voice_checker)  # core/retakes.py

    def _voice_checker(self) -> VoiceCheck | None:
        """The speaker model for voice similarity, loaded once; None without it (said)."""
        if self._voice_check is False:
            model_dir = self.options.model_dir or default_model_dir()
            device = resolve_device(self.options.device)
            self._voice_check, why = open_voice_check(
                load_line_embedder, model_dir, device, self.prompts
            )
            if why:
                self.warn(Notice(None, "voice-check-off", f"no voice similarity: {why}"))
        return self._voice_check or None

    def _check_voices(self) -> None:
        """Each kept take's speaker similarity to its prompt (CAMPPlus cosine), and both
        figures into the project with the take."""
        self._voice_checker()
        for line in self.lines:
            if line.take is None or line.check is None:
                continue
            if self._voice_check is not None:
                line.similarity = self._voice_check.similarity(
                    line.speaker, line.take.audio, line.take.sample_rate
                )
            if self.keeper:
                self.keeper.record_check(
                    line.index,
                    line.take.key,
                    {
                        "error_rate": round(line.check.error_rate, 3),
                        "heard": line.check.transcript,
                        "voice_similarity": line.similarity,
                    },
                )

    def _mix(self, tick) -> None:
        assert self.inputs is not None
        options, settings, extracted = self.options, self.settings, self.extracted
        clips = [
            Clip(
                start_ms=ln.timing.span.start_ms,
                audio=ln.take.audio,
                sample_rate=ln.take.sample_rate,  # the engine's: 22.05 kHz, VoxCPM2 48 kHz
                line_id=ln.index,
            )
            for ln in self.lines
            if ln.take is not None and ln.timing is not None
        ]
        if self.stems is not None:  # the music and effects, without the original actors
            bed = self.stems.background_path
        else:
            bed = extracted.master_path if extracted else None
        layout = extracted.channel_layout if extracted else None
        self.mix_settings = mix_settings_for(  # --loudness (core/loudness_presets.py)
            options.loudness, MixSettings(background=self.background, duck_db=settings.duck_db),
            extracted.master_path if extracted else None, layout,
        )  # fmt: skip
        with writing_to(self.work, "the mix"):  # block by block, from and to disk
            mix = mix_to_file(
                clips,
                self.inputs.media.duration_s,
                bed,
                self.work / "mix.wav",
                self.mix_settings,
                layout,
                dub_path=Path(options.dub_wav) if options.dub_wav else None,
                progress=tick,
            )
        self.placements = {p.line_id: p.start_sample for p in mix.placements}
        self.mix_path = mix.path
        self.file_mix, self.mix_clips, self.mix_bed = mix, clips, bed  # for the deliver stage
        if options.stems_dir:
            with writing_to(Path(options.stems_dir), "the stems"):
                Path(options.stems_dir).mkdir(parents=True, exist_ok=True)
                # Named by cue number, so they match the subtitles.
                write_stems(mix, clips, Path(options.stems_dir), name="cue{line_id:04d}.wav")

    def _export(self, tick) -> None:
        assert self.inputs is not None and self.mix_path is not None
        options, settings = self.options, self.settings
        subtitles = None
        if settings.subtitle_track:
            subtitles = write_clean_srt([ln.cue for ln in self.lines], self.work / "subtitles.srt")
        export_video(
            self.video,
            self.mix_path,
            Path(options.output),
            ExportOptions(
                dub_language=to_iso639_2(settings.language)
                or language_from_filename(self.inputs.subtitles.path)
                or "und",
                include_original=settings.keep_original_track and self.extracted is not None,
                subtitles=subtitles,
                on_dropped=lambda what: self.warn(Notice(None, "export", what)),
            ),
        )

    def _deliver(self, tick) -> None:
        self.delivery = deliver_stage(self, tick)  # core/deliver/stage.py

    def _report(self, tick) -> None:
        reports = [self._line_report(ln) for ln in self.lines]
        wall = time.perf_counter() - self._t_start
        self.result = DubReport(
            self.video,
            Path(self.options.output),
            reports,
            self.warnings,
            wall,
            dict(self.runner.seconds),
            delivery=self.delivery,
        )
        if self.options.report_path:
            write_report(self.result, Path(self.options.report_path))

    def _line_report(self, line: LinePlan) -> LineReport:
        t, take = line.timing, line.take
        assert t is not None  # a line refused at planning has no request
        check = line.check
        flagged = check is not None and check.error_rate > self.settings.max_error_rate
        return LineReport(
            error_rate=None if check is None else round(check.error_rate, 3),
            heard=None if check is None else check.transcript,
            check_flag=f"{check.error_rate:.0%} off its text" if flagged else None,
            takes_tried=line.takes_tried,
            voice_similarity=line.similarity,
            index=line.index,
            speaker=line.speaker,
            text=line.cue.text,
            span_start_ms=t.span.start_ms,
            span_end_ms=t.span.end_ms,
            duration_mode=line.mode.value,
            target_samples_22k=line.request.target_samples() if line.request else t.samples_22k,
            rendered_samples_22k=(
                round(len(take.audio) * SAMPLE_RATE / take.sample_rate) if take else None
            ),
            engine=self.choice.name if self.choice else None,
            sample_rate=take.sample_rate if take else None,
            rendered_samples=len(take.audio) if take else None,
            **fit_fields(take.fit if take else None),  # core/report.py
            placed_at_48k=self.placements.get(line.index),
            cached=bool(take and take.cached),
            pace=round(t.pace, 3) if np.isfinite(t.pace) else None,
            flag=take.flagged if take else None,
            pace_flag=t.flag,
            error=line.error,
            timings=dict(take.timings) if take else {},
        )


def dub(
    video: Path,
    options: DubOptions,
    *,
    engine_factory: EngineFactory = default_engine_factory,
    progress: ProgressFn | None = None,
    events: JobEvents | None = None,
    cancel: CancelToken | None = None,
    project: proj.Project | None = None,
) -> DubReport:
    """Run one dub job (see DubJob); `progress(stage, done, total)` is the simple listener."""
    if events is None and progress is not None:
        events = ProgressEvents(progress)
    job = DubJob(
        video, options, engine_factory=engine_factory, events=events, cancel=cancel, project=project
    )
    return job.run()
