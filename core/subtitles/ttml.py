"""TTML / DFXP -> raw cues.

Time expressions are read by pysubs2, as every other format's times are: what pysubs2
reads is read with pysubs2. That includes forms TTML does not define but Apple writes
(``3:58.640``, ``19.764``). Only the frame and tick forms pysubs2 does not support
(``00:00:03:05``, ``200f``, ``9000t``) are read here, with the document's frame and tick
rates.

The document is walked here rather than by pysubs2's TTML reader because that reader
(pysubs2 1.8) loses things a dub needs, each of them pinned by tests:

- who speaks: ``ttm:agent`` -> ``ttm:name`` becomes the cue's speaker hint; pysubs2 drops it;
- what is spoken: a ruby annotation (``tts:ruby="text"``) is a reading aid, and pysubs2 keeps
  its text, so the dub would say it twice;
- timing: ``dur`` (pysubs2 looks for a ``duration`` attribute), frames, ticks,
  ``ttp:frameRateMultiplier``;
- cues: it only looks at ``body/div/p`` in the TTML 2010 namespace, so the ``<p>`` of nested
  ``<div>``s, ``<p>`` right in ``<body>`` and DFXP files in the older namespaces would
  vanish without a word;
- ``Cue.raw``: the cue's markup; pysubs2 keeps plain text only.
"""

from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from pysubs2.formats.ttml import TTMLFormat

from core.subtitles.cue_types import RawCue, SubtitleError, SubtitleWarning

__all__ = ["has_ttml_root", "read_ttml"]

_TTML_ROOT = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?tt[\s>/]")

# Apple's iTunes TTML (its lyrics, say) gives every <p> its absolute time although it sits
# in a timed <div>, which TTML would add to it (see pysubs2's ignore_par_time_offset).
_APPLE_ITUNES_NS = "http://music.apple.com/lyric-ttml-internal"

# The forms pysubs2 refuses: clock time with frames (and sub-frames), frame and tick counts.
_FRAME_CLOCK = re.compile(r"^(\d+):(\d{2}):(\d{2}(?:\.\d+)?):(\d+)(?:\.(\d+))?$")
_FRAME_OR_TICK_COUNT = re.compile(r"^(\d+(?:\.\d+)?)(f|t)$")
_MAX_MS = 1e12  # some 31 years: no subtitle time is near it


def has_ttml_root(text: str) -> bool:
    """Whether the text holds a <tt> element (any namespace prefix)."""
    return _TTML_ROOT.search(text) is not None


def read_ttml(text: str, name: str) -> tuple[list[RawCue], list[SubtitleWarning]]:
    """The cues of a TTML/DFXP text, in document order, and warnings about the file.

    name is the file's name, for error messages."""
    root = _parse(text, name)
    absolute = _APPLE_ITUNES_NS in text
    walker = _Walker(_Clock.from_root(root, name), _agents(root), absolute, name)
    body = next((e for e in root if _local(e.tag) == "body"), None)
    if body is not None:
        try:
            walker.walk(body, 0.0, None, None)
        except RecursionError as err:
            # Real subtitles nest a few levels; thousands are a broken or hostile file.
            raise SubtitleError(
                f"{name}: the TTML elements are nested too deeply to read; re-export the file."
            ) from err
    warnings = []
    if absolute:
        warnings.append(
            SubtitleWarning(
                None,
                "format",
                "Apple iTunes TTML: each line's begin and end are read as absolute times, as"
                " Apple writes them (TTML would count them from the start of their <div>)",
            )
        )
    return walker.cues, warnings


def _parse(text: str, name: str) -> ET.Element:
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
    return root


def _positive(value: str) -> float:
    number = float(value)
    if not 0 < number < float("inf"):
        raise ValueError(f"{value!r}")
    return number


def _local(tag: str) -> str:
    """The name without its {namespace}: DFXP's older namespaces mean the same elements."""
    return tag.rsplit("}", 1)[-1]


def _local_attrs(elem: ET.Element) -> dict[str, str]:
    """The attributes by local name; of two with one local name, the first counts."""
    attrs: dict[str, str] = {}
    for key, value in elem.attrib.items():
        attrs.setdefault(_local(key), value)
    return attrs


def _attr(elem: ET.Element, key: str) -> str | None:
    """An attribute by its local name (begin, ttm:agent, tts:ruby...), whatever its namespace."""
    return next((v for k, v in elem.attrib.items() if _local(k) == key), None)


# --------------------------------------------------------------------------- time expressions


