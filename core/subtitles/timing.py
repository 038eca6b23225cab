"""Times in SRT and WebVTT timing lines, read as leniently as players read them; time formats.

pysubs2 finds a cue wherever a line holds two timestamps and reads some of them wrong
(WebVTT 01.50 as 1.050 s) or not at all (0:0:5.0 in WebVTT). Here every timing line is
read once, in pysubs2's order, rewritten in the strict form so that pysubs2 starts a cue
there, and each one not in the strict form is named in a warning with its line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pysubs2

from core.subtitles.cue_types import SubtitleWarning

__all__ = ["Timing", "fmt_ms", "quoted", "scan_timing_lines", "srt_time", "timing_stamps"]


def fmt_ms(ms: int) -> str:
    """hh:mm:ss.mmm, signed: how warnings quote a time."""
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{sign}{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def srt_time(ms: int) -> str:
    """hh:mm:ss,mmm as SRT writes it (negative times clamp to zero)."""
    h, rem = divmod(max(0, int(ms)), 3_600_000)
    m, rem = divmod(rem, 60_000)
    sec, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{sec:02d},{ms:03d}"


# pysubs2 takes any line holding exactly two timestamps for a timing line, whatever stands
# between them ("->", "-", nothing), and its SRT timestamp allows one-digit fields, a dot and
# fields of 60 or more. Players are as lenient (ffmpeg and mpv read 00:00:61,000 as 0:01:01),
# so such cues are kept, at the time a player shows them, and each one is named in a warning.
_SRT_STAMP = pysubs2.time.TIMESTAMP
_VTT_STAMP = pysubs2.formats.webvtt.WebVTTFormat.TIMESTAMP
# What players make out of a time in either format: hours optional, one or two digits a
# field, a comma or a dot before the fraction.
_LOOSE_STAMP = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})[.,](\d{1,3})")
_SRT_TIME = r"\d{2}:[0-5]\d:[0-5]\d,\d{3}"
_VTT_TIME = r"(?:\d{2,}:)?[0-5]\d:[0-5]\d\.\d{3}"
# The strict forms, give or take spaces (they change nothing in the reading): SRT may end
# with the X1..Y2 box of some old rippers, WebVTT with cue settings.
_STRICT_TIMING = {
    "srt": re.compile(
        rf"[ \t]*{_SRT_TIME}[ \t]+-->[ \t]+{_SRT_TIME}"
        r"(?:[ \t]+X1:\d+[ \t]+X2:\d+[ \t]+Y1:\d+[ \t]+Y2:\d+)?[ \t]*"
    ),
    "vtt": re.compile(rf"[ \t]*{_VTT_TIME}[ \t]+-->[ \t]+{_VTT_TIME}(?:[ \t].*)?"),
}
_FORMAT_NAME = {"srt": "SRT", "vtt": "WebVTT"}


@dataclass(frozen=True)
class Timing:
    line: int  # 1-based line number in the file
    start_ms: int
    end_ms: int


def quoted(line: str, limit: int = 80) -> str:
    text = line.strip()
    return f'"{text[:limit]}…"' if len(text) > limit else f'"{text}"'


def timing_stamps(line: str, fmt: str) -> tuple[list[tuple[str, ...]], bool]:
    """The (hours, minutes, seconds, fraction) of the two timestamps on a timing line, [] on
    any other line, and whether pysubs2's reader for the format finds them itself."""
    stamps = (_VTT_STAMP if fmt == "vtt" else _SRT_STAMP).findall(line)
    if len(stamps) == 2:
        return stamps, True
    if "->" in line:
        # Times that reader misses (0:0:5.0 or a renamed SRT's 00:00:05,000 in WebVTT,
        # 00:05.5, SRT without hours) are plain to read on a line with an arrow, and pysubs2
        # would glue that cue, timing line and all, onto the text of the cue before.
        stamps = _LOOSE_STAMP.findall(line)
        if len(stamps) == 2:
            return stamps, False
    return [], False


def _stamp_ms(stamp: tuple[str, ...]) -> int:
    hours, minutes, seconds, fraction = stamp  # hours: "", "01" or, from WebVTT, "01:"
    # The fraction is decimal: 01.5 is 1.500 s (pysubs2 reads WebVTT 01.50 as 1.050 s).
    total_s = (int(hours.rstrip(":") or 0) * 60 + int(minutes)) * 60 + int(seconds)
    return total_s * 1000 + int(fraction.ljust(3, "0"))


def scan_timing_lines(text: str, fmt: str) -> tuple[str, list[Timing], list[SubtitleWarning]]:
    """Find the timing lines of an SRT or WebVTT text, one per cue in pysubs2's order.

    Warns, per cue, of each one not in the format's strict form, and rewrites it in that form
    so that pysubs2 starts a cue there; also warns of lines that look like timing but cannot
    be read (no cue starts there). The text keeps its line count."""
    lines = text.split("\n")
    timings: list[Timing] = []
    warnings: list[SubtitleWarning] = []
    for i, line in enumerate(lines):
        stamps, native = timing_stamps(line, fmt)
        if not stamps:
            if "-->" in line:
                warnings.append(_unreadable_timing_warning(i + 1, line, len(timings)))
            continue
        timing = Timing(i + 1, _stamp_ms(stamps[0]), _stamp_ms(stamps[1]))
        timings.append(timing)
        if native and _STRICT_TIMING[fmt].fullmatch(line):
            continue
        warnings.append(_timing_warning(len(timings), timing, line, stamps, fmt))
        sep = "." if fmt == "vtt" else ","
        strict = (srt_time(ms).replace(",", sep) for ms in (timing.start_ms, timing.end_ms))
        lines[i] = " --> ".join(strict)
    return "\n".join(lines), timings, warnings


def _unreadable_timing_warning(number: int, line: str, cues_before: int) -> SubtitleWarning:
    # pysubs2 reads such a line, and the text after it, as text of the cue before.
    where = f"join cue {cues_before}" if cues_before else "are not read"
    return SubtitleWarning(
        None,
        "bad-timing",
        f"line {number} looks like a timing line but cannot be read:"
        f" {quoted(line)}; no cue starts there, and this line and its text {where}",
    )


def _timing_warning(
    cue: int, timing: Timing, line: str, stamps: list[tuple[str, ...]], fmt: str
) -> SubtitleWarning:
    read_as = f"read as {fmt_ms(timing.start_ms)} --> {fmt_ms(timing.end_ms)}"
    over = [
        f"{int(value)} in a {unit} field"
        for stamp in stamps
        for value, unit in ((stamp[1], "minutes"), (stamp[2], "seconds"))
        if int(value) >= 60
    ]
    if over:
        return SubtitleWarning(
            cue,
            "out-of-range-time",
            f"line {timing.line}: timing {quoted(line)} has {', '.join(over)} (0-59);"
            f" {read_as}, as players do",
        )
    return SubtitleWarning(
        cue,
        "lenient-timing",
        f"line {timing.line}: timing {quoted(line)} is not standard {_FORMAT_NAME[fmt]}; {read_as}",
    )
