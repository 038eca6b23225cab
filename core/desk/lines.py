"""The subtitle editor's structural moves on lines, Qt-free: split a line in two, merge a
line with the next, insert a line in a gap, delete lines.

A line's cue number (`Line.index`) is its name everywhere (table, report, stems, warnings)
and its id (`Line.id`) seeds its takes, so a move never renames a line that stays and never
gives a new line a number another line had: the project keeps the highest number it ever
gave out (`LAST_NUMBER` in `Project.extra`), spent even when the move is undone, because
stems and reports written meanwhile may name it.

Each move builds new Line objects for what changed and leaves the project's own objects
untouched, so the caller (the desk's undo stack) can put the old list back as it was. A
line made from another keeps that line's settings (speaker, emotion, duration mode, its
own `extra`) but not its takes: their audio speaks the old text.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass

from core import project as proj
from core.desk import review as desk_review
from core.desk import status as desk
from core.subtitles.cue_types import Cue

MIN_SPLIT_MS = 2 * desk.MIN_SPAN_MS  # each half must be a line that can be spoken
MIN_GAP_MS = desk.MIN_SPAN_MS  # the shortest line an insert makes
INSERT_MS = 2000  # an inserted line's length when the gap holds it
LAST_NUMBER = "last_line_number"  # Project.extra: the highest cue number ever given out
# Line.extra keys that describe the line's takes: meaningless once the text changed.
TAKE_KEYS = (desk.SEED_KEY, desk.RENDERED_AS, desk_review.APPROVED)


class LineMoveRefused(ValueError):
    """The move cannot be made; the message says why, in the editor's words."""


@dataclass(frozen=True)
class LinesEdit:
    """The project's lines after a move (playback order), the line to select and what to
    tell the editor."""

    lines: tuple[proj.Line, ...]
    select: int | None  # cue number
    message: str
    new: tuple[int, ...] = ()  # cue numbers of the lines the move created
    step: str = ""  # the undo step's name ("Undo split line 5")


def ordered(lines: list[proj.Line] | tuple[proj.Line, ...]) -> list[proj.Line]:
    return sorted(lines, key=lambda ln: (ln.start_ms, ln.index))


def next_number(project: proj.Project) -> int:
    """A cue number no line of this project has or had (its id `L<n>` is free too); it is
    recorded as given out."""
    every = [*project.lines, *project.detached_lines]
    ids = [int(ln.id[1:]) for ln in every if ln.id[:1] == "L" and ln.id[1:].isdigit()]
    last = project.extra.get(LAST_NUMBER)
    last = last if isinstance(last, int) and not isinstance(last, bool) else 0
    number = max([last, *ids, *(ln.index for ln in every)]) + 1
    project.extra[LAST_NUMBER] = number
    return number


def derived(line: proj.Line, **changes) -> proj.Line:
    """A new line with `line`'s settings and these changes, without its takes."""
    new = dataclasses.replace(
        line,
        emotion=copy.deepcopy(line.emotion),
        takes=[],
        extra={k: copy.deepcopy(v) for k, v in line.extra.items() if k not in TAKE_KEYS},
    )
    for name, value in changes.items():
        setattr(new, name, value)
    return new


def _line(project: proj.Project, index: int) -> proj.Line:
    line = next((ln for ln in project.lines if ln.index == index), None)
    if line is None:
        raise LineMoveRefused(f"there is no line {index}")
    return line


def _replaced(
    lines: list[proj.Line], gone: list[proj.Line], added: list[proj.Line]
) -> tuple[proj.Line, ...]:
    gone_ids = {id(ln) for ln in gone}
    return tuple(ordered([ln for ln in lines if id(ln) not in gone_ids] + added))


# --- split ----------------------------------------------------------------------------------


def split_text(text: str, fraction: float) -> tuple[str, str]:
    """The text cut at the word boundary whose place in the text is nearest `fraction`
    (0..1); line breaks inside each half are kept. Raises LineMoveRefused for one word."""
    words = list(re.finditer(r"\S+", text))
    if len(words) < 2:
        raise LineMoveRefused("a line of one word cannot be split")
    length = max(1, len(text.strip()))
    offset = words[0].start()

    def place(k: int) -> float:  # boundary before word k, as a share of the text
        return (words[k].start() - offset) / length

    k = min(range(1, len(words)), key=lambda k: (abs(place(k) - fraction), k))
    return text[: words[k - 1].end()].strip(), text[words[k].start() :].strip()


def split_line(project: proj.Project, index: int, at_ms: int | None = None) -> LinesEdit:
    """Line `index` in two: at `at_ms` when it is inside the line with room for both halves,
    else in the middle; its text at the nearest word boundary. The first half keeps the
    line's number and id, the second gets a new number; both keep its settings."""
    line = _line(project, index)
    if line.duration_ms < MIN_SPLIT_MS:
        raise LineMoveRefused(
            f"line {index} is {line.duration_ms} ms long: a line shorter than "
            f"{MIN_SPLIT_MS} ms cannot be split"
        )
    lo, hi = line.start_ms + desk.MIN_SPAN_MS, line.end_ms - desk.MIN_SPAN_MS
    cut = at_ms if at_ms is not None and lo <= at_ms <= hi else None
    if cut is None:
        cut = (line.start_ms + line.end_ms) // 2
    first_text, second_text = split_text(line.text, (cut - line.start_ms) / line.duration_ms)
    number = next_number(project)
    first = derived(line, end_ms=cut, text=first_text)
    second = derived(line, index=number, id=f"L{number}", start_ms=cut, text=second_text)
    return LinesEdit(
        _replaced(project.lines, [line], [first, second]),
        index,
        f"Split line {index} at {cut / 1000:.2f} s: the second half is line {number}",
        (number,),
        f"split line {index}",
    )


