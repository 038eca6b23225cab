"""core.speakers.assignment: turns -> each line's speaker, with flags for the editor."""

from __future__ import annotations

from dataclasses import dataclass

from core.speakers.assignment import assign_turns


@dataclass(frozen=True)
class T:
    start_ms: int
    end_ms: int
    speaker: str


@dataclass(frozen=True)
class L:
    index: int
    start_ms: int
    end_ms: int


def test_most_speech_wins_and_clean_lines_have_no_flag():
    turns = [T(0, 2000, "A"), T(2100, 4000, "B"), T(3900, 4100, "A")]
    got = assign_turns([L(1, 0, 2000), L(2, 2000, 4000)], turns)
    assert got[1].speaker == "A" and got[1].flag is None and got[1].speech_ms == 2000
    assert got[2].speaker == "B" and got[2].flag is None  # 100 ms of A is no second speaker


def test_two_speakers_in_one_span_are_flagged():
    turns = [T(0, 1200, "A"), T(1200, 2000, "B")]
    got = assign_turns([L(1, 0, 2000)], turns)
    assert got[1].speaker == "A"
    assert got[1].flag == "two speakers: A 1.2 s, B 0.8 s"


def test_no_speech_is_flagged():
    got = assign_turns([L(1, 0, 5000), L(2, 6000, 7000)], [T(0, 500, "A")])
    assert got[1].flag.startswith("no speech found") and got[1].speaker == "A"
    assert got[2].speaker is None and got[2].flag.startswith("no speech found")


def test_long_turns_far_before_still_count():
    """A turn that began long before the line (a monologue) still covers it."""
    turns = [T(0, 60_000, "A"), *(T(i * 100, i * 100 + 50, "B") for i in range(50))]
    got = assign_turns([L(1, 50_000, 52_000)], turns)
    assert got[1].speaker == "A" and got[1].speech_ms == 2000
