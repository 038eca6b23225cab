"""`dubsmith` command line: dub a video, or inspect what Dubsmith reads from one.

Exit codes (also in README.md):
  0 success; 1 the job failed (batch: some job failed); 2 bad command line; 3 input
  unreadable (video or subtitles); 4 model files missing; 5 some lines could not be
  rendered (the dub was written, those lines are silent); 130 cancelled (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import asdict
from pathlib import Path

from app.cluster_cli import add_cluster_flags, run_on_cluster
from app.stdout_pipe import until_reader_leaves
from models.quiet import quiet_transformers

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_MODELS = 4
EXIT_PARTIAL = 5
EXIT_CANCELLED = 130


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="dubsmith",
        description="Dub a video into the language of its subtitles, in the original voices.",
        epilog="Exit codes: 0 ok, 1 failed, 2 usage, 3 unreadable input, 4 models missing, "
        "5 some lines not rendered, 130 cancelled.",
    )
    sub = ap.add_subparsers(dest="command", required=True)

    d = sub.add_parser("dub", help="dub a video")
    d.add_argument("video", type=Path)
    d.add_argument(
        "subs", type=Path, nargs="?", help="subtitles (default: found next to the video)"
    )
    d.add_argument("-o", "--output", type=Path, required=True, help="output video (.mp4 or .mkv)")
    d.add_argument("--model-dir", type=Path, default=None, help="folder holding indextts2/")
    _add_settings(d)
    add_cluster_flags(d)
    d.add_argument("--stems", type=Path, default=None, metavar="DIR", help="write per-line WAVs")
    d.add_argument("--dub-wav", type=Path, default=None, help="write the dub alone as a WAV")
    d.add_argument("--report", type=Path, default=None, metavar="REPORT.json")
    d.add_argument("--work-dir", type=Path, default=None, help=argparse.SUPPRESS)
    d.add_argument("--no-progress", action="store_true")
    d.add_argument("--wait", action="store_true", help="if another run uses this video, wait")

    b = sub.add_parser(
        "batch",
        help="dub many videos: a folder of videos (subtitles beside them) or a JSON/CSV job list",
    )
    b.add_argument("jobs", type=Path, help="folder of videos, or jobs.json / jobs.csv")
    b.add_argument("-o", "--outdir", type=Path, required=True, help="folder for the dubbed videos")
    b.add_argument("--model-dir", type=Path, default=None, help="folder holding indextts2/")
    _add_settings(b)
    add_cluster_flags(b)
    b.add_argument("--report", type=Path, default=None, metavar="REPORT.json")
    b.add_argument("--resume", action="store_true", help="skip the jobs finished before")
    b.add_argument("--work-dir", type=Path, default=None, help=argparse.SUPPRESS)
    b.add_argument("--no-progress", action="store_true")

    a = sub.add_parser("analyze", help="find who speaks each line and choose each voice's prompt")
    a.add_argument("video", type=Path)
    a.add_argument(
        "subs", type=Path, nargs="?", help="subtitles (default: found next to the video)"
    )
    a.add_argument("--model-dir", type=Path, default=None, help="folder holding indextts2/")
    _add_settings(a)
    a.add_argument("--work-dir", type=Path, default=None, help=argparse.SUPPRESS)
    a.add_argument("--no-progress", action="store_true")

    m = sub.add_parser(
        "models", help="the model folder: list what is there, download what is not, verify"
    )
    m.add_argument("--model-dir", type=Path, default=None, help="folder holding indextts2/")
    msub = m.add_subparsers(dest="models_command", metavar="{list,download,verify}")
    # SUPPRESS: `models --model-dir D list` and `models list --model-dir D` both work.
    where = dict(type=Path, default=argparse.SUPPRESS, help="folder holding indextts2/")
    ml = msub.add_parser("list", help="what is installed, missing or damaged (the default)")
    ml.add_argument("--model-dir", **where)
    md = msub.add_parser(
        "download", help="fetch models from Hugging Face (resumable; checked on arrival)"
    )
    md.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="models (see `models list`), or required (the default), optional, all",
    )
    md.add_argument("--model-dir", **where)
    md.add_argument("--token", help="Hugging Face token for gated models (default: HF_TOKEN)")
    md.add_argument("--endpoint", help="a Hugging Face mirror (default: HF_ENDPOINT)")
    md.add_argument("--force", action="store_true", help="fetch again what is already there")
    md.add_argument("--no-progress", action="store_true")
    mv = msub.add_parser("verify", help="check sizes and sha256 checksums, offline")
    mv.add_argument("--model-dir", **where)
    mv.add_argument("--quick", action="store_true", help="sizes and headers only (no checksums)")
    mv.add_argument(
        "--allow-custom", action="store_true", help="accept checkpoints other than the release"
    )

    dm = sub.add_parser("demo", help="make a short two-speaker sample video and dub it")
    dm.add_argument(
        "-o", "--output-dir", type=Path, default=Path("dubsmith-demo"), metavar="DIR",
        help="where the sample, its subtitles and the dub go (default: ./dubsmith-demo)",
    )  # fmt: skip
    dm.add_argument("--model-dir", type=Path, default=None, help="folder holding indextts2/")
    dm.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    dm.add_argument("--flow-steps", type=int, help="diffusion steps of the flow model (25)")
    dm.add_argument("--work-dir", type=Path, default=None, help=argparse.SUPPRESS)
    dm.add_argument("--no-progress", action="store_true")

    i = sub.add_parser("inspect", help="print what Dubsmith reads from a video or subtitle file")
    i.add_argument("path", type=Path)
    i.add_argument("--json", action="store_true")
    return ap


BOOL = argparse.BooleanOptionalAction
INFO_KINDS = frozenset({"device", "precision", "speakers", "listening-off", "engine", "separation"})
# Flags that are dub settings: not given, they leave the project's saved setting (what the
# last dub of this video used, else the default) as it is.
SETTING_FLAGS = {
    "background": "background",
    "duck_db": "duck_db",
    "keep_original_track": "keep_original_track",
    "subtitle_track": "subtitle_track",
    "emotion": "emotion",
    "mode": "duration_mode",
    "stop_window": "stop_window",
    "seed": "seed",
    "language": "language",
    "flow_steps": "flow_steps",
    "preset": "preset",
    "merge_split_sentences": "merge_split_sentences",
    "extend_into_silence": "extend_into_silence_ms",
    "speakers": "speakers",
    "min_silhouette": "min_silhouette",
    "span": "span",
    "retakes": "retakes",
    "engine": "engine",
}


FIELD_FLAGS = {
    "output": "-o",
    "dub_wav": "--dub-wav",
    "report_path": "--report",
    "stems_dir": "--stems",
    "deliver_dir": "--deliver",
}


def _add_settings(d: argparse.ArgumentParser) -> None:
    from core.loudness_presets import DEFAULT_PRESET, PRESETS
    from core.settings import extend_into_silence

    d.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    d.add_argument("--loudness", choices=tuple(PRESETS), default=DEFAULT_PRESET,
                   help="the mix's loudness spec: " + "; ".join(f"{k}: {p.summary}"
                                                               for k, p in PRESETS.items()))
    d.add_argument("--deliver", type=Path, metavar="DIR",
                   help="also write timelines (.otio/.xml/.aaf), 24-bit stems, QC report")
    d.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        default="auto",
        help="number format of the heavy stages (auto: what this CPU or GPU does fast)",
    )
    d.add_argument(
        "--preset",
        choices=("final", "draft"),
        help="flow model work per line: final (25 steps, whole prompt) or draft (faster)",
    )
    d.add_argument(
        "--voice",
        action="append",
        default=[],
        metavar="SPEAKER=WAV",
        help="timbre prompt file for a speaker (repeatable)",
    )
    d.add_argument(
        "--background",
        choices=("auto", "duck", "replace", "separate"),
        help="under the dub: the original ducked, nothing, or its music and effects "
        "(separate: needs separation/); auto (default): separate when installed, else duck",
    )
    d.add_argument("--duck-db", type=float, help="how far to lower the original (dB, default -12)")
    d.add_argument("--keep-original-track", action=BOOL, help="also mux the original audio")
    d.add_argument("--subtitle-track", action=BOOL, help="also mux the subtitles")
    d.add_argument("--emotion", choices=("original", "voice"))
    d.add_argument(
        "--merge-split-sentences",
        action=BOOL,
        help="join consecutive cues of one speaker that split a sentence",
    )
    d.add_argument(
        "--extend-into-silence",
        type=extend_into_silence,
        metavar="auto|off|MS",
        help="a line runs on into the silence after its cue (never into the next): auto "
        "(default) as far as a too-fast line needs, MS at most that far, off never",
    )
    d.add_argument(
        "--mode",
        choices=("guided", "exact", "natural"),
        help="duration fit (default guided: the stop near the span's count, exact frames)",
    )
    d.add_argument(
        "--stop-window",
        type=float,
        metavar="W",
        help="guided mode: the stop allowed within (1-W)..(1+W) x the span's count (0.15)",
    )
    d.add_argument("--seed", type=int)
    d.add_argument("--flow-steps", type=int, help="diffusion steps of the flow model (25)")
    d.add_argument("--language", help="ISO 639-2 tag of the dub track (eng, fra...)")
    d.add_argument(
        "--engine",
        metavar="NAME",
        help="speech engine: indextts2, voxcpm2, ... (default: the first installed one "
        "that speaks the dub's language)",
    )
    d.add_argument(
        "--speakers", type=int, metavar="N", help="how many speakers (default: estimated)"
    )
    d.add_argument("--min-silhouette", type=float, metavar="S",
                   help="estimating speakers: how clear a split into voices must be, -1..1 "
                   "(default 0.25, a guess for CAMPPlus voices; higher: fewer voices)")  # fmt: skip
    d.add_argument(
        "--span",
        choices=("cue", "speech"),
        help="time each line by its cue, or by the speech inside it (needs whisper/)",
    )
    d.add_argument(
        "--retakes",
        type=int,
        metavar="N",
        help="render lines that fail the listening check again, up to N times (needs whisper/)",
    )


def setting_changes(args) -> dict:
    """The dub settings given on the command line (and only those)."""
    return {key: getattr(args, flag) for flag, key in SETTING_FLAGS.items()}


def _err(msg: str) -> None:
    print(f"dubsmith: {msg}", file=sys.stderr)


class _Bars:
    """One tqdm bar per pipeline step, on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.step = None

    # Stages that take no time worth a bar on the terminal.
    QUIET = frozenset({"analyze", "plan", "report"})

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self.enabled or step in self.QUIET:
            return
        if not sys.stderr.isatty():  # a log: one line per stage, not a redrawn bar
            if step != self.step:
                self.step = step
                print(f"{step}...", file=sys.stderr)
            return
        from tqdm import tqdm

        if step != self.step:
            self.close()
            self.step = step
            self.bar = tqdm(
                total=max(total, 1),
                desc=f"{step:8s}",
                unit="line" if step == "render" else "step",
                file=sys.stderr,
                leave=True,
            )
        self.bar.total = max(total, 1)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _exit_code(exc: BaseException) -> tuple[int, str]:
    """Known failures map to exit codes; anything else (MediaError, ExportError, OSError
    such as a full disk) is still one clear line, never a traceback."""
    from core.media import MediaError
    from core.output_guard import OutputError
    from core.pipeline import EngineUnavailable, InputError, OptionError
    from core.run_lock import RunLocked
    from core.voices import VoiceError
    from models.contract import ModelFilesMissing

    exit_codes = (
        (OptionError, EXIT_USAGE),
        (OutputError, EXIT_USAGE),  # an output-side mistake is the command line's
        (InputError, EXIT_INPUT),
        (VoiceError, EXIT_INPUT),
        (ModelFilesMissing, EXIT_MODELS),
        (EngineUnavailable, EXIT_MODELS),
    )
    code = next((c for kind, c in exit_codes if isinstance(exc, kind)), EXIT_FAILED)
    # core/ names settings and fields; the terminal user knows them by their flags.
    flag = {key: flag for flag, key in SETTING_FLAGS.items()}.get(getattr(exc, "setting", None))
    if isinstance(exc, OptionError) and flag:
        return code, f"--{flag.replace('_', '-')}: {exc}"
    if isinstance(exc, InputError) and exc.field in FIELD_FLAGS:
        return code, f"{FIELD_FLAGS[exc.field]}: {exc}"
    if isinstance(exc, VoiceError) and exc.speakers:
        flags = " ".join(f"--voice '{s}=sample.wav'" for s in exc.speakers)
        return code, f"{exc} ({flags})"
    # Our own errors carry a message written for the editor; others get their type.
    expected = code != EXIT_FAILED or isinstance(exc, MediaError | OSError | RunLocked)
    return code, (str(exc) if expected else f"{type(exc).__name__}: {exc}")


