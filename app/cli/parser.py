"""The command line's arguments: each command's flags, and the dub settings shared by
`dub`, `batch` and `analyze`."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.cluster import add_cluster_flags

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


def build_parser() -> argparse.ArgumentParser:
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
    add_settings(d)
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
    add_settings(b)
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
    add_settings(a)
    a.add_argument("--work-dir", type=Path, default=None, help=argparse.SUPPRESS)
    a.add_argument("--no-progress", action="store_true")

    _add_models(sub)

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


def _add_models(sub) -> None:
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


def _deliver_parts(text: str):
    from core.deliver.parts import DeliverParts
    from core.errors import OptionError

    try:
        return DeliverParts.parse(text)
    except OptionError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_settings(d: argparse.ArgumentParser) -> None:
    """The dub settings' flags (those in SETTING_FLAGS) and how the dub runs."""
    from core.audio.loudness_presets import DEFAULT_PRESET, PRESETS
    from core.settings import extend_into_silence

    d.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    d.add_argument(
        "--loudness",
        choices=tuple(PRESETS),
        default=DEFAULT_PRESET,
        help="the mix's loudness spec: "
        + "; ".join(f"{k}: {p.summary}" for k, p in PRESETS.items()),
    )
    d.add_argument(
        "--deliver",
        type=Path,
        metavar="DIR",
        help="also write timelines (.otio/.xml/.aaf), 24-bit stems, QC report",
    )
    d.add_argument(
        "--deliver-parts",
        type=_deliver_parts,
        metavar="PARTS",
        help="with --deliver, only these (comma-separated): otio, xml, aaf, stems, qc-report",
    )
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


def dub_options(args, output: Path):
    """The DubOptions the settings' flags ask for, writing to `output`."""
    from core.job.pipeline import DubOptions
    from core.speakers.voices import parse_voice_args

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
        **({"deliver_parts": args.deliver_parts} if args.deliver_parts else {}),
    )
