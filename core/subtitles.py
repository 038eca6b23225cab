"""Subtitle files -> cues: timing in ms, text cleaned of markup, speaker hints.

SRT, ASS/SSA, WebVTT and MicroDVD are read with pysubs2 (after small
normalising passes where pysubs2 is lenient in ways that would corrupt text);
TTML/DFXP is parsed here with ElementTree, because its timing model (clock,
offset, frame and tick times, nested time containers) is what matters for
dubbing and pysubs2 does not cover it fully.

Nothing is dropped silently: cues whose text is empty after cleaning, or whose
length is zero or negative, stay in the document marked ``usable=False`` and
every oddity becomes a ``SubtitleWarning`` naming its cue number. SRT and WebVTT
timing lines are read as leniently as players read them (``->``, ``0:0:5.0``,
``00:00:61,000``), and each one not in the format's strict form is named with its
line number and text.
"""

from __future__ import annotations

import codecs
import html
import re
import warnings as warnings_module
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pysubs2
from charset_normalizer import from_bytes

from core.notices import Notice

__all__ = [
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
]

SUBTITLE_EXTENSIONS: tuple[str, ...] = (
    ".srt",
    ".ass",
    ".ssa",
    ".vtt",
    ".sub",
    ".ttml",
    ".dfxp",
    ".xml",
)

_EXTENSION_FORMAT = {
    ".srt": "srt",
    ".ass": "ass",
    ".ssa": "ssa",
    ".vtt": "vtt",
    ".webvtt": "vtt",
    ".sub": "microdvd",
    ".ttml": "ttml",
    ".dfxp": "ttml",
    ".xml": "ttml",
}

# Formats whose text uses ASS conventions once pysubs2 has read them
# (MicroDVD's {y:i} codes are turned into ASS override tags by pysubs2).
_ASS_FAMILY = frozenset({"ass", "ssa", "microdvd"})

MERGE_MAX_GAP_MS = 300


class SubtitleError(Exception):
    """The file cannot be read as subtitles; the message names it and says what to do."""


@dataclass
class Cue:
    index: int  # 1-based number in the file's order
    start_ms: int
    end_ms: int
    text: str  # cleaned of markup, whitespace collapsed, lines joined with a space
    speaker_hint: str | None
    raw: str  # original text with markup
    usable: bool = True  # False for empty / zero / negative length
    sources: tuple[int, ...] = ()  # cue numbers merged into this one (empty if not merged)
    line: int | None = None  # 1-based line of its timing in the file (SRT, WebVTT), if known

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


# A subtitle warning is a Notice (core/notices.py): one type for every warning shown.
SubtitleWarning = Notice


@dataclass
class SubtitleDoc:
    path: Path
    format: str  # "srt", "ass", "ssa", "vtt", "microdvd", "ttml" (or another pysubs2 id)
    encoding: str
    cues: list[Cue]  # in the file's order
    warnings: list[SubtitleWarning]
    fps: float | None = None  # frame rate used for frame-based timing, if any

    def usable_cues(self) -> list[Cue]:
        """Cues the pipeline should dub, in playback order."""
        return sorted((c for c in self.cues if c.usable), key=lambda c: (c.start_ms, c.index))

    def warnings_for(self, cue: int) -> list[SubtitleWarning]:
        return [w for w in self.warnings if w.cue == cue]


# --------------------------------------------------------------------------- encodings

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 before UTF-16: the UTF-32 LE BOM starts with the UTF-16 LE one.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_XML_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")