class _CtrlC:
    """First Ctrl-C cancels cleanly (finished lines kept), a second stops at once."""

    def __init__(self) -> None:
        from core.render import CancelToken

        self.token = CancelToken()

    def __enter__(self) -> _CtrlC:
        self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self.previous)

    def _handler(self, signum, frame) -> None:
        if self.token.cancelled:
            raise KeyboardInterrupt
        self.token.cancel()
        _err("cancelling after the lines being rendered... (Ctrl-C again to stop at once)")


def _template(args, output: Path):
    from core.pipeline import DubOptions
    from core.voices import parse_voice_args

    return DubOptions(
        output=output,
        changes=setting_changes(args),
        model_dir=args.model_dir,
        device=args.device,
        precision=args.precision,
        voices=parse_voice_args(args.voice),
        work_dir=args.work_dir,
        loudness=args.loudness,
        deliver_dir=args.deliver,
    )


def _print_warnings(notices, keep_all_hint: bool) -> None:
    from core.notices import group_notices

    # What the dub decided (the device, who speaks) is said plainly, not as a warning.
    for n in notices:
        if n.kind in INFO_KINDS:
            print(str(n), file=sys.stderr)
    notices = [n for n in notices if n.kind not in INFO_KINDS]
    # Grouped by kind: a 10,000-cue file must not bury the result under its warnings.
    for w in group_notices(notices):
        print(f"warning: {w}", file=sys.stderr)
    if len(notices) > 20 and keep_all_hint:
        print("warning: pass --report REPORT.json to keep every warning", file=sys.stderr)


