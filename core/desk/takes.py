"""The rules of the desk's A/B compare of two takes of a line: which takes are A and B,
where in the line a switch lands, and how each side is named. Free of Qt, so they are
tested without a window; app/gui/take_compare.py shows them and drives the players."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import project as proj
from core.audio.samples import read_wav
from core.desk import status as desk

SIDES = ("A", "B")


@dataclass(frozen=True)
class TakePair:
    """Positions of take A and take B in the line's takes (never the same take)."""

    a: int
    b: int

    def side(self, which: str) -> int:
        return self.a if which == "A" else self.b


def playable(line: proj.Line) -> list[int]:
    """Positions of the takes whose WAV is still there (a cleared cache loses some)."""
    return [i for i, t in enumerate(line.takes) if Path(t.cache_path).exists()]


def default_pair(line: proj.Line) -> TakePair | None:
    """A: the take the dub uses; B: the most recent other take. None: fewer than two
    takes can be played, so there is nothing to compare."""
    ok = playable(line)
    if len(ok) < 2:
        return None
    chosen = desk.usable_take(line)
    a = next((i for i in ok if line.takes[i] is chosen), ok[-1])
    b = next(i for i in reversed(ok) if i != a)
    return TakePair(a, b)


def mark(pair: TakePair, which: str, position: int) -> TakePair:
    """The editor marks a take as A or B. Marking the other side's take swaps the two, so
    A and B stay two different takes and neither mark is lost."""
    if which == "A":
        return TakePair(position, pair.a if position == pair.b else pair.b)
    return TakePair(pair.b if position == pair.a else pair.a, position)


def pair_again(line: proj.Line, paths: tuple[Path, Path]) -> TakePair | None:
    """The marks kept when the line is shown again (after Keep, undo, a new take): the
    same two takes, found by their files; None when either is gone."""
    where = {Path(t.cache_path): i for i, t in enumerate(line.takes)}
    a, b = where.get(Path(paths[0])), where.get(Path(paths[1]))
    ok = set(playable(line))
    return TakePair(a, b) if a in ok and b in ok and a != b else None


def offset_in_line(position_ms: int, start_ms: int, end_ms: int) -> int:
    """How far into the line the picture is, within the line's span."""
    return max(0, min(int(position_ms) - start_ms, max(0, end_ms - start_ms)))


def switch_offset(position_ms: int, start_ms: int, end_ms: int) -> int:
    """Where the other take starts on a switch: at the same place in the line, as a
    studio's A/B switch; once the line has played to its end, from the line's start (the
    editor heard one side through and now wants the other one whole)."""
    offset = offset_in_line(position_ms, start_ms, end_ms)
    return 0 if offset >= end_ms - start_ms else offset


def side_label(which: str, line: proj.Line, position: int) -> str:
    """ "A: take 2 (seed 123)": the number the takes list shows, and the seed."""
    return f"{which}: take {position + 1} (seed {line.takes[position].seed})"


def take_outline(path: Path, columns: int) -> np.ndarray:
    """Peak level per column (0..1) of a take's WAV: the small waveform by its name in the
    takes list, so a clipped word or a long silence shows before it is played. On one
    scale for all takes (a quieter take looks quieter); empty when the file is unreadable."""
    try:
        audio, _rate = read_wav(Path(path))
    except (OSError, RuntimeError, ValueError):
        return np.zeros(0, np.float32)
    level = np.abs(np.asarray(audio, dtype=np.float32)).reshape(len(audio), -1).max(axis=1)
    if len(level) == 0 or columns <= 0:
        return np.zeros(0, np.float32)
    parts = np.array_split(level, min(columns, len(level)))
    return np.clip(np.array([part.max() for part in parts], np.float32), 0.0, 1.0)