# Letters (lower case, non-ASCII) of the alphabets subtitles commonly use. charset-normalizer
# is unreliable on short single-byte texts (it reads French cp1252 as Baltic cp1257); a
# decoding whose accented letters all belong to one language is the plausible one.
_ALPHABETS: tuple[str, ...] = (
    "àâæçéèêëîïôœùûüÿ",  # French
    "äöüß",  # German
    "áéíñóúü",  # Spanish
    "áâãàçéêíóôõú",  # Portuguese
    "àèéìíîòóùú",  # Italian
    "àçèéíïòóúü",  # Catalan
    "éëïóöüáèà",  # Dutch
    "æøåé",  # Danish, Norwegian
    "åäöé",  # Swedish, Finnish
    "áðéíóúýþæö",  # Icelandic
    "ąćęłńóśźż",  # Polish
    "áčďéěíňóřšťúůýž",  # Czech
    "áäčďéíĺľňóôŕšťúýž",  # Slovak
    "áéíóöőúüű",  # Hungarian
    "ăâîșțşţ",  # Romanian
    "čćđšž",  # Croatian, Slovenian, Bosnian, Serbian (Latin)
    "çğıöşüâî",  # Turkish
    "ąčęėįšųūž",  # Lithuanian
    "āčēģīķļņšūž",  # Latvian
    "äõöüšž",  # Estonian
    "абвгдежзийклмнопрстуфхцчшщъыьэюяё",  # Russian
    "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",  # Ukrainian
    "абвгдежзийклмнопрстуфхцчшщъьюя",  # Bulgarian
    "абвгдђежзијклљмнњопрстћуфхцчџш",  # Serbian (Cyrillic)
    "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώϊϋΐΰς",  # Greek
)


def _alphabet_fit(text: str) -> float:
    """Share of non-ASCII letters covered by the single best-fitting alphabet (1.0 if none)."""
    letters = [ch for ch in text.lower() if ord(ch) > 127 and ch.isalpha()]
    if not letters:
        return 1.0
    return max(sum(ch in alphabet for ch in letters) for alphabet in _ALPHABETS) / len(letters)