def cmd_dub(args, engine_factory=None) -> int:
    from dataclasses import replace

    from core.pipeline import dub
    from core.render import Cancelled
    from core.run_lock import claim_run
    from core.voices import VoiceError

    try:
        options = _template(args, args.output)
    except VoiceError as exc:
        _err(str(exc))
        return EXIT_USAGE
    options = replace(
        options,
        subtitles=args.subs,
        stems_dir=args.stems,
        dub_wav=args.dub_wav,
        report_path=args.report,
    )
    bars = _Bars(not args.no_progress)
    kwargs = {"progress": bars}
    if engine_factory is not None:
        kwargs["engine_factory"] = engine_factory
    with _CtrlC() as ctrl_c:
        try:
            with claim_run(args.video, options, wait=args.wait, on_wait=_err, cancel=ctrl_c.token):
                report = dub(args.video, options, cancel=ctrl_c.token, **kwargs)
        except (Cancelled, KeyboardInterrupt):
            bars.close()
            _err(f"cancelled; {args.output} was not written (rendered lines stay cached)")
            return EXIT_CANCELLED
        except Exception as exc:
            bars.close()
            if ctrl_c.token.cancelled:  # Ctrl-C also reaches ffmpeg, which then fails
                _err(f"cancelled; {args.output} was not written")
                return EXIT_CANCELLED
            code, message = _exit_code(exc)
            _err(message)
            return code
    bars.close()
    _print_warnings(report.warnings, keep_all_hint=not args.report)
    n = len(report.lines)
    print(f"wrote {report.output} ({n} lines, {len(report.failed)} failed, {report.wall_s:.1f} s)")
    for line in _engine_summary(report):
        print(line)
    return EXIT_PARTIAL if report.failed else EXIT_OK