@dataclass(frozen=True)
class _Clock:
    """The document's frame and tick rates, for the time expressions that count them."""

    frame_rate: float = 30.0  # effective: ttp:frameRate x ttp:frameRateMultiplier
    sub_frame_rate: float = 1.0
    tick_rate: float = 1.0

    @classmethod
    def from_root(cls, root: ET.Element, name: str) -> _Clock:
        attrs = {_local(k): v.strip() for k, v in root.attrib.items()}
        try:
            rate = _positive(attrs.get("frameRate", "30"))
            multiplier = attrs.get("frameRateMultiplier", "1 1").split()
            if len(multiplier) == 2:
                rate *= _positive(multiplier[0]) / _positive(multiplier[1])
            sub = _positive(attrs.get("subFrameRate", "1"))
            if "tickRate" in attrs:
                tick = _positive(attrs["tickRate"])
            elif "frameRate" in attrs:
                tick = rate * sub  # TTML: ticks are sub-frames when only a frame rate is given
            else:
                tick = 1.0
        except ValueError as err:
            raise SubtitleError(
                f"{name}: the <tt> element's frame or tick rate is not a positive number"
                f" ({err}); repair or re-export the file."
            ) from err
        return cls(rate, sub, tick)

    def ms(self, expr: str) -> float:
        """Milliseconds of a time expression; ValueError if it cannot be read."""
        expr = expr.strip()
        try:
            value = float(TTMLFormat.timestamp_to_ms(expr))
        except NotImplementedError:
            # pysubs2's way of saying it does not read this form: frames, ticks, or garbage.
            value = self._frames_or_ticks_ms(expr)
        except OverflowError:  # a count too large for a float
            value = math.inf
        if not value <= _MAX_MS:
            # Bounded so that nested times add up to numbers a cue can hold.
            raise ValueError(f"TTML time expression {expr!r} is out of range")
        return value

    def _frames_or_ticks_ms(self, expr: str) -> float:
        m = _FRAME_CLOCK.match(expr)
        if m:
            hours, minutes, secs, frames, subframes = m.groups()
            total = int(hours) * 3600 + int(minutes) * 60 + float(secs)
            total += int(frames) / self.frame_rate
            if subframes:
                total += int(subframes) / (self.frame_rate * self.sub_frame_rate)
            return total * 1000
        m = _FRAME_OR_TICK_COUNT.match(expr)
        if m:
            rate = self.frame_rate if m.group(2) == "f" else self.tick_rate
            return float(m.group(1)) / rate * 1000
        raise ValueError(f"unreadable TTML time expression {expr!r}")


# --------------------------------------------------------------------------- the document


@dataclass
class _Walker:
    """Walks body -> div -> p, nesting each element's times inside its parent's."""

    clock: _Clock
    agents: dict[str, str]  # xml:id -> the agent's name
    absolute_p_times: bool  # Apple iTunes: a <p>'s times do not count from its parent's
    name: str
    cues: list[RawCue] = field(default_factory=list)

    def walk(
        self, elem: ET.Element, parent_begin: float, parent_end: float | None, agent: str | None
    ) -> None:
        is_p = _local(elem.tag) == "p"
        if is_p and self.absolute_p_times:
            parent_begin = 0.0
        attrs = _local_attrs(elem)
        begin, end = self._interval(attrs, parent_begin, parent_end)
        agent = attrs.get("agent") or agent
        if is_p:
            self.cues.append(self._cue(elem, begin, begin if end is None else end, agent))
            return
        for child in elem:
            self.walk(child, begin, end, agent)

    def _interval(
        self, attrs: dict[str, str], parent_begin: float, parent_end: float | None
    ) -> tuple[float, float | None]:
        """Begin and end in ms from the document's start; end None when nothing bounds it."""
        begin_attr, end_attr, dur_attr = attrs.get("begin"), attrs.get("end"), attrs.get("dur")
        try:
            begin = parent_begin + (self.clock.ms(begin_attr) if begin_attr else 0.0)
            if end_attr:
                return begin, parent_begin + self.clock.ms(end_attr)
            if dur_attr:
                return begin, begin + self.clock.ms(dur_attr)
            return begin, parent_end
        except ValueError as err:
            raise SubtitleError(f"{self.name}: {err}.") from err

    def _cue(self, p: ET.Element, begin: float, end: float, agent: str | None) -> RawCue:
        # ttm:agent may list several agents; the first is the one who speaks.
        first = agent.split()[0] if agent else None
        speaker = self.agents.get(first, first) if first else None
        return RawCue(round(begin), round(end), _inner_markup(p), speaker, _spoken_text(p))


def _agents(root: ET.Element) -> dict[str, str]:
    """ttm:agent xml:id -> its ttm:name (the id itself when it has no name)."""
    agents: dict[str, str] = {}
    for elem in root.iter():
        if _local(elem.tag) != "agent":
            continue
        ident = _attr(elem, "id")
        if ident is None:
            continue
        name = next(
            (" ".join((n.text or "").split()) for n in elem.iter() if _local(n.tag) == "name"), ""
        )
        agents[ident] = name or ident
    return agents


def _inner_markup(elem: ET.Element) -> str:
    """The element's content as markup with namespace prefixes dropped (for Cue.raw)."""
    parts = [html.escape(elem.text or "", quote=False)]
    for child in elem:
        tag = _local(child.tag)
        attrs = "".join(f' {_local(k)}="{html.escape(v)}"' for k, v in child.attrib.items())
        if len(child) == 0 and not child.text:
            parts.append(f"<{tag}{attrs}/>")
        else:
            parts.append(f"<{tag}{attrs}>{_inner_markup(child)}</{tag}>")
        parts.append(html.escape(child.tail or "", quote=False))
    return "".join(parts)


def _spoken_text(elem: ET.Element) -> str:
    """The text a viewer reads, <br/> as a line break; metadata and ruby annotations left out."""
    parts = [elem.text or ""]
    for child in elem:
        tag = _local(child.tag)
        if tag == "br":
            parts.append("\n")
        elif "metadata" in child.tag:
            # <metadata>, and every ttm:* element (its namespace ends in #metadata): titles,
            # agents, descriptions, not spoken text.
            pass
        elif _attr(child, "ruby") in ("text", "textContainer"):
            pass  # ruby annotation (reading aid), the base text is what is spoken
        else:
            parts.append(_spoken_text(child))
        parts.append(child.tail or "")
    return "".join(parts)
