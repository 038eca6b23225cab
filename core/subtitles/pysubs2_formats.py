"""SRT, ASS/SSA, WebVTT and MicroDVD -> raw cues, read by pysubs2.

pysubs2 is lenient in ways that would corrupt a dub's text or timing, so each format gets
a small pass before it: WebVTT loses the blocks that are not cues, SRT and WebVTT timing
lines are read here (core.subtitles.timing), MicroDVD's frame rate is settled. pysubs2's
own warnings, and the lines it passes over without a word, become SubtitleWarnings.
"""

from __future__ import annotations

import re
import warnings as warnings_module
from dataclasses import dataclass, field

import pysubs2

from core.subtitles.cue_types import RawCue, SubtitleError, SubtitleWarning
from core.subtitles.timing import Timing, quoted, scan_timing_lines, timing_stamps

__all__ = ["read_with_pysubs2"]

# Formats whose timing lines core.subtitles.timing reads (and whose tags pysubs2 must keep).
_TIMING_LINE_FORMATS = ("srt", "vtt")


@dataclass
class _Prepared:
    """A text made ready for pysubs2, and what was learnt on the way."""

    text: str
    kwargs: dict[str, object] = field(default_factory=dict)
    timings: list[Timing] = field(default_factory=list)
    warnings: list[SubtitleWarning] = field(default_factory=list)
    fps: float | None = None


def read_with_pysubs2(
    text: str, fmt: str, fps: float | None, name: str
) -> tuple[list[RawCue], float | None, list[SubtitleWarning]]:
    """The cues of a text in a pysubs2 format, the frame rate used (MicroDVD) and warnings.

    fps is the video's frame rate, for MicroDVD files that do not state theirs; name is
    the file's name, for error messages."""
    prepared = _prepare(text, fmt, fps, name)
    subs, reader_warnings = _load(prepared, fmt, name)
    cues = _raw_cues(subs, fmt)
    if fmt in _TIMING_LINE_FORMATS:
        # One pysubs2 cue per timing line that scan_timing_lines found; its times are the
        # ones the warnings quote (and read WebVTT fractions right).
        for cue, timing in zip(cues, prepared.timings, strict=True):
            cue.start_ms, cue.end_ms, cue.line = timing.start_ms, timing.end_ms, timing.line
    return cues, prepared.fps, prepared.warnings + reader_warnings


def _prepare(text: str, fmt: str, fps: float | None, name: str) -> _Prepared:
    prepared = _Prepared(text)
    if fmt == "vtt":
        prepared.text, skipped = _vtt_cue_blocks_only(prepared.text)
        prepared.warnings += skipped
    if fmt in _TIMING_LINE_FORMATS:
        prepared.text, prepared.timings, timing_warnings = scan_timing_lines(prepared.text, fmt)
        prepared.warnings += timing_warnings
        # Tags stay in the text: clean_text removes them, and Cue.raw keeps them.
        prepared.kwargs["keep_html_tags"] = True
        prepared.kwargs["keep_unknown_html_tags"] = True
    if fmt == "microdvd":
        _prepare_microdvd(prepared, fps, name)
    return prepared


def _load(
    prepared: _Prepared, fmt: str, name: str
) -> tuple[pysubs2.SSAFile, list[SubtitleWarning]]:
    """Run pysubs2; its Python warnings become one SubtitleWarning per distinct message."""
    with warnings_module.catch_warnings(record=True) as caught:
        warnings_module.simplefilter("always")
        try:
            subs = pysubs2.SSAFile.from_string(prepared.text, format_=fmt, **prepared.kwargs)
        except (pysubs2.exceptions.Pysubs2Error, ValueError, IndexError, KeyError) as err:
            raise SubtitleError(
                f"{name}: not a readable {fmt.upper()} file ({err}). Repair the line it names"
                " in a subtitle editor, or export the subtitles again."
            ) from err
    warnings = [
        SubtitleWarning(None, "reader", f"{fmt.upper()} reader: {message}")
        for message in dict.fromkeys(str(w.message) for w in caught)
    ]
    return subs, warnings


