"""Cue markup -> spoken text: ASS override blocks and drawings, HTML-ish tags, WebVTT voices.

What a dub synthesises is the text a viewer reads, so every kind of markup the formats
carry goes, and the speaker a WebVTT voice span names is kept as a hint.
"""

from __future__ import annotations

import html
import re

__all__ = ["ASS_FAMILY", "clean_text"]

# Formats whose text uses ASS conventions once pysubs2 has read them
# (MicroDVD's {y:i} codes are turned into ASS override tags by pysubs2).
ASS_FAMILY = frozenset({"ass", "ssa", "microdvd"})

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
    ass_family = fmt in ASS_FAMILY
    text = _strip_ass_overrides(raw, ass_family)
    text = text.replace("\\N", "\n").replace("\\h", " ")
    if ass_family:
        text = text.replace("\\n", "\n")
    # Voices are a WebVTT notion; "<v Al>" elsewhere is just a stray tag.
    speaker = _vtt_voice(text) if fmt == "vtt" else None
    text = _RUBY_ANNOTATION.sub("", text)
    text = _TIMESTAMP_TAG.sub("", text)
    text = _HTML_TAG.sub("", text)
    if not ass_family:
        text = html.unescape(text)
    return " ".join(text.split()), speaker


def _vtt_voice(text: str) -> str | None:
    """The speaker named by the first <v Name> span, whitespace collapsed."""
    voice = _VTT_VOICE.search(text)
    if voice is None:
        return None
    return " ".join(html.unescape(voice.group(1)).split()) or None