# --- merge ----------------------------------------------------------------------------------


def merge_with_next(
    project: proj.Project, index: int, names: dict[str, str] | None = None
) -> LinesEdit:
    """Line `index` and the next line in time become one: from the first's start to the
    second's end, the texts joined, the first's number and settings."""
    line = _line(project, index)
    lines = ordered(project.lines)
    pos = next(i for i, ln in enumerate(lines) if ln is line)
    if pos + 1 >= len(lines):
        raise LineMoveRefused(f"line {index} is the last line: there is no next line to merge")
    after = lines[pos + 1]
    text = " ".join(t for t in (line.text.strip(), after.text.strip()) if t)
    merged = derived(line, end_ms=max(line.end_ms, after.end_ms), text=text)
    message = f"Merged line {after.index} into line {index}"
    if after.speaker_id != line.speaker_id:
        names = names or {}

        def name(sid: str | None) -> str:
            return "no speaker" if sid is None else names.get(sid, sid)

        message += (
            f"; line {after.index} was spoken by {name(after.speaker_id)}, the merged line "
            f"keeps {name(line.speaker_id)}"
        )
    return LinesEdit(
        _replaced(project.lines, [line, after], [merged]),
        index,
        message,
        step=f"merge lines {index} and {after.index}",
    )


# --- insert ---------------------------------------------------------------------------------


def insert_line(
    project: proj.Project,
    video_end_ms: int,
    after: int | None = None,
    at_ms: int | None = None,
) -> LinesEdit:
    """An empty line after line `after` (else at `at_ms`, in the gap there), up to
    INSERT_MS long, in the gap before the next line; refused when the gap is shorter than
    MIN_GAP_MS. It takes the settings of the line it follows, and no text: the editor types
    it (a line without words is flagged and not spoken until then)."""
    lines = ordered(project.lines)
    if after is not None:
        anchor = _line(project, after)
        start = anchor.end_ms
    else:
        at = max(0, int(at_ms or 0))
        before = [ln for ln in lines if ln.start_ms <= at]
        anchor = before[-1] if before else None
        start = max(at, anchor.end_ms) if anchor is not None else at
    later = [ln for ln in lines if ln.start_ms >= start and ln is not anchor]
    end_limit = min([video_end_ms, *(ln.start_ms for ln in later)])
    if any(ln.start_ms <= start < ln.end_ms for ln in lines if ln is not anchor):
        end_limit = start  # overlapping lines: `start` is inside another one
    if end_limit - start < MIN_GAP_MS:
        where = f"after line {anchor.index}" if anchor is not None else f"at {start / 1000:.2f} s"
        raise LineMoveRefused(
            f"no room for a line {where}: the gap is {max(0, end_limit - start)} ms, "
            f"a line needs at least {MIN_GAP_MS} ms"
        )
    number = next_number(project)
    end = min(end_limit, start + INSERT_MS)
    if anchor is not None:
        new = derived(anchor, index=number, id=f"L{number}", start_ms=start, end_ms=end, text="")
    else:
        new = proj.Line(index=number, start_ms=start, end_ms=end, text="", id=f"L{number}")
    return LinesEdit(
        _replaced(project.lines, [], [new]),
        number,
        f"Inserted line {number} at {start / 1000:.2f} s: type its text",
        (number,),
        f"insert line {number}",
    )


# --- delete ---------------------------------------------------------------------------------


def delete_lines(project: proj.Project, indices: list[int]) -> LinesEdit:
    """These lines leave the project; the line after the last of them is selected next."""
    wanted = set(indices)
    gone = [ln for ln in project.lines if ln.index in wanted]
    if not gone:
        raise LineMoveRefused("select the lines to delete")
    if len(gone) == len(project.lines):
        raise LineMoveRefused("a project keeps at least one line: every line cannot be deleted")
    lines = ordered(project.lines)
    last = max(i for i, ln in enumerate(lines) if ln.index in wanted)
    rest = [ln for ln in lines[last + 1 :] if ln.index not in wanted]
    earlier = [ln for ln in lines[:last] if ln.index not in wanted]
    select = rest[0].index if rest else earlier[-1].index
    numbers = ", ".join(str(ln.index) for ln in ordered(gone))
    word = "line" if len(gone) == 1 else "lines"
    return LinesEdit(
        _replaced(project.lines, gone, []),
        select,
        f"Deleted {word} {numbers}",
        step=f"delete {word} {numbers}",
    )


# --- the cues the desk shows ----------------------------------------------------------------


def cues_for(lines: tuple[proj.Line, ...] | list[proj.Line], cues: list[Cue]) -> list[Cue]:
    """The cues of these lines, playback order: a cue the desk had keeps what the subtitles
    said of it (speaker hint, merged cues) with the line's span and text; a new line gets a
    plain cue."""
    known = {c.index: c for c in cues}
    out = []
    for ln in ordered(list(lines)):
        cue = known.get(ln.index)
        if cue is None:
            out.append(Cue(ln.index, ln.start_ms, ln.end_ms, ln.text, None, ln.text))
        elif (cue.start_ms, cue.end_ms, cue.text) != (ln.start_ms, ln.end_ms, ln.text):
            out.append(
                dataclasses.replace(
                    cue, start_ms=ln.start_ms, end_ms=ln.end_ms, text=ln.text, raw=ln.text
                )
            )
        else:
            out.append(cue)
    return out