def _raw_cues(subs: pysubs2.SSAFile, fmt: str) -> list[RawCue]:
    cues = []
    for event in subs.events:
        if event.is_comment:
            continue
        raw = event.text
        if fmt in _TIMING_LINE_FORMATS:
            # pysubs2 turns the file's line breaks into ASS \N; Cue.raw keeps the file's.
            raw = raw.replace("\\N", "\n")
        cues.append(RawCue(event.start, event.end, raw, event.name or None))
    return cues


# --------------------------------------------------------------------------- WebVTT

# Blocks that are not cues: the header, comments, style sheets, regions.
_VTT_NON_CUE_BLOCK = re.compile(r"(?:WEBVTT|NOTE|STYLE|REGION)(?:\s|$)")


def _vtt_cue_blocks_only(text: str) -> tuple[str, list[SubtitleWarning]]:
    """Blank out all but cue blocks (from their timing line on): NOTE/STYLE/REGION blocks and
    cue identifiers go, and text after a blank line is reported, since it belongs to no cue.

    pysubs2 reads WebVTT like SRT, gluing any text up to the next timing line (a NOTE
    block, say) onto the previous cue, and WebVTT cue text cannot contain blank lines.
    Lines are blanked rather than removed so that line numbers in warnings stay true."""
    lines = text.split("\n")
    kept = [""] * len(lines)
    warnings: list[SubtitleWarning] = []
    first = 0  # first line of the current block
    for end in range(len(lines) + 1):
        if end < len(lines) and lines[end].strip(" \t"):
            continue
        block = range(first, end)
        first = end + 1
        timing = next(
            (i for i in block if "-->" in lines[i] or timing_stamps(lines[i], "vtt")[0]), None
        )
        if timing is not None:
            kept[timing:end] = lines[timing:end]
        elif block and not _VTT_NON_CUE_BLOCK.match(lines[block[0]].strip()):
            warnings.append(
                SubtitleWarning(
                    None,
                    "skipped-text",
                    f"line {block[0] + 1}: text after a blank line belongs to no cue and is not"
                    f" read: {quoted(lines[block[0]])}",
                )
            )
    return "\n".join(kept), warnings


# --------------------------------------------------------------------------- MicroDVD

_MICRODVD_LINE = re.compile(r"^\{(\d+)\}\{(\d*)\}(.*)$")


def _prepare_microdvd(prepared: _Prepared, fps: float | None, name: str) -> None:
    """Settle the frame rate (the file's own wins over the video's) and report unread lines."""
    declared, prepared.text = _microdvd_declared_fps(prepared.text)
    if declared is not None:
        if fps is not None and abs(fps - declared) > 0.01:
            prepared.warnings.append(
                SubtitleWarning(
                    None,
                    "fps",
                    f"the file declares {declared:g} fps but the video runs at {fps:g} fps;"
                    f" frame numbers are read at the file's {declared:g} fps",
                )
            )
        prepared.fps = declared
    elif fps is not None:
        prepared.fps = fps
    else:
        raise SubtitleError(
            f"{name}: MicroDVD subtitles count frames, not time, and the file does not state"
            " its frame rate. Give the video's frame rate (fps) so the frames can be"
            " converted to time, or convert the file to SRT."
        )
    prepared.kwargs["fps"] = prepared.fps
    prepared.warnings += _microdvd_skipped_lines(prepared.text)


def _microdvd_declared_fps(text: str) -> tuple[float | None, str]:
    """The customary first line {1}{1}23.976 states the frame rate; return it and the rest."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        m = _MICRODVD_LINE.match(line.strip())
        if m and m.group(1) in ("0", "1") and m.group(2) in ("0", "1"):
            try:
                fps = float(m.group(3).strip())
            except ValueError:
                return None, text
            if fps > 0:
                # Blank it rather than drop it so line numbers in warnings stay true.
                return fps, "\n".join(lines[:i] + [""] + lines[i + 1 :])
        return None, text
    return None, text


def _microdvd_skipped_lines(text: str) -> list[SubtitleWarning]:
    # pysubs2 passes over lines it cannot read (no end frame, no text) without a word.
    skipped = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip() and not pysubs2.formats.microdvd.MICRODVD_LINE.match(line):
            skipped.append(
                SubtitleWarning(
                    None,
                    "skipped-line",
                    f"line {number} is not a MicroDVD cue and was not read: {line.strip()[:60]!r}",
                )
            )
    return skipped
