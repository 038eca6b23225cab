"""`dubsmith` command line: dub a video, or inspect what Dubsmith reads from one.

Exit codes (also in README.md):
  0 success; 1 the job failed; 2 bad command line; 3 input unreadable (video or
  subtitles); 4 model files missing; 5 some lines could not be rendered (the dub was
  written, those lines are silent); 130 cancelled (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import asdict
from pathlib import Path

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
    d.add_argument("--stems", type=Path, default=None, metavar="DIR", help="write per-line WAVs")
    d.add_argument("--dub-wav", type=Path, default=None, help="write the dub alone as a WAV")
    d.add_argument("--report", type=Path, default=None, metavar="REPORT.json")
    d.add_argument("--work-dir", type=Path, default=None, help=argparse.SUPPRESS)
    d.add_argument("--no-progress", action="store_true")

    m = sub.add_parser("models", help="check the model folder: what is there, what is missing")
    m.add_argument("--model-dir", type=Path, default=None, help="folder holding indextts2/")

    i = sub.add_parser("inspect", help="print what Dubsmith reads from a video or subtitle file")
    i.add_argument("path", type=Path)
    i.add_argument("--json", action="store_true")
    return ap


BOOL = argparse.BooleanOptionalAction
# Flags that are dub settings: not given, they leave the project's saved setting (what the
# last dub of this video used, else the default) as it is.
SETTING_FLAGS = {
    "background": "background",
    "duck_db": "duck_db",
    "keep_original_track": "keep_original_track",
    "subtitle_track": "subtitle_track",
    "emotion": "emotion",
    "mode": "duration_mode",
    "seed": "seed",
    "language": "language",
    "flow_steps": "flow_steps",
    "merge_split_sentences": "merge_split_sentences",
    "extend_into_silence": "extend_into_silence_ms",
}


def _add_settings(d: argparse.ArgumentParser) -> None:
    d.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    d.add_argument(
        "--voice",
        action="append",
        default=[],
        metavar="SPEAKER=WAV",
        help="timbre prompt file for a speaker (repeatable)",
    )
    d.add_argument("--background", choices=("duck", "replace"))
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
        type=int,
        metavar="MS",
        help="let a line run up to MS ms into the silence after its cue (never into the next)",
    )
    d.add_argument("--mode", choices=("exact", "natural"))
    d.add_argument("--seed", type=int)
    d.add_argument("--flow-steps", type=int, help="diffusion steps of the flow model (25)")
    d.add_argument("--language", help="ISO 639-2 tag of the dub track (eng, fra...)")


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

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self.enabled:
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


def cmd_dub(args, engine_factory=None) -> int:
    from core.language import to_iso639_2
    from core.media import MediaError
    from core.notices import group_notices
    from core.pipeline import DubOptions, EngineUnavailable, InputError, OptionError, dub
    from core.render import Cancelled, CancelToken
    from core.voices import VoiceError, parse_voice_args
    from models.contract import ModelFilesMissing

    try:
        voices = parse_voice_args(args.voice)
    except VoiceError as exc:
        _err(str(exc))
        return EXIT_USAGE
    if args.language is not None and to_iso639_2(args.language) is None:
        _err(f"--language expects a language code such as eng, fra or de, got '{args.language}'")
        return EXIT_USAGE
    options = DubOptions(
        output=args.output,
        subtitles=args.subs,
        changes=setting_changes(args),
        model_dir=args.model_dir,
        device=args.device,
        voices=voices,
        stems_dir=args.stems,
        dub_wav=args.dub_wav,
        report_path=args.report,
        work_dir=args.work_dir,
    )
    cancel = CancelToken()

    def on_sigint(signum, frame):
        if cancel.cancelled:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        cancel.cancel()
        _err("cancelling after the current step... (Ctrl-C again to stop at once)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    bars = _Bars(not args.no_progress)
    kwargs = {"progress": bars, "cancel": cancel}
    if engine_factory is not None:
        kwargs["engine_factory"] = engine_factory
    # Known failures map to exit codes; anything else (MediaError, ExportError, OSError
    # such as a full disk) is still one clear line, never a traceback.
    exit_codes = (
        (OptionError, EXIT_USAGE),
        (InputError, EXIT_INPUT),
        (VoiceError, EXIT_INPUT),
        (ModelFilesMissing, EXIT_MODELS),
        (EngineUnavailable, EXIT_MODELS),
    )
    try:
        report = dub(args.video, options, **kwargs)
    except (Cancelled, KeyboardInterrupt):
        bars.close()
        _err(f"cancelled; {args.output} was not written (rendered lines stay cached)")
        return EXIT_CANCELLED
    except Exception as exc:
        bars.close()
        if cancel.cancelled:  # Ctrl-C also reaches ffmpeg, which then fails: still a cancel
            _err(f"cancelled; {args.output} was not written")
            return EXIT_CANCELLED
        code = next((c for kind, c in exit_codes if isinstance(exc, kind)), EXIT_FAILED)
        # Our own errors carry a message written for the editor; others get their type.
        expected = code != EXIT_FAILED or isinstance(exc, MediaError | OSError)
        _err(str(exc) if expected else f"{type(exc).__name__}: {exc}")
        return code
    finally:
        signal.signal(signal.SIGINT, previous)
    bars.close()
    # Grouped by kind: a 10,000-cue file must not bury the result under its warnings.
    for w in group_notices(report.warnings):
        print(f"warning: {w}", file=sys.stderr)
    if len(report.warnings) > 20 and not args.report:
        print("warning: pass --report REPORT.json to keep every warning", file=sys.stderr)
    n = len(report.lines)
    print(f"wrote {report.output} ({n} lines, {len(report.failed)} failed, {report.wall_s:.1f} s)")
    return EXIT_PARTIAL if report.failed else EXIT_OK


def _media_json(info) -> dict:
    return {
        "path": str(info.path),
        "format": info.format_name,
        "duration_s": info.duration_s,
        "streams": [{k: v for k, v in asdict(s).items() if v is not None} for s in info.streams],
    }


def cmd_inspect(args) -> int:
    from core.media import MediaError, probe
    from core.subtitles import (
        SUBTITLE_EXTENSIONS,
        SubtitleError,
        find_subtitles_for,
        load_subtitles,
    )

    path: Path = args.path
    if not path.exists():
        _err(f"not found: {path}")
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
    from models.layout import DAMAGED_HINT, DOWNLOAD_HINT, default_model_dir, locate

    model_dir = args.model_dir or default_model_dir()
    files = locate(model_dir)
    print(f"model folder: {model_dir}")
    missing = files.missing()
    damaged = dict(files.damaged())  # headers and indexes only: instant even for 6 GB
    for name, path in files.required().items():
        if name in missing:
            print(f"  MISSING indextts2/{name}  ({path})")
        elif name in damaged:
            print(f"  DAMAGED indextts2/{name}  ({path}): {damaged[name]}")
        else:
            print(f"  ok      indextts2/{name}  ({path})")
    qwen = files.qwen_emotion / "config.json"
    print(
        f"  {'ok     ' if qwen.is_file() else 'absent '} indextts2/qwen0.6bemo4-merge/ "
        f"(optional: emotion from a text description)"
    )
    if damaged:
        print(DAMAGED_HINT.format(model_dir=model_dir))
        return EXIT_MODELS
    if missing:
        print(DOWNLOAD_HINT.format(model_dir=model_dir))
        return EXIT_MODELS
    print("complete")
    return EXIT_OK


def main(argv: list[str] | None = None, *, engine_factory=None) -> int:
    """Entry point. `engine_factory` lets tests substitute the engine (never the product)."""
    quiet_transformers()
    ap = _parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_USAGE
    if args.command == "dub":
        return cmd_dub(args, engine_factory)
    if args.command == "models":
        return cmd_models(args)
    return cmd_inspect(args)


if __name__ == "__main__":
    sys.exit(main())
