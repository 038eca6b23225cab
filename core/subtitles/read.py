"""Subtitle files -> cues: timing in ms, text cleaned of markup, speaker hints.

This is the public front; each job lives in its own module:

- core.subtitles.cue_types     Cue, SubtitleDoc, SubtitleError, SubtitleWarning (re-exported here)
- core.subtitles.encoding  bytes -> text: BOMs, UTF-16, damaged UTF-8, legacy code pages
- core.subtitles.pysubs2_formats   SRT, ASS/SSA, WebVTT, MicroDVD, read by pysubs2 after small passes
- core.subtitles.timing    SRT/WebVTT timing lines read as leniently as players read them
- core.subtitles.ttml      TTML/DFXP: pysubs2 reads the times; agents, ruby, frames here
- core.subtitles.markup    markup -> spoken text, WebVTT voices -> speaker hints
- core.subtitles.checks    empty, zero-length, negative, order, overlap, past-end
- core.subtitles.merge     joining cues that split one sentence
- core.subtitles.files     extensions, finding a video's subtitles, writing a clean SRT

Nothing is dropped silently: cues whose text is empty after cleaning, or whose length is
zero or negative, stay in the document marked ``usable=False`` and every oddity becomes a
``SubtitleWarning`` naming its cue number. SRT and WebVTT timing lines are read as leniently
as players read them (``->``, ``0:0:5.0``, ``00:00:61,000``), and each one not in the
format's strict form is named with its line number and text.
"""

from __future__ import annotations

from pathlib import Path

import pysubs2

from core.subtitles.checks import check_cues
from core.subtitles.cue_types import Cue, RawCue, SubtitleDoc, SubtitleError, SubtitleWarning
from core.subtitles.encoding import detect_encoding
from core.subtitles.files import (
    EXTENSION_FORMAT,
    SUBTITLE_EXTENSIONS,
    find_subtitles_for,
    write_clean_srt,
)
from core.subtitles.markup import clean_text
from core.subtitles.merge import MERGE_MAX_GAP_MS, ends_sentence
from core.subtitles.merge import merge_split_sentences as _merge_split_sentences
from core.subtitles.pysubs2_formats import read_with_pysubs2
from core.subtitles.ttml import has_ttml_root, read_ttml

__all__ = [
    "MERGE_MAX_GAP_MS",
    "SUBTITLE_EXTENSIONS",
    "Cue",
    "SubtitleDoc",
    "SubtitleError",
    "SubtitleWarning",
    "clean_text",
    "detect_encoding",
    "ends_sentence",
    "find_subtitles_for",
    "load_subtitles",
    "parse_subtitle_text",
    "write_clean_srt",
]


def load_subtitles(
    path: Path,
    *,
    fps: float | None = None,
    video_duration_ms: int | None = None,
    merge_split_sentences: bool = False,
) -> SubtitleDoc:
    """Read a subtitle file of any supported format and encoding.

    fps is the video's frame rate, needed for MicroDVD files that do not state theirs;
    video_duration_ms enables the past-end check."""
    path = Path(path)
    text, encoding, lossy = _read_text(path)
    doc = parse_subtitle_text(
        text,
        EXTENSION_FORMAT.get(path.suffix.lower()),
        fps=fps,
        video_duration_ms=video_duration_ms,
        merge_split_sentences=merge_split_sentences,
        path=path,
        encoding=encoding,
    )
    if lossy:
        doc.warnings.insert(
            0,
            SubtitleWarning(
                None,
                "encoding",
                f"some bytes are not valid {encoding} and were replaced by U+FFFD;"
                " the cues that hold them are listed",
            ),
        )
    return doc


def parse_subtitle_text(
    text: str,
    fmt_hint: str | None = None,
    *,
    fps: float | None = None,
    video_duration_ms: int | None = None,
    merge_split_sentences: bool = False,
    path: Path | None = None,
    encoding: str = "utf-8",
) -> SubtitleDoc:
    """Parse decoded subtitle text. fmt_hint (e.g. from the extension) is used when the
    content alone does not tell the format."""
    path = Path(path) if path is not None else Path("<text>")
    name = path.name
    fmt_hint = _normalised_hint(fmt_hint)
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise SubtitleError(f"{name}: the file is empty; choose the subtitle file for this video.")
    fmt, guessed, warnings = _resolve_format(text, fmt_hint, name)

    used_fps = None
    if fmt == "ttml":
        raws, fmt_warnings = read_ttml(text, name)
    else:
        raws, used_fps, fmt_warnings = read_with_pysubs2(text, fmt, fps, name)
    warnings += fmt_warnings
    warnings += _content_warnings(raws, fmt, guessed, name)

    numbers = _file_numbers(raws, text) if fmt == "srt" else None
    if numbers is None:
        numbers = list(range(1, len(raws) + 1))
    else:  # the readers counted cues by position; the editor knows them by the file's numbers
        warnings = [_renumbered(w, numbers) for w in warnings]
    cues = [_cue(n, rc, fmt) for n, rc in zip(numbers, raws, strict=True)]
    warnings += check_cues(cues, video_duration_ms)
    if merge_split_sentences:
        cues = _merge_split_sentences(cues)
    return SubtitleDoc(path, fmt, encoding, cues, warnings, used_fps)