def _looks_utf16_without_bom(data: bytes) -> str | None:
    sample = data[:4096]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nul = even.count(0) / len(even)
    odd_nul = odd.count(0) / len(odd)
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def detect_encoding(data: bytes) -> tuple[str, str, bool]:
    """Decode subtitle bytes: BOMs first, then strict UTF-8, then an XML declaration,
    then charset-normalizer. Returns (text, encoding, lossy); lossy means some bytes
    were undecodable and became U+FFFD. Raises ValueError for binary data."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            payload = data[len(bom) :]
            try:
                return payload.decode(name.removesuffix("-sig")), name, False
            except UnicodeDecodeError:
                return payload.decode(name.removesuffix("-sig"), errors="replace"), name, True
    guess16 = _looks_utf16_without_bom(data)
    if guess16 is not None:
        try:
            return data.decode(guess16), guess16, False
        except UnicodeDecodeError:
            pass
    if b"\x00" in data:
        raise ValueError("binary data (NUL bytes)")
    try:
        return data.decode("utf-8"), "utf-8", False
    except UnicodeDecodeError:
        pass
    declared = _XML_DECL_ENCODING.match(data)
    if declared is not None:
        name = declared.group(1).decode("ascii").lower()
        try:
            return data.decode(name), name, False
        except (LookupError, UnicodeDecodeError):
            pass
    # Mostly UTF-8 with a few broken bytes (a file damaged by one bad edit) is far more
    # common than a legacy code page that happens to contain valid UTF-8 sequences.
    lossy = data.decode("utf-8", errors="replace")
    bad = lossy.count("\ufffd") - data.count("\ufffd".encode())
    good = sum(1 for ch in lossy if ord(ch) > 127 and ch != "\ufffd")
    if good >= 4 * bad:
        return lossy, "utf-8", True
    matches = list(from_bytes(data))
    if not matches:
        raise ValueError("no text encoding fits")
    best = matches[0]
    if _is_single_byte(best.encoding):
        candidates = [m for m in matches if _is_single_byte(m.encoding)]
        # Among equally plausible decodings prefer Windows-1252, by far the most common
        # legacy subtitle code page (short French text fits Czech cp1250 just as well:
        # "où" vs "ů"); otherwise keep charset-normalizer's order.
        fits = [
            (_alphabet_fit(str(m)), codecs.lookup(m.encoding).name == "cp1252", -i, m)
            for i, m in enumerate(candidates)
        ]
        best = max(fits, key=lambda f: f[:3])[3]
    return str(best), best.encoding, False


def _is_single_byte(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name not in _MULTI_BYTE
    except LookupError:
        return False


_MULTI_BYTE = frozenset(
    codecs.lookup(n).name
    for n in (
        "utf-8",
        "utf-16",
        "utf-32",
        "gb18030",
        "gbk",
        "gb2312",
        "hz",
        "big5",
        "big5hkscs",
        "cp950",
        "shift_jis",
        "cp932",
        "euc_jp",
        "euc_jis_2004",
        "euc_jisx0213",
        "iso2022_jp",
        "shift_jis_2004",
        "shift_jisx0213",
        "euc_kr",
        "cp949",
        "johab",
        "iso2022_kr",
    )
)


# --------------------------------------------------------------------------- text cleaning

_BRACE_BLOCK = re.compile(r"\{([^{}]*)\}")
_DRAWING = re.compile(r"\\p(\d+)")
_VTT_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")
_RUBY_ANNOTATION = re.compile(r"<(rt|rp)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
# A tag name touches its "<"; "a < b > c" is text, not a tag.
_HTML_TAG = re.compile(r"</?[A-Za-z][\w.:-]*(?:\s[^<>]*)?/?>")
_TIMESTAMP_TAG = re.compile(r"<\d[\d:.]*>")


def _strip_ass_overrides(raw: str, ass_family: bool) -> str:
    """Drop override blocks and, in drawing mode ({\\p1}..{\\p0}), the vector commands.

    In ASS every {...} block is an override or a comment; elsewhere only {\\...} is
    (SRT files converted from ASS often keep {\\an8})."""
    out: list[str] = []
    drawing = False
    pos = 0
    for m in _BRACE_BLOCK.finditer(raw):
        if not drawing:
            out.append(raw[pos : m.start()])
        body = m.group(1)
        if ass_family or body.startswith("\\"):
            for level in _DRAWING.findall(body):
                drawing = int(level) > 0
        else:
            if not drawing:
                out.append(m.group(0))
        pos = m.end()
    if not drawing:
        out.append(raw[pos:])
    return "".join(out)


def clean_text(raw: str, fmt: str) -> tuple[str, str | None]:
    """Markup-free text of one cue and the speaker named by its first VTT voice span."""
    ass_family = fmt in _ASS_FAMILY
    text = _strip_ass_overrides(raw, ass_family)
    text = text.replace("\\N", "\n").replace("\\h", " ")
    if ass_family:
        text = text.replace("\\n", "\n")
    speaker = None
    if fmt == "vtt":
        voice = _VTT_VOICE.search(text)
        if voice is not None:
            speaker = " ".join(html.unescape(voice.group(1)).split()) or None
    text = _RUBY_ANNOTATION.sub("", text)
    text = _TIMESTAMP_TAG.sub("", text)
    text = _HTML_TAG.sub("", text)
    if not ass_family:
        text = html.unescape(text)
    return " ".join(text.split()), speaker


# --------------------------------------------------------------------------- format detection

_TTML_ROOT = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?tt[\s>/]")


def _detect_format(text: str, ext_format: str | None) -> str | None:
    head = text.lstrip()[:8192]
    if head.startswith("<") and _TTML_ROOT.search(head):
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


# --------------------------------------------------------------------------- pysubs2 formats


@dataclass
class _RawCue:
    start_ms: int
    end_ms: int
    raw: str
    name: str | None = None
    plain: str | None = None  # text already free of markup (TTML), else None
    line: int | None = None  # 1-based line of its timing line (SRT, WebVTT)


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
            (i for i in block if "-->" in lines[i] or _timing_stamps(lines[i], "vtt")[0]), None
        )
        if timing is not None:
            kept[timing:end] = lines[timing:end]
        elif block and not _VTT_NON_CUE_BLOCK.match(lines[block[0]].strip()):
            warnings.append(
                SubtitleWarning(
                    None,
                    "skipped-text",
                    f"line {block[0] + 1}: text after a blank line belongs to no cue and is not"
                    f" read: {_quoted(lines[block[0]])}",
                )
            )
    return "\n".join(kept), warnings


_MICRODVD_LINE = re.compile(r"^\{(\d+)\}\{(\d*)\}(.*)$")


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


# --------------------------------------------------------------------------- timing lines

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
class _Timing:
    line: int  # 1-based line number in the file
    start_ms: int
    end_ms: int


def _quoted(line: str, limit: int = 80) -> str:
    text = line.strip()
    return f'"{text[:limit]}…"' if len(text) > limit else f'"{text}"'


def _timing_stamps(line: str, fmt: str) -> tuple[list[tuple[str, ...]], bool]:
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


def _scan_timing_lines(text: str, fmt: str) -> tuple[str, list[_Timing], list[SubtitleWarning]]:
    """Find the timing lines of an SRT or WebVTT text, one per cue in pysubs2's order.

    Warns, per cue, of each one not in the format's strict form, and rewrites it in that form
    so that pysubs2 starts a cue there; also warns of lines that look like timing but cannot
    be read (no cue starts there). The text keeps its line count."""
    lines = text.split("\n")
    timings: list[_Timing] = []
    warnings: list[SubtitleWarning] = []
    for i, line in enumerate(lines):
        stamps, native = _timing_stamps(line, fmt)
        if not stamps:
            if "-->" in line:
                # pysubs2 reads such a line, and the text after it, as text of the cue before.
                where = f"join cue {len(timings)}" if timings else "are not read"
                warnings.append(
                    SubtitleWarning(
                        None,
                        "bad-timing",
                        f"line {i + 1} looks like a timing line but cannot be read:"
                        f" {_quoted(line)}; no cue starts there, and this line and its text {where}",
                    )
                )
            continue
        timing = _Timing(i + 1, _stamp_ms(stamps[0]), _stamp_ms(stamps[1]))
        timings.append(timing)
        if native and _STRICT_TIMING[fmt].fullmatch(line):
            continue
        warnings.append(_timing_warning(len(timings), timing, line, stamps, fmt))
        sep = "." if fmt == "vtt" else ","
        strict = (_srt_time(ms).replace(",", sep) for ms in (timing.start_ms, timing.end_ms))
        lines[i] = " --> ".join(strict)
    return "\n".join(lines), timings, warnings


def _timing_warning(
    cue: int, timing: _Timing, line: str, stamps: list[tuple[str, ...]], fmt: str
) -> SubtitleWarning:
    read_as = f"read as {_fmt_ms(timing.start_ms)} --> {_fmt_ms(timing.end_ms)}"
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
            f"line {timing.line}: timing {_quoted(line)} has {', '.join(over)} (0-59);"
            f" {read_as}, as players do",
        )
    return SubtitleWarning(
        cue,
        "lenient-timing",
        f"line {timing.line}: timing {_quoted(line)} is not standard {_FORMAT_NAME[fmt]};"
        f" {read_as}",
    )


def _read_with_pysubs2(
    text: str, fmt: str, fps: float | None, name: str
) -> tuple[list[_RawCue], float | None, list[SubtitleWarning]]:
    warnings: list[SubtitleWarning] = []
    used_fps = None
    kwargs: dict[str, object] = {}
    timings: list[_Timing] = []
    if fmt == "vtt":
        text, skipped = _vtt_cue_blocks_only(text)
        warnings += skipped
    if fmt in ("srt", "vtt"):
        text, timings, timing_warnings = _scan_timing_lines(text, fmt)
        warnings += timing_warnings
        kwargs["keep_html_tags"] = True
        kwargs["keep_unknown_html_tags"] = True
    if fmt == "microdvd":
        declared, text = _microdvd_declared_fps(text)
        if declared is not None:
            if fps is not None and abs(fps - declared) > 0.01:
                warnings.append(
                    SubtitleWarning(
                        None,
                        "fps",
                        f"the file declares {declared:g} fps but the video runs at {fps:g} fps;"
                        f" frame numbers are read at the file's {declared:g} fps",
                    )
                )
            used_fps = declared
        elif fps is not None:
            used_fps = fps
        else:
            raise SubtitleError(
                f"{name}: MicroDVD subtitles count frames, not time, and the file does not state"
                " its frame rate. Give the video's frame rate (fps) so the frames can be"
                " converted to time, or convert the file to SRT."
            )
        kwargs["fps"] = used_fps
        warnings += _microdvd_skipped_lines(text)
    with warnings_module.catch_warnings(record=True) as caught:
        warnings_module.simplefilter("always")
        try:
            subs = pysubs2.SSAFile.from_string(text, format_=fmt, **kwargs)
        except (pysubs2.exceptions.Pysubs2Error, ValueError, IndexError, KeyError) as err:
            raise SubtitleError(
                f"{name}: not a readable {fmt.upper()} file ({err}). Repair the line it names"
                " in a subtitle editor, or export the subtitles again."
            ) from err
    for message in dict.fromkeys(str(w.message) for w in caught):
        warnings.append(SubtitleWarning(None, "reader", f"{fmt.upper()} reader: {message}"))
    cues = []
    for event in subs.events:
        if event.is_comment:
            continue
        raw = event.text
        if fmt in ("srt", "vtt"):
            raw = raw.replace("\\N", "\n")
        cues.append(_RawCue(event.start, event.end, raw, event.name or None))
    if fmt in ("srt", "vtt"):
        # One pysubs2 cue per timing line that _scan_timing_lines found; its times are the
        # ones the warnings quote (and read WebVTT fractions right).
        for cue, timing in zip(cues, timings, strict=True):
            cue.start_ms, cue.end_ms, cue.line = timing.start_ms, timing.end_ms, timing.line
    return cues, used_fps, warnings


# --------------------------------------------------------------------------- TTML

_TIME_CLOCK = re.compile(r"^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)(?::(\d+)(?:\.(\d+))?)?$")
_TIME_OFFSET = re.compile(r"^(\d+(?:\.\d+)?)(h|ms|m|s|f|t)$")


@dataclass
class _TtmlClock:
    frame_rate: float = 30.0  # effective: ttp:frameRate x ttp:frameRateMultiplier
    sub_frame_rate: float = 1.0
    tick_rate: float = 1.0

    @classmethod
    def from_root(cls, root: ET.Element) -> _TtmlClock:
        attrs = {_local(k): v.strip() for k, v in root.attrib.items()}
        rate = float(attrs.get("frameRate", "30"))
        multiplier = attrs.get("frameRateMultiplier", "1 1").split()
        if len(multiplier) == 2:
            rate *= float(multiplier[0]) / float(multiplier[1])
        sub = float(attrs.get("subFrameRate", "1"))
        if "tickRate" in attrs:
            tick = float(attrs["tickRate"])
        elif "frameRate" in attrs:
            tick = rate * sub  # TTML: ticks are sub-frames when only a frame rate is given
        else:
            tick = 1.0
        return cls(rate, sub, tick)

    def seconds(self, expr: str) -> float:
        expr = expr.strip()
        m = _TIME_CLOCK.match(expr)
        if m:
            hours, minutes, secs, frames, subframes = m.groups()
            total = int(hours) * 3600 + int(minutes) * 60 + float(secs)
            if frames:
                total += int(frames) / self.frame_rate
            if subframes:
                total += int(subframes) / (self.frame_rate * self.sub_frame_rate)
            return total
        m = _TIME_OFFSET.match(expr)
        if m:
            value, metric = float(m.group(1)), m.group(2)
            scale = {
                "h": 3600.0,
                "m": 60.0,
                "s": 1.0,
                "ms": 0.001,
                "f": 1.0 / self.frame_rate,
                "t": 1.0 / self.tick_rate,
            }[metric]
            return value * scale
        raise ValueError(f"unreadable TTML time expression {expr!r}")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ttml_inner_markup(elem: ET.Element) -> str:
    """The element's content as markup with namespace prefixes dropped (for Cue.raw)."""
    parts = [html.escape(elem.text or "", quote=False)]
    for child in elem:
        tag = _local(child.tag)
        attrs = "".join(f' {_local(k)}="{html.escape(v)}"' for k, v in child.attrib.items())
        if len(child) == 0 and not child.text:
            parts.append(f"<{tag}{attrs}/>")
        else:
            parts.append(f"<{tag}{attrs}>{_ttml_inner_markup(child)}</{tag}>")
        parts.append(html.escape(child.tail or "", quote=False))
    return "".join(parts)


