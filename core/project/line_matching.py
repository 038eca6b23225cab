"""Which project line each subtitle cue is: a line's identity survives subtitle edits.

Cue numbers shift when a cue is inserted or removed, so matching by number would move
every later emotion setting onto the wrong line. A cue is matched to a line by, in turn:
the same span and text; the same text (the closest in time, so retimed files and repeated
"Yes." lines land right); the largest overlap of spans (text edited in place). A line whose
cue is gone is kept, detached, when the editor set something on it, and comes back when
its cue does. Everything is linear-logarithmic: a 10,000-cue file merges at once.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass, field

from core import project as proj
from core.notices import Notice
from core.subtitles.read import Cue

MIN_OVERLAP = 0.5  # of the shorter span: a cue retimed by a few frames is still its line


@dataclass
class CueMerge:
    lines: dict[int, proj.Line]  # cue number -> its line
    detached: list[proj.Line] = field(default_factory=list)  # newly detached this merge
    notices: list[Notice] = field(default_factory=list)


def _words(text: str) -> str:
    """Text as compared: case, punctuation and spacing do not make another line."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def _overlap(a: Cue, b: proj.Line) -> float:
    shared = min(a.end_ms, b.end_ms) - max(a.start_ms, b.start_ms)
    shorter = min(a.end_ms - a.start_ms, b.end_ms - b.start_ms)
    return shared / shorter if shorter > 0 and shared > 0 else 0.0


def _match(cues: list[Cue], candidates: list[proj.Line]) -> dict[int, proj.Line]:
    """cue number -> candidate line, each candidate used at most once."""
    taken: set[int] = set()  # id() of used candidates
    found: dict[int, proj.Line] = {}

    exact: dict[tuple[int, int, str], list[proj.Line]] = defaultdict(list)
    for line in candidates:
        exact[(line.start_ms, line.end_ms, _words(line.text))].append(line)

    def claim(cue: Cue, line: proj.Line) -> None:
        taken.add(id(line))
        found[cue.index] = line

    for cue in cues:
        for line in exact.get((cue.start_ms, cue.end_ms, _words(cue.text)), ()):
            if id(line) not in taken:
                claim(cue, line)
                break
    # Same text: the free line nearest in time (ties: the earlier candidate), found by
    # bisection in the text's lines sorted by start, so 1,000 "Yes." cost n log n.
    same_text: dict[str, tuple[list[int], list[tuple[int, int, proj.Line]]]] = {}
    for pos, line in enumerate(candidates):
        if id(line) not in taken:
            same_text.setdefault(_words(line.text), ([], []))[1].append((line.start_ms, pos, line))
    for starts, entries in same_text.values():
        entries.sort(key=lambda e: (e[0], e[1]))
        starts.extend(e[0] for e in entries)
    for cue in cues:
        if cue.index in found:
            continue
        starts, entries = same_text.get(_words(cue.text), ([], []))
        if not starts:
            continue
        i = bisect.bisect_left(starts, cue.start_ms)
        d = min(abs(starts[j] - cue.start_ms) for j in (i - 1, i) if 0 <= j < len(starts))
        pick = min(
            (j for v in {cue.start_ms - d, cue.start_ms + d}
             for j in range(bisect.bisect_left(starts, v), bisect.bisect_right(starts, v))),
            key=lambda j: entries[j][1],
        )  # fmt: skip
        claim(cue, entries[pick][2])
        del starts[pick], entries[pick]

    rest = sorted((ln for ln in candidates if id(ln) not in taken), key=lambda ln: ln.start_ms)
    starts = [ln.start_ms for ln in rest]
    longest = max((ln.end_ms - ln.start_ms for ln in rest), default=0)
    for cue in cues:
        if cue.index in found:
            continue
        # Only lines starting within [cue.start - longest, cue.end) can overlap the cue.
        lo = bisect.bisect_left(starts, cue.start_ms - longest)
        hi = bisect.bisect_left(starts, cue.end_ms)
        best = max(
            (ln for ln in rest[lo:hi] if id(ln) not in taken),
            key=lambda ln: _overlap(cue, ln),
            default=None,
        )
        if best is not None and _overlap(cue, best) >= MIN_OVERLAP:
            claim(cue, best)
    return found


def _ms(ms: int) -> str:
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    return f"{m // 60:d}:{m % 60:02d}:{s:02d}.{ms:03d}"


def merge_cues(
    project: proj.Project,
    cues: list[Cue],
    speakers: dict[int, str],
    names: dict[str, str],
) -> CueMerge:
    """Bring the project's lines and speakers in line with the subtitles' cues, keeping each
    line's own settings (emotion, takes). Afterwards `project.lines` holds exactly one line
    per cue, in playback order; lost lines with editor settings are in `detached_lines`."""
    for sid, name in names.items():
        project.named_speaker(sid, name)
    was_attached = {id(ln) for ln in project.lines}
    candidates = [*project.lines, *project.detached_lines]
    found = _match(cues, candidates)
    used = {id(ln) for ln in found.values()}

    lines: dict[int, proj.Line] = {}
    for c in cues:
        line = found.get(c.index)
        if line is None:
            line = proj.Line(index=c.index, start_ms=c.start_ms, end_ms=c.end_ms, text=c.text)
        line.index, line.start_ms, line.end_ms, line.text = c.index, c.start_ms, c.end_ms, c.text
        # The editor's choice survives every re-read; a hint in the subtitles decides next;
        # a speaker found by analysing the audio stays until the analysis runs again.
        if line.speaker_source != "user":
            if c.speaker_hint:
                line.speaker_id, line.speaker_source = speakers[c.index], "hint"
            elif line.speaker_source in ("", "hint", "single"):
                line.speaker_id, line.speaker_source = speakers[c.index], ""
        lines[c.index] = line
    merge = CueMerge(lines)
    kept = [ln for ln in candidates if id(ln) not in used and ln.has_editor_settings]
    for line in kept:
        if id(line) in was_attached:
            merge.detached.append(line)
            merge.notices.append(
                Notice(
                    None,
                    "line-gone",
                    f'the line "{line.text[:60]}" (cue {line.index} at {_ms(line.start_ms)}) '
                    "is no longer in the subtitles; its settings are kept in the project "
                    "and come back if the line does",
                )
            )
    project.lines = sorted(lines.values(), key=lambda ln: (ln.start_ms, ln.index))
    project.detached_lines = kept
    project.give_line_ids()
    return merge