def _read_text(path: Path) -> tuple[str, str, bool]:
    """The file's text, its encoding and whether bytes were lost; SubtitleError if unreadable."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise SubtitleError(f"{path.name}: cannot be read ({err.strerror or err}).") from err
    if not data.strip():
        raise SubtitleError(
            f"{path.name}: the file is empty; choose the subtitle file for this video."
        )
    try:
        return detect_encoding(data)
    except ValueError as err:
        hint = ""
        if path.suffix.lower() == ".sub":
            hint = " A binary .sub is usually VobSub (subtitle pictures), which needs OCR first."
        raise SubtitleError(
            f"{path.name}: this is a binary file (a video or image subtitles?), not a text"
            f" subtitle file ({err}).{hint} Choose the SRT/ASS/VTT file instead."
        ) from err


def _normalised_hint(fmt_hint: str | None) -> str | None:
    """A format id from a hint that may be an extension (".sub", "SUB") or an id."""
    if fmt_hint is None:
        return None
    fmt_hint = fmt_hint.lower().lstrip(".")
    return EXTENSION_FORMAT.get("." + fmt_hint, fmt_hint)


def _detect_format(text: str, ext_format: str | None) -> str | None:
    head = text.lstrip()[:8192]
    # Sure signs first: a TTML root in any namespace (pysubs2 knows TTML by its 2010
    # namespace only, not by DFXP's older ones), then the WEBVTT header.
    if head.startswith("<") and has_ttml_root(head):
        return "ttml"
    if head.startswith("WEBVTT"):
        return "vtt"
    try:
        return pysubs2.formats.autodetect_format(text)
    except pysubs2.exceptions.FormatAutodetectionError as err:
        candidates = list(getattr(err, "formats", []) or [])
        if ext_format in candidates:
            return ext_format
        return None


def _resolve_format(
    text: str, fmt_hint: str | None, name: str
) -> tuple[str, bool, list[SubtitleWarning]]:
    """The format to read the text as, whether it was only guessed from the hint, and
    warnings where content and extension disagree."""
    warnings: list[SubtitleWarning] = []
    fmt = _detect_format(text, fmt_hint)
    guessed = fmt is None
    if fmt is None:
        if fmt_hint is None:
            raise SubtitleError(
                f"{name}: unknown subtitle format. Supported: SRT, ASS/SSA, WebVTT, MicroDVD"
                " (.sub) and TTML/DFXP; convert the file to one of them (SRT is safest)."
            )
        fmt = fmt_hint
    if fmt == "srt" and fmt_hint == "vtt":
        # WebVTT without its WEBVTT header looks like SRT; voices and cue settings need
        # the WebVTT reader.
        fmt = "vtt"
        warnings.append(
            SubtitleWarning(None, "format", "the WEBVTT header is missing; read as WebVTT")
        )
    elif fmt_hint is not None and fmt_hint != fmt and {fmt_hint, fmt} != {"ass", "ssa"}:
        warnings.append(
            SubtitleWarning(
                None, "format", f"the extension says {fmt_hint} but the content is {fmt}"
            )
        )
    if fmt == "json":
        raise SubtitleError(f"{name}: JSON is not a subtitle format Dubsmith reads; use SRT.")
    return fmt, guessed, warnings


def _content_warnings(
    raws: list[RawCue], fmt: str, guessed: bool, name: str
) -> list[SubtitleWarning]:
    """Warnings (or the error) when the format was only guessed, or nothing was found."""
    if not raws and guessed:
        raise SubtitleError(
            f"{name}: no subtitle cues found; the content is not recognisable {fmt.upper()}."
            " Check that this is the right file, or convert it to SRT."
        )
    warnings: list[SubtitleWarning] = []
    if guessed:
        warnings.append(
            SubtitleWarning(
                None,
                "unknown-format",
                f"the format could not be recognised from the content; read as {fmt} from the"
                " file extension",
            )
        )
    if not raws:
        warnings.append(SubtitleWarning(None, "no-cues", "the file holds no subtitle cues"))
    return warnings


def _cue(index: int, rc: RawCue, fmt: str) -> Cue:
    """A cue with clean text and a speaker hint from what its reader found."""
    if rc.plain is not None:
        text, speaker = " ".join(rc.plain.split()), rc.name
    else:
        text, voice = clean_text(rc.raw, fmt)
        # WebVTT names speakers in its voice spans; ASS in its Name field.
        speaker = voice if fmt == "vtt" else (" ".join((rc.name or "").split()) or None)
    return Cue(index, rc.start_ms, rc.end_ms, text, speaker, rc.raw, line=rc.line)


def _file_numbers(raws: list[RawCue], text: str) -> list[int] | None:
    """The SRT's own cue numbers (the line above each timing line), when every cue has one
    and no two share one; else None (cues are then numbered by position).

    A cue keeps the number its file gives it, so a line is the same line in every file
    Dubsmith writes for it: the desk's edited SRT leaves out dropped (empty) cues without
    renumbering the rest, and stems, report, warnings and table all say the same number."""
    lines = text.split("\n")
    numbers: list[int] = []
    for rc in raws:
        above = lines[rc.line - 2].strip() if rc.line is not None and rc.line >= 2 else ""
        if not (above.isascii() and above.isdigit()) or int(above) < 1:
            return None
        numbers.append(int(above))
    return numbers if len(set(numbers)) == len(numbers) else None


def _renumbered(warning: SubtitleWarning, numbers: list[int]) -> SubtitleWarning:
    if warning.cue is None or not 1 <= warning.cue <= len(numbers):
        return warning
    return SubtitleWarning(numbers[warning.cue - 1], warning.kind, warning.message)
