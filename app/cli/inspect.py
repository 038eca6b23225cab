"""`dubsmith inspect`: what Dubsmith reads from a video or a subtitle file."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from app.cli.codes import EXIT_INPUT, EXIT_OK
from app.cli.terminal import err


def _media_json(info) -> dict:
    return {
        "path": str(info.path),
        "format": info.format_name,
        "duration_s": info.duration_s,
        "streams": [{k: v for k, v in asdict(s).items() if v is not None} for s in info.streams],
    }


def cmd_inspect(args) -> int:
    from core.errors import InputError
    from core.job.inputs import SUBTITLE_SIZE_LIMIT, check_input_file
    from core.media.probe import MediaError, probe
    from core.subtitles.read import (
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
        err(str(exc))
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
        err(str(exc))
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