def _engine_summary(report) -> list[str]:
    """Which engine rendered how many lines, and for a fitted engine how the lines were
    landed in their spans (methods, the largest stretch, candidates rendered)."""
    from collections import Counter

    by_engine: dict[str, list] = {}
    for r in report.lines:
        if r.rendered_samples is not None and r.engine:
            by_engine.setdefault(r.engine, []).append(r)
    out = []
    for engine, lines in by_engine.items():
        text = f"rendered by {engine}: {len(lines)} line(s) at {lines[0].sample_rate} Hz"
        fitted = [r for r in lines if r.fit_method]
        if fitted:
            methods = Counter(r.fit_method for r in fitted)
            stretch = max(abs(r.fit_stretch or 0.0) for r in fitted)
            tried = sum(r.fit_candidates or 0 for r in fitted)
            text += (
                f"; fitted to their spans: {', '.join(f'{n} {m}' for m, n in methods.items())}"
                f", stretch at most {stretch:.1%}"
            )
            text += f", {tried} candidate(s) rendered" if tried else ""
            forced = [r for r in fitted if r.stop == "forced"]
            cuts = sum(r.suspected_cut for r in forced)
            text += f", {len(forced)} forced stop(s), {cuts} suspected cut(s)" if forced else ""
        out.append(text)
    return out


