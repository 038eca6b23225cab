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

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core import project as proj
from core.audio.original_audio import ExtractedAudio
from core.audio.separation import Stems
from core.deliver.dub_report import DubReport, LineReport, write_report
from core.deliver.stage import deliver_stage
from core.disk_space import writing_to
from core.errors import EngineUnavailable, InputError, OptionError
from core.job import analyze as analyze_stage
from core.job import preflight
from core.job.engine import check_language, dub_language, load_dub_engine, spoken_language
from core.job.events import STAGE_WEIGHTS, STAGES, STEPS, JobEvents, ProgressEvents, ProgressFn
from core.job.export import export_dub
from core.job.extract import extract
from core.job.inputs import Inputs, read_inputs
from core.job.lines import RETAKE_SEED_STEP, LinePlan
from core.job.listen import check_and_retake, failing_notice
from core.job.mix import mix_dub, write_line_stems
from core.job.options import DubOptions, default_work_dir
from core.job.plan import plan_spans, speech_cue
from core.job.project_keeper import ProjectKeeper
from core.job.read import dubbable_cues, keep_inputs, line_plans
from core.job.render import honoured, sampling_for, unhonoured_notices
from core.job.report import line_report
from core.job.runner import StageRunner
from core.job.voices import cut_prompts, prepare_voices, transcribe_prompts
from core.lines.emotion import MIN_REFERENCE, emotion_for, emotion_spec
from core.lines.listening import Listener, ListenerUnavailable, TakeCheck, whisper_folder_problem
from core.lines.render import CancelToken, Take, TakeCache, render
from core.lines.retakes import better_take, open_voice_check
from core.models.engines import (
    TEXT_EMOTION_MISSING,
    EngineChoice,
    EngineFactory,
    RegistryFactory,
    choose_engine,
    default_engine_factory,
    resolve_device,
    text_emotion_available,
)
from core.notices import Notice
from core.settings import BackgroundMode, DefaultEmotion, DubSettings
from core.speakers.analysis import analyze_speakers
from core.speakers.embedding import VoiceCheck, load_line_embedder
from core.speakers.prompt_choice import Span
from core.speakers.voices import VoicePrompt, assign_speakers, speaker_names
from core.subtitles.read import Cue
from models.contract import (
    SAMPLE_RATE,
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
    "ProgressFn",
    "LinePlan",
    "OptionError",
    "RETAKE_SEED_STEP",
    "StageRunner",
    "default_engine_factory",
    "default_work_dir",
    "dub",
    "emotion_spec",
    "read_inputs",
    "text_emotion_available",
]


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
        cues = dubbable_cues(inputs)
        if not self.analysis_only:
            # The engine for the dub's language, before anything is saved or loaded: a
            # language no installed engine speaks (or --engine one that cannot) stops here.
            self.route(cues)
        speakers = assign_speakers(cues)
        self.voice_files = preflight.read_voice_files(
            cues, speakers, options, inputs.media.has_audio
        )
        if not self.analysis_only:
            take_rate = preflight.take_rate_of(self.route(cues).factory, options.model_dir)
            preflight.check_disk(video, inputs, cues, options, self.work, take_rate)
        if self.keeper:
            output = None if self.analysis_only else out
            keep_inputs(self.keeper, video, inputs, output, settings, options)
            self.keeper.sync_lines(cues, speakers, speaker_names(cues), options.voices)
        preflight.check_line_emotions(
            cues,
            self.keeper,
            self.engine_factory if self.analysis_only else self.route(cues).factory,
            options,
        )
        self.lines = line_plans(cues, speakers, self.keeper, settings)

    def dub_language(self, cues: list[Cue] | None = None) -> str | None:
        """The dub's language (ISO 639-1): --language, else the subtitle name
        (movie.de.srt), else what the lines' text is written in; None when unsure."""
        texts = [c.text for c in (cues if cues is not None else [ln.cue for ln in self.lines])]
        return dub_language(self.settings.language, self.inputs, texts)

    def route(self, cues: list[Cue] | None = None) -> EngineChoice:
        """The engine that speaks the dub's language (core/models/engines.py), chosen once: a
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
        return spoken_language(line, self.choice, self.engine)  # core/job/engine.py

    def _engine(self, tick) -> None:
        self.engine, self.choice = load_dub_engine(self.route(), self.options, self.warn)

    def _extract(self, tick) -> None:
        self.extracted = extract(self.video, self.work, self.warn, tick)
        if self.extracted is not None:
            self.mono22k = self.extracted.load_mono22k()

    def _analyze(self, tick) -> None:
        """Who speaks each line (core/speakers/analysis.py), unless the project knows already: the
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
        analyze_stage.take_speakers(self.lines, keeper, analysis, self.warn)
        self._listen_to_original()

    def _separate(self, tick) -> None:
        """The dialogue and background stems of the master (core/job/analyze.py)."""
        mode = self.settings.background
        # Until it is known, a wanted separation mixes as a duck (a cancel leaves it so).
        if mode in (BackgroundMode.AUTO, BackgroundMode.SEPARATE):
            self.background = BackgroundMode.DUCK
        split = analyze_stage.separate(
            mode, self.extracted, self.options, self.work, tick, self.cancel, self.warn
        )
        self.background, self.separation_detail = split.background, split.detail
        if split.stems is not None:
            self.stems = split.stems
            self.mono22k = split.dialogue22k

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
        plan_spans(self.lines, self.settings, self.inputs.media.duration_s, self.extracted,
                   self.words, self._dialogue16k, self.engine, self.warn)  # fmt: skip

    def choose_prompts(self) -> dict[str, VoicePrompt]:
        """One prompt per speaker: the editor's file, else the cleanest stretches of that
        speaker's own lines (their scores and reasons go into the project)."""
        assert self.inputs is not None
        prompts = cut_prompts(self.lines, self.voice_files, self.keeper, self.mono22k,
                              self.inputs, self.others)  # fmt: skip
        self._transcribe_prompts(prompts)
        if self.keeper:
            self.keeper.record_prompts(prompts)
        return prompts

    def _transcribe_prompts(self, prompts: dict[str, VoicePrompt]) -> None:
        project = self.keeper.project if self.keeper else None
        transcribe_prompts(prompts, project, self.listener, self.cancel)  # core/job/voices.py

    def _speech_cue(self, cue: Cue) -> Cue:
        return speech_cue(self.words, cue)

    def _voices(self, tick) -> None:
        assert self.engine is not None
        self.prompts = self.choose_prompts()
        prepare_voices(self.engine, self.prompts, tick, self.cancel, into=self.voices)

    def _render(self, tick) -> None:
        assert self.engine is not None
        options, settings, keeper = self.options, self.settings, self.keeper
        sampling = sampling_for(options, settings)
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
                # A pool of remote engines takes every line at once: it spreads them over its
                # workers, hands each back as it lands and stops on a cancel, and no worker
                # idles at the end of a chunk.
                batch_size=len(live)
                if getattr(self.engine, "spreads_requests", False)
                else min(options.batch_size, self.engine.max_batch),
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
        assert self.engine is not None
        return honoured(index, emotion, self.engine, self._unhonoured)  # core/job/render.py

    def _say_unhonoured(self) -> None:
        for notice in unhonoured_notices(self._unhonoured, self.choice):
            self.warn(notice)
        self._unhonoured = {}

    def _listen_to_takes(self, cache: TakeCache) -> None:
        """The listening check: each take transcribed in the dub's language and scored
        against its text; a take over the limit is flagged and, with `retakes`, rendered
        again with new seeds, keeping the best: the lowest error rate, then the voice
        closest to the speaker's prompt."""
        listener = self.listener() if any(ln.take for ln in self.lines) else None
        if listener is None:
            return
        language = check_language(self.settings.language, self.inputs)
        failing = check_and_retake(self.lines, listener, self.settings, language, self.engine,
                                   cache, self.cancel, self.keeper, self.events,
                                   self._better_take)  # fmt: skip
        self._check_voices()
        for line in failing:
            self.warn(failing_notice(line, language))

    def _better_take(self, line: LinePlan, take: Take, check: TakeCheck) -> bool:
        return better_take(line, take, check, self._voice_checker)  # core/lines/retakes.py

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
        mixed = mix_dub(self.lines, self.inputs.media.duration_s, self.extracted, self.stems,
                        self.background, self.settings, self.options, self.work, tick)  # fmt: skip
        self.mix_settings = mixed.settings
        self.placements = {p.line_id: p.start_sample for p in mixed.mix.placements}
        self.mix_path = mixed.mix.path
        self.file_mix, self.mix_clips, self.mix_bed = mixed.mix, mixed.clips, mixed.bed  # deliver
        if self.options.stems_dir:
            write_line_stems(mixed, Path(self.options.stems_dir))

    def _export(self, tick) -> None:
        assert self.inputs is not None and self.mix_path is not None
        export_dub(self.video, self.mix_path, Path(self.options.output), self.lines, self.inputs,
                   self.settings, self.extracted is not None, self.work, self.warn,
                   spoken=self.dub_language(), tick=tick)  # fmt: skip

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
        engine = self.choice.name if self.choice else None
        return line_report(line, self.settings.max_error_rate, engine,
                           self.placements.get(line.index))  # fmt: skip


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