def _ttml_text(elem: ET.Element) -> str:
    parts = [elem.text or ""]
    for child in elem:
        tag = _local(child.tag)
        if tag == "br":
            parts.append("\n")
        elif tag == "metadata" or "metadata" in child.tag or "#metadata" in child.tag:
            pass  # ttm:* elements carry titles, agents, descriptions: not spoken text
        elif any(
            _local(k) == "ruby" and v in ("text", "textContainer") for k, v in child.attrib.items()
        ):
            pass  # ruby annotation (reading aid), the base text is what is spoken
        else:
            parts.append(_ttml_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _ttml_agents(root: ET.Element) -> dict[str, str]:
    agents: dict[str, str] = {}
    for elem in root.iter():
        if _local(elem.tag) != "agent":
            continue
        ident = next((v for k, v in elem.attrib.items() if _local(k) == "id"), None)
        if ident is None:
            continue
        name = next(
            (" ".join((n.text or "").split()) for n in elem.iter() if _local(n.tag) == "name"), ""
        )
        agents[ident] = name or ident
    return agents


def _read_ttml(text: str, name: str) -> list[_RawCue]:
    # ElementTree never fetches external entities, and refusing DTDs outright rules out
    # entity-expansion bombs: subtitle files have no business declaring either.
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise SubtitleError(
            f"{name}: this TTML file declares a DTD or entities, which is refused for safety;"
            " remove the <!DOCTYPE ...> part or export the subtitles again."
        )
    try:
        root = ET.fromstring(text.lstrip("\ufeff"))
    except ET.ParseError as err:
        raise SubtitleError(
            f"{name}: not well-formed TTML/XML ({err}); repair or re-export it."
        ) from err
    if _local(root.tag) != "tt":
        raise SubtitleError(f"{name}: XML, but not TTML (root element <{_local(root.tag)}>).")
    clock = _TtmlClock.from_root(root)
    agents = _ttml_agents(root)
    cues: list[_RawCue] = []

    def attr(elem: ET.Element, key: str) -> str | None:
        return next((v for k, v in elem.attrib.items() if _local(k) == key), None)

    def walk(
        elem: ET.Element, parent_begin: float, parent_end: float | None, agent: str | None
    ) -> None:
        begin_attr, end_attr, dur_attr = attr(elem, "begin"), attr(elem, "end"), attr(elem, "dur")
        try:
            begin = parent_begin + (clock.seconds(begin_attr) if begin_attr else 0.0)
            if end_attr:
                end: float | None = parent_begin + clock.seconds(end_attr)
            elif dur_attr:
                end = begin + clock.seconds(dur_attr)
            else:
                end = parent_end
        except ValueError as err:
            raise SubtitleError(f"{name}: {err}.") from err
        agent = attr(elem, "agent") or agent
        if _local(elem.tag) == "p":
            stop = begin if end is None else end
            speaker = agents.get(agent.split()[0], agent.split()[0]) if agent else None
            cues.append(
                _RawCue(
                    round(begin * 1000),
                    round(stop * 1000),
                    _ttml_inner_markup(elem),
                    speaker,
                    _ttml_text(elem),
                )
            )
            return
        for child in elem:
            walk(child, begin, end, agent)

    body = next((e for e in root if _local(e.tag) == "body"), None)
    if body is not None:
        walk(body, 0.0, None, None)
    return cues


# --------------------------------------------------------------------------- checks and merging


def _fmt_ms(ms: int) -> str:
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{sign}{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _check(cues: list[Cue], video_duration_ms: int | None) -> list[SubtitleWarning]:
    warnings: list[SubtitleWarning] = []
    for cue in cues:
        # A skipped cue names its line too, so that the editor can find and fix it.
        at = f"line {cue.line}: " if cue.line is not None else ""
        if "\ufffd" in cue.raw:
            warnings.append(
                SubtitleWarning(
                    cue.index,
                    "encoding",
                    "contains undecodable characters (U+FFFD); check the file's encoding",
                )
            )
        if not cue.text:
            what = "markup only" if cue.raw.strip() else "no text"
            warnings.append(
                SubtitleWarning(cue.index, "empty", f"{at}has {what}; it will be skipped")
            )
        if cue.duration_ms == 0:
            warnings.append(
                SubtitleWarning(
                    cue.index,
                    "zero-length",
                    f"{at}starts and ends at {_fmt_ms(cue.start_ms)}; it will be skipped",
                )
            )
        elif cue.duration_ms < 0:
            warnings.append(
                SubtitleWarning(
                    cue.index,
                    "negative",
                    f"{at}ends ({_fmt_ms(cue.end_ms)}) before it starts ({_fmt_ms(cue.start_ms)});"
                    " it will be skipped",
                )
            )
        cue.usable = bool(cue.text) and cue.duration_ms > 0

    usable = [c for c in cues if c.usable]
    for prev, cue in zip(usable, usable[1:], strict=False):
        if cue.start_ms < prev.start_ms:
            warnings.append(
                SubtitleWarning(
                    None,
                    "order",
                    f"cues are not in time order (cue {cue.index} starts before cue {prev.index});"
                    " they are used in time order",
                )
            )
            break

    latest: Cue | None = None  # the cue reaching furthest so far, in time order
    for cue in sorted(usable, key=lambda c: (c.start_ms, c.index)):
        if latest is not None and cue.start_ms < latest.end_ms:
            overlap = min(latest.end_ms, cue.end_ms) - cue.start_ms
            warnings.append(
                SubtitleWarning(
                    cue.index, "overlap", f"overlaps cue {latest.index} by {overlap} ms"
                )
            )
        if latest is None or cue.end_ms > latest.end_ms:
            latest = cue

    if video_duration_ms is not None:
        end = _fmt_ms(video_duration_ms)
        for cue in usable:
            if cue.start_ms >= video_duration_ms:
                warnings.append(
                    SubtitleWarning(
                        cue.index,
                        "past-end",
                        f"starts at {_fmt_ms(cue.start_ms)}, after the video ends ({end})",
                    )
                )
            elif cue.end_ms > video_duration_ms:
                warnings.append(
                    SubtitleWarning(
                        cue.index,
                        "past-end",
                        f"ends at {_fmt_ms(cue.end_ms)}, {cue.end_ms - video_duration_ms} ms after"
                        f" the video ends ({end})",
                    )
                )
    warnings.sort(key=lambda w: (w.cue is not None, w.cue or 0))
    return warnings


_SENTENCE_END = frozenset(".!?…。！？‼⁇⁈⁉؟۔।॥։።｡")
_CLOSERS = "\"'”’»›」』）)]}】〕〉》♪ "


def ends_sentence(text: str) -> bool:
    stripped = text.rstrip().rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _SENTENCE_END


def _merge_split_sentences(cues: list[Cue]) -> list[Cue]:
    """Join a cue that stops mid-sentence with the next one of the same speaker when the
    gap is at most MERGE_MAX_GAP_MS, so the line is synthesised with its natural prosody."""
    groups: list[list[Cue]] = []
    for cue in sorted((c for c in cues if c.usable), key=lambda c: (c.start_ms, c.index)):
        if groups:
            last = groups[-1]
            end = max(c.end_ms for c in last)
            if (
                last[-1].speaker_hint == cue.speaker_hint
                and not ends_sentence(last[-1].text)
                and cue.start_ms - end <= MERGE_MAX_GAP_MS
            ):
                last.append(cue)
                continue
        groups.append([cue])
    merged: list[Cue] = []
    for group in groups:
        if len(group) == 1:
            merged.append(group[0])
            continue
        first = group[0]
        merged.append(
            Cue(
                index=first.index,
                start_ms=first.start_ms,
                end_ms=max(c.end_ms for c in group),
                text=" ".join(c.text for c in group),
                speaker_hint=first.speaker_hint,
                raw="\n".join(c.raw for c in group),
                usable=True,
                sources=tuple(c.index for c in group),
                line=first.line,
            )
        )
    merged += [c for c in cues if not c.usable]
    return sorted(merged, key=lambda c: c.index)


# --------------------------------------------------------------------------- entry points


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
    if fmt_hint is not None:
        fmt_hint = fmt_hint.lower().lstrip(".")
        fmt_hint = _EXTENSION_FORMAT.get("." + fmt_hint, fmt_hint)
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    warnings: list[SubtitleWarning] = []
    if not text.strip():
        raise SubtitleError(f"{name}: the file is empty; choose the subtitle file for this video.")
    fmt = _detect_format(text, fmt_hint)
    if fmt is None:
        if fmt_hint is None:
            raise SubtitleError(
                f"{name}: unknown subtitle format. Supported: SRT, ASS/SSA, WebVTT, MicroDVD"
                " (.sub) and TTML/DFXP; convert the file to one of them (SRT is safest)."
            )
        fmt = fmt_hint
        guessed = True
    else:
        guessed = False
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

    used_fps = None
    if fmt == "ttml":
        raws = _read_ttml(text, name)
    else:
        raws, used_fps, fmt_warnings = _read_with_pysubs2(text, fmt, fps, name)
        warnings += fmt_warnings

    if not raws and guessed:
        raise SubtitleError(
            f"{name}: no subtitle cues found; the content is not recognisable {fmt.upper()}."
            " Check that this is the right file, or convert it to SRT."
        )
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

    cues = []
    for i, rc in enumerate(raws, start=1):
        if rc.plain is not None:
            text_clean = " ".join(rc.plain.split())
            speaker = rc.name
        else:
            text_clean, voice = clean_text(rc.raw, fmt)
            speaker = voice if fmt == "vtt" else (" ".join((rc.name or "").split()) or None)
        cues.append(Cue(i, rc.start_ms, rc.end_ms, text_clean, speaker, rc.raw, line=rc.line))

    warnings += _check(cues, video_duration_ms)
    if merge_split_sentences:
        cues = _merge_split_sentences(cues)
    return SubtitleDoc(path, fmt, encoding, cues, warnings, used_fps)


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
    try:
        data = path.read_bytes()
    except OSError as err:
        raise SubtitleError(f"{path.name}: cannot be read ({err.strerror or err}).") from err
    if not data.strip():
        raise SubtitleError(
            f"{path.name}: the file is empty; choose the subtitle file for this video."
        )
    try:
        text, encoding, lossy = detect_encoding(data)
    except ValueError as err:
        hint = ""
        if path.suffix.lower() == ".sub":
            hint = " A binary .sub is usually VobSub (subtitle pictures), which needs OCR first."
        raise SubtitleError(
            f"{path.name}: this is a binary file (a video or image subtitles?), not a text"
            f" subtitle file ({err}).{hint} Choose the SRT/ASS/VTT file instead."
        ) from err
    doc = parse_subtitle_text(
        text,
        _EXTENSION_FORMAT.get(path.suffix.lower()),
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


def _looks_like_text_subtitle(path: Path) -> bool:
    try:
        head = path.read_bytes()[:4096]
    except OSError:
        return False
    if path.suffix.lower() == ".xml":
        try:
            sample, _, _ = detect_encoding(head)
        except (ValueError, UnicodeDecodeError):
            return False
        return bool(_TTML_ROOT.search(sample))
    if path.suffix.lower() == ".sub":
        # VobSub .sub files are MPEG program streams: picture subtitles we cannot read.
        return b"\x00" not in head
    return True


def find_subtitles_for(video: Path) -> Path | None:
    """The subtitle file beside a video: same stem (movie.srt) preferred over a
    language-tagged one (movie.en.srt); extensions ranked as SUBTITLE_EXTENSIONS."""
    video = Path(video)
    try:
        siblings = [p for p in video.parent.iterdir() if p.is_file() and p != video]
    except OSError:
        return None
    rank = {ext: i for i, ext in enumerate(SUBTITLE_EXTENSIONS)}
    exact: list[tuple[int, int, str, Path]] = []
    tagged: list[tuple[int, int, str, Path]] = []
    for p in siblings:
        ext = p.suffix.lower()
        if ext not in rank:
            continue
        stem = p.name[: -len(p.suffix)]
        # Editors on macOS and Windows do not see case; "Movie.SRT" belongs to "movie.mp4".
        # Among equals, the same case wins.
        case_rank = 0 if stem.startswith(video.stem) else 1
        if stem.casefold() == video.stem.casefold():
            exact.append((rank[ext], case_rank, p.name, p))
        elif stem.casefold().startswith(video.stem.casefold() + "."):
            tagged.append((rank[ext], case_rank, p.name, p))
    for group in (exact, tagged):
        for *_, p in sorted(group):
            if _looks_like_text_subtitle(p):
                return p
    return None


def _srt_time(ms: int) -> str:
    h, rem = divmod(max(0, int(ms)), 3_600_000)
    m, rem = divmod(rem, 60_000)
    sec, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{sec:02d},{ms:03d}"


def write_clean_srt(cues: list[Cue], path: Path) -> Path:
    """The cues as a plain UTF-8 SRT (cleaned text): what gets muxed as a subtitle track,
    whatever the source's format or encoding was."""
    blocks = [
        f"{n}\n{_srt_time(c.start_ms)} --> {_srt_time(c.end_ms)}\n{c.text}\n"
        for n, c in enumerate(cues, start=1)
    ]
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(blocks), encoding="utf-8")
    tmp.replace(path)
    return path