def cmd_analyze(args) -> int:
    """Speakers and prompts into the project file, and a table of what was found."""
    from dataclasses import replace

    from app.analyze_cancel import cancelled_message
    from core.pipeline import DubJob, ProgressEvents
    from core.render import Cancelled
    from core.run_lock import claim_run
    from core.voices import VoiceError

    try:
        options = replace(_template(args, args.video), subtitles=args.subs)
    except VoiceError as exc:
        _err(str(exc))
        return EXIT_USAGE
    bars = _Bars(not args.no_progress)
    with _CtrlC() as ctrl_c:
        job = DubJob(args.video, options, events=ProgressEvents(bars), cancel=ctrl_c.token)
        try:
            with claim_run(args.video, options, analysis_only=True):
                prompts = job.analyze()
        except (Cancelled, KeyboardInterrupt):
            bars.close()
            _err(cancelled_message(job))  # the job saved what it had: say what
            return EXIT_CANCELLED
        except Exception as exc:
            bars.close()
            code, message = _exit_code(exc)
            _err(message)
            return code
    bars.close()
    _print_warnings([w for w in job.warnings if w.kind not in INFO_KINDS], keep_all_hint=False)
    project = job.keeper.project
    print((project.analysis or {}).get("detail", "speakers from the subtitles"))
    print(f"separation: {job.separation_detail}")
    rows = [("speaker", "name", "lines", "speech s", "prompt s", "score")]
    for sid, prompt in sorted(prompts.items()):
        own = [ln for ln in job.lines if ln.speaker == sid]
        speaker = project.speaker(sid)
        rows.append(
            (
                sid,
                speaker.name if speaker else sid,
                str(len(own)),
                f"{sum(ln.cue.duration_ms for ln in own) / 1000:.1f}",
                f"{prompt.duration_s:.1f}",
                "file" if prompt.score is None else f"{prompt.score:.2f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(f"wrote {job.keeper.path}")
    return EXIT_OK


def cmd_batch(args, engine_factory=None) -> int:
    from core.batch import (
        BatchEvents,
        BatchState,
        find_jobs,
        run_batch,
        summary_rows,
        write_batch_report,
    )
    from core.pipeline import InputError
    from core.render import Cancelled
    from core.voices import VoiceError

    outdir: Path = args.outdir
    if outdir.exists() and not outdir.is_dir():
        _err(f"-o {outdir} is a file; batch writes into a folder")
        return EXIT_USAGE
    own_dubs: list[Path] = []
    try:
        template = _template(args, outdir / "placeholder.mp4")
        specs = find_jobs(args.jobs, outdir, skipped=own_dubs)
    except VoiceError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except InputError as exc:
        _err(str(exc))
        return EXIT_INPUT
    for path in own_dubs:
        print(f"{path.name}: a dub written by Dubsmith, not dubbed again", file=sys.stderr)
    outdir.mkdir(parents=True, exist_ok=True)
    bars = _Bars(not args.no_progress)

    class Events(BatchEvents):
        def job_started(self, number, total, spec):
            bars.close()
            print(f"[{number}/{total}] {spec.name} -> {spec.output}", file=sys.stderr)

        def job_finished(self, number, total, result):
            bars.close()
            if result.status == "failed":
                _err(f"[{number}/{total}] {result.spec.name} failed: {result.error}")
            elif result.status == "skipped":
                why = f"skipped, {result.error}" if result.error else "finished before, skipped"
                print(f"[{number}/{total}] {result.spec.name}: {why}", file=sys.stderr)
            elif result.report is not None:
                _print_warnings(result.report.warnings, keep_all_hint=False)
            if result.status == "partial":
                _err(f"[{number}/{total}] {result.spec.name}: {len(result.report.failed)} "
                     "line(s) could not be rendered (silent); --resume renders them")  # fmt: skip

        def stage(self, name, done, total):
            bars(name, done, total)

    kwargs = {} if engine_factory is None else {"engine_factory": engine_factory}
    results = []
    code = EXIT_OK
    with _CtrlC() as ctrl_c:
        try:
            for result in run_batch(
                specs,
                template,
                events=Events(),
                cancel=ctrl_c.token,
                resume=args.resume,
                state=BatchState(outdir),
                **kwargs,
            ):
                results.append(result)
        except (Cancelled, KeyboardInterrupt):
            code = EXIT_CANCELLED
        except Exception as exc:  # model files missing: every job would fail alike
            bars.close()
            code, message = _exit_code(exc)
            _err(message)
    bars.close()
    if any(r.status == "cancelled" for r in results):
        code = EXIT_CANCELLED
    elif code == EXIT_OK and any(r.status == "failed" for r in results):
        code = EXIT_FAILED
    elif code == EXIT_OK and any(r.status == "partial" for r in results):
        code = EXIT_PARTIAL
    rows = [("job", "lines", "audio s", "wall s", "result")] + summary_rows(results)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
    if args.report:
        write_batch_report(results, args.report)
    done = sum(r.status == "done" or (r.status == "skipped" and not r.error) for r in results)
    print(
        f"{done} of {len(specs)} jobs finished" + (" (cancelled)" if code == EXIT_CANCELLED else "")
    )
    return code


def _media_json(info) -> dict:
    return {
        "path": str(info.path),
        "format": info.format_name,
        "duration_s": info.duration_s,
        "streams": [{k: v for k, v in asdict(s).items() if v is not None} for s in info.streams],
    }


def cmd_inspect(args) -> int:
    from core.errors import InputError
    from core.inputs import SUBTITLE_SIZE_LIMIT, check_input_file
    from core.media import MediaError, probe
    from core.subtitles import (
        SUBTITLE_EXTENSIONS,
        SubtitleError,
        find_subtitles_for,
        load_subtitles,
    )

    path: Path = args.path
    try:  # a FIFO or /dev/zero is refused, never opened
        subtitle = path.suffix.lower() in SUBTITLE_EXTENSIONS
        check_input_file(path, "the file", SUBTITLE_SIZE_LIMIT if subtitle else None)
    except InputError as exc:
        _err(str(exc))
        return EXIT_INPUT
    media = None
    subs_path = None
    try:
        if path.suffix.lower() in SUBTITLE_EXTENSIONS:
            subs_path = path
        else:
            media = probe(path)
            subs_path = find_subtitles_for(path)
        doc = None
        if subs_path is not None:
            doc = load_subtitles(
                subs_path,
                fps=media.fps if media else None,
                video_duration_ms=round(media.duration_s * 1000)
                if media and media.duration_s
                else None,
            )
    except (MediaError, SubtitleError) as exc:
        _err(str(exc))
        return EXIT_INPUT
    lines = [
        {
            "index": c.index,
            "start_ms": c.start_ms,
            "end_ms": c.end_ms,
            "speaker": c.speaker_hint,
            "text": c.text,
            "usable": c.usable,
        }
        for c in (doc.cues if doc else [])
    ]
    warnings = [str(w) for w in doc.warnings] if doc else []
    if args.json:
        out = {
            "media": _media_json(media) if media else None,
            "subtitles": (
                {"path": str(doc.path), "format": doc.format, "encoding": doc.encoding}
                if doc
                else None
            ),
            "lines": lines,
            "warnings": warnings,
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return EXIT_OK
    if media:
        print(f"{media.path}  {media.format_name}  {media.duration_s:.3f} s")
        for s in media.streams:
            extra = ""
            if s.kind == "video":
                extra = f"{s.width}x{s.height} {s.fps or 0:.3f} fps"
            elif s.kind == "audio":
                extra = f"{s.sample_rate} Hz {s.channels} ch {s.channel_layout or ''}"
            lang = f" [{s.language}]" if s.language else ""
            print(f"  #{s.index} {s.kind:8s} {s.codec or '?':10s} {extra}{lang}")
    if doc:
        print(f"{doc.path}  {doc.format}  {doc.encoding}  {len(doc.cues)} cues")
        for ln in lines:
            who = f"[{ln['speaker']}] " if ln["speaker"] else ""
            mark = "" if ln["usable"] else "  (skipped)"
            print(
                f"  {ln['index']:4d}  {ln['start_ms']:>8d} {ln['end_ms']:>8d}  {who}{ln['text']}{mark}"
            )
    elif media:
        print("no subtitles found next to the video")
    for w in warnings:
        print(f"warning: {w}")
    return EXIT_OK


def cmd_models(args) -> int:
    """`models [list]`, `models download [NAME...]`, `models verify [--quick]`."""
    from models.layout import default_model_dir

    model_dir = Path(args.model_dir or default_model_dir()).expanduser()
    command = getattr(args, "models_command", None) or "list"
    if command == "download":
        return _models_download(args, model_dir)
    if command == "verify":
        return _models_verify(model_dir, args.quick, args.allow_custom)
    return _models_list(model_dir)


_MODEL_STATES = {
    "installed": "installed",
    "missing": "missing",
    "absent": "not installed",
    "incomplete": "partly installed",  # never the word "complete": that means all is well
    "damaged": "damaged",
    "unavailable": "nothing to download yet",
}


def _gb(n: int) -> str:
    return f"about {n / 1e9:.1f} GB" if n >= 1e8 else f"about {n / 1e6:.0f} MB"


def _models_list(model_dir: Path) -> int:
    from core import model_manager

    print(f"model folder: {model_dir}")
    statuses = model_manager.status(model_dir)
    for s in statuses:
        about = ["required" if s.required else f"optional, for {s.feature}"]
        if s.state in ("missing", "absent") and s.approx_bytes:
            about.append(_gb(s.approx_bytes))
        print(f"[{s.name}] {s.title}: {_MODEL_STATES[s.state]} ({'; '.join(about)})")
        if not s.ok:
            print(f"  fetch with: {s.fetch}")
        elif s.state == "absent":
            print(f"  to add it: {s.fetch}")
        elif s.state == "unavailable" and s.note:
            print(f"  {s.note}")
        for f in s.files:
            shown = f.path + ("/" if f.folder else "")
            if f.state == "ok":
                print(f"  ok      {shown}  ({f.location})")
            elif not s.in_use:
                print(f"  absent  {shown}  ({f.location})")
            elif f.state == "missing":
                print(f"  MISSING {shown}  ({f.location})")
            else:
                print(f"  DAMAGED {shown}  ({f.location}): {f.detail}")
    broken = [s for s in statuses if s.in_use and not s.ok]
    if not broken:
        extra = [s.name for s in statuses if s.state == "absent"]
        print("complete" + (f" (optional, not installed: {', '.join(extra)})" if extra else ""))
        return EXIT_OK
    names = " ".join(s.name for s in broken)
    fetch = f"dubsmith models download {names} --model-dir {model_dir}"
    script = f".venv/bin/python installer/download_models.py {names} --model-dir {model_dir}"
    if any(f.state == "damaged" for s in broken for f in s.files):
        print(
            f"Delete the damaged files, or let the downloader replace them:\n  {fetch}\n"
            f"(from the Dubsmith folder: {script})"
        )
    else:
        print(
            f"Fetch what is missing with:\n  {fetch}\n(from the Dubsmith folder: {script})\n"
            "or point Dubsmith at an existing IndexTTS-2 checkpoints folder with --model-dir "
            "(or the DUBSMITH_MODEL_DIR environment variable)."
        )
    return EXIT_MODELS


def _models_verify(model_dir: Path, quick: bool, allow_custom: bool) -> int:
    from app.models_verify import report_verify

    return EXIT_OK if report_verify(model_dir, quick, allow_custom) else EXIT_MODELS


class _DownloadBars:
    """One tqdm bar per file on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.path = None

    def __call__(self, p) -> None:
        if not self.enabled:
            return
        if not sys.stderr.isatty():  # a log: one line per file
            if p.path != self.path:
                self.path = p.path
                print(f"[{p.file_number + 1}/{p.file_count}] {p.path}", file=sys.stderr)
            return
        from tqdm import tqdm

        if p.path != self.path:
            self.close()
            self.path = p.path
            self.bar = tqdm(
                total=p.total_bytes,
                desc=f"[{p.file_number + 1}/{p.file_count}] {p.path}",
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                leave=False,
            )
        self.bar.total = p.total_bytes
        self.bar.n = p.done_bytes
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _models_download(args, model_dir: Path) -> int:
    """Download, then a quick verify of what was asked for. 0 done, 1 failed (run again
    to resume), 2 unknown name or no token for a gated model, 4 something required still
    missing or damaged, 130 cancelled."""
    import getpass
    import os

    from core import model_manager

    names = args.names or None
    try:
        wanted = model_manager.resolve(names)
    except KeyError as exc:
        _err(f"models download: {exc.args[0]}")
        return EXIT_USAGE
    token = args.token or os.environ.get("HF_TOKEN") or None
    bars = _DownloadBars(not args.no_progress)
    with _CtrlC() as ctrl_c:
        try:
            try:
                written = model_manager.download(
                    names, model_dir, progress=bars, cancelled=lambda: ctrl_c.token.cancelled,
                    token=token, endpoint=args.endpoint, force=args.force, log=print,
                )  # fmt: skip
            except model_manager.TokenRequired as exc:
                if token or not sys.stdin.isatty():
                    raise
                print(exc)
                token = getpass.getpass("Hugging Face token (input hidden): ").strip() or None
                if not token:
                    raise
                written = model_manager.download(
                    names, model_dir, progress=bars, cancelled=lambda: ctrl_c.token.cancelled,
                    token=token, endpoint=args.endpoint, force=args.force, log=print,
                )  # fmt: skip
        except model_manager.TokenRequired as exc:
            bars.close()
            _err(f"models download: {exc}")
            return EXIT_USAGE
        except (model_manager.DownloadCancelled, KeyboardInterrupt):
            bars.close()
            _err("download cancelled; run the same command again to continue where it stopped")
            return EXIT_CANCELLED
        except (model_manager.DownloadError, OSError) as exc:
            bars.close()
            _err(f"download failed: {exc}")
            return EXIT_FAILED
    bars.close()
    print(f"{len(written)} file(s) written to {model_dir}")
    for m in wanted:
        if not m.downloadable:
            print(f"{m.name}: nothing to download yet ({m.note})")
    chosen = {m.name for m in wanted if m.downloadable}
    problems = [p for p in model_manager.verify(model_dir, quick=True) if p.model in chosen]
    for p in problems:
        print(f"  {p.kind.upper():8s} {p.path}: {p.detail}")
    if any(p.required for p in problems):
        return EXIT_MODELS
    states = {s.name: s for s in model_manager.status(model_dir)}
    left = sorted(n for n in chosen if states[n].state != "installed")
    if left:
        print(f"not installed: {', '.join(left)}")
        return EXIT_MODELS if any(states[n].required for n in left) else EXIT_OK
    print(f"installed and checked: {', '.join(sorted(chosen))}")
    return EXIT_OK


def cmd_demo(args, engine_factory=None) -> int:
    """Make the two-speaker sample in -o DIR and dub it with the installed models."""
    from core.demo import run_demo
    from core.render import Cancelled

    out_dir = args.output_dir.expanduser()

    def said(sample) -> None:
        print(f"sample video: {sample.video}")
        print(f"subtitles:    {sample.subtitles} (two speakers: Ada and Ben)")

    bars = _Bars(not args.no_progress)
    with _CtrlC() as ctrl_c:
        try:
            result = run_demo(
                out_dir, args.model_dir, args.device, flow_steps=args.flow_steps,
                progress=bars, cancel=ctrl_c.token, work_dir=args.work_dir,
                engine_factory=engine_factory, on_sample=said,
            )  # fmt: skip
        except (Cancelled, KeyboardInterrupt):
            bars.close()
            _err("demo cancelled")
            return EXIT_CANCELLED
        except Exception as exc:
            bars.close()
            from core.sample_media import SampleMediaError

            if isinstance(exc, SampleMediaError):
                _err(str(exc))
                return EXIT_FAILED
            code, message = _exit_code(exc)
            _err(message)
            if code == EXIT_MODELS:
                _err("fetch the models with: dubsmith models download")
            return code
    bars.close()
    report = result.report
    print(f"dubbed video: {result.dubbed} ({len(report.lines)} lines, {report.wall_s:.1f} s)")
    print(f"report:       {result.report_path}")
    return EXIT_PARTIAL if report.failed else EXIT_OK


def main(argv: list[str] | None = None, *, engine_factory=None) -> int:
    """Entry point. `engine_factory` lets tests substitute the engine (never the product)."""
    quiet_transformers()
    ap = _parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_USAGE
    return until_reader_leaves(lambda: _run(args, engine_factory))


def _run(args, engine_factory) -> int:
    if getattr(args, "cluster", None) and engine_factory is None:  # --cluster: Ray workers
        return run_on_cluster(args, lambda factory: _run(args, factory))
    if args.command == "dub":
        return cmd_dub(args, engine_factory)
    if args.command == "analyze":
        return cmd_analyze(args)
    if args.command == "batch":
        return cmd_batch(args, engine_factory)
    if args.command == "models":
        return cmd_models(args)
    if args.command == "demo":
        return cmd_demo(args, engine_factory)
    return cmd_inspect(args)


if __name__ == "__main__":
    sys.exit(main())
