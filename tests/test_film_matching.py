"""Cue matching on a film's worth of repeated lines: the nearest free line of the same text,
found by bisection, is the one the plain rule (nearest in time, ties: earlier candidate)
names."""

from __future__ import annotations

import random

from core import project as proj
from core.project.line_matching import _match
from core.subtitles.read import Cue


def _plain_rule(cues: list[Cue], lines: list[proj.Line]) -> dict[int, int]:
    """cue index -> position of its line, by the rule itself, in quadratic time."""
    taken: set[int] = set()
    out = {}
    for c in cues:
        free = [i for i, ln in enumerate(lines) if i not in taken and ln.text == c.text]
        if free:
            best = min(free, key=lambda i: abs(lines[i].start_ms - c.start_ms))
            taken.add(best)
            out[c.index] = best
    return out


def test_repeated_lines_match_the_nearest_free_line_as_the_plain_rule_does():
    rng = random.Random(3)
    texts = ["Yes.", "No.", "What?"]
    lines = [
        proj.Line(
            index=i, start_ms=rng.randrange(0, 600_000, 500), end_ms=0, text=rng.choice(texts)
        )
        for i in range(400)
    ]
    for ln in lines:
        ln.end_ms = ln.start_ms + 700
    # Retimed cues (so no exact match) with duplicate starts and ties on both sides.
    cues = [
        Cue(k, rng.randrange(0, 600_000, 250), 0, rng.choice(texts), None, "")
        for k in range(1, 420)
    ]
    cues = [Cue(c.index, c.start_ms, c.start_ms + 650, c.text, None, c.text) for c in cues]
    found = _match(cues, lines)
    by_id = {id(ln): i for i, ln in enumerate(lines)}
    assert {k: by_id[id(ln)] for k, ln in found.items()} == _plain_rule(cues, lines)
