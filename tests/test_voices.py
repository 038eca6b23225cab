from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from core.speakers import prompt_choice
from core.speakers.voices import (
    DEFAULT_SPEAKER,
    VoiceError,
    assign_speakers,
    cut_prompt,
    line_reference,
    parse_voice_args,
    speaker_id,
)

SR = 1000  # 1 sample per ms keeps the arithmetic readable


@dataclass
class C:
    index: int
    start_ms: int
    end_ms: int
    speaker_hint: str | None = None


def test_speaker_ids_from_hints():
    cues = [C(1, 0, 10, "Ann"), C(2, 10, 20, " ann "), C(3, 20, 30, None), C(4, 30, 40, "")]
    assert assign_speakers(cues) == {1: "ann", 2: "ann", 3: DEFAULT_SPEAKER, 4: DEFAULT_SPEAKER}
    assert speaker_id("Mary  Jane") == "mary jane"


def voiced(n_ms: int, level: float = 0.3) -> np.ndarray:
    """Speech-like test audio at SR: a tone in 200 ms syllables, 20 % pauses between."""
    t = np.arange(n_ms) / SR
    gate = (np.arange(n_ms) % 250) < 200
    return (level * np.sin(2 * np.pi * 90 * t) * gate).astype(np.float32)


def test_cut_prompt_prefers_the_cleanest_stretches_and_caps_length():
    audio = voiced(60_000)
    cues = [
        C(1, 0, 3000, "a"),
        C(2, 5000, 15000, "a"),
        C(3, 20000, 26000, "a"),
        C(4, 25000, 27000, "b"),
    ]
    p = cut_prompt("a", audio, SR, cues[:3], cues, max_s=12.0)
    # cue 2 (10 s, alone) first; cue 3 has b within it so it is left out; then cue 1
    assert p.segments == [(5030, 14970), (30, 2970)]
    assert len(p.audio) <= 12 * SR
    assert p.audio[:100] == pytest.approx(audio[5030:5130])  # edges trimmed by 30 ms
    assert all("nobody else speaks" in piece.reason for piece in p.pieces)
    assert p.pieces[0].score > p.pieces[1].score  # longer carries more timbre
    assert 0 < p.score <= 1


def test_clipped_and_quiet_stretches_score_lower():
    clean, clipped, sparse = voiced(4000), np.clip(voiced(4000, 3.0), -1, 1), voiced(4000)
    sparse[500:3800] = 0.0  # mostly a pause
    audio = np.concatenate([clean, clipped, sparse])
    cues = [C(1, 0, 4000, "a"), C(2, 4000, 8000, "a"), C(3, 8000, 12000, "a")]
    p = cut_prompt("a", audio, SR, cues, cues, max_s=3.9)
    assert p.segments == [(30, 3970)]  # the clean one alone fills the prompt
    spans = [prompt_choice.Span(c.start_ms, c.end_ms) for c in cues]
    scores = {piece.start_ms: piece for piece in prompt_choice.candidates(spans, [], audio, SR)}
    assert scores[30].score > scores[4030].score and scores[30].score > scores[8030].score
    assert "clipped" in scores[4030].reason


def test_cut_prompt_too_short_says_what_to_do():
    audio = np.zeros(10_000, np.float32)
    cues = [C(1, 0, 500, "x")]
    with pytest.raises(VoiceError, match="give a voice sample file for 'x'") as err:
        cut_prompt("x", audio, SR, cues, cues)
    assert err.value.speakers == ["x"]


def test_line_reference_is_the_span():
    audio = np.arange(10_000, dtype=np.float32)
    ref = line_reference(audio, SR, 1000, 2500)
    assert len(ref) == 1500 and ref[0] == 1000


def test_parse_voice_args():
    assert parse_voice_args(["Ann=/tmp/a.wav"]) == {"ann": __import__("pathlib").Path("/tmp/a.wav")}
    with pytest.raises(VoiceError):
        parse_voice_args(["justaname"])


def test_overlapping_cues_fill_in_when_clean_ones_are_too_short():
    audio = voiced(30_000)
    a = [C(1, 0, 900, "a"), C(2, 2000, 6000, "a")]
    b = [C(3, 5000, 8000, "b")]  # talks over the end of cue 2
    p = cut_prompt("a", audio, SR, a, a + b)
    assert p.segments == [(30, 870), (2030, 5970)]
    assert p.pieces[1].overlapped and "another speaker within it for 1.0 s" in p.pieces[1].reason
    assert len(p.audio) > 4 * SR


def test_thousands_of_cues_are_quick_to_choose_from():
    """A 10,000-cue file: the overlap test is a sorted sweep, not every pair."""
    audio = voiced(10_000 * 500)
    cues = [C(i, i * 500, i * 500 + 400, "a" if i % 2 else "b") for i in range(10_000)]
    p = cut_prompt("a", audio, SR, [c for c in cues if c.speaker_hint == "a"], cues)
    assert 14 * SR <= len(p.audio) <= 15 * SR
