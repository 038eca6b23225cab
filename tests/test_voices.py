from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from core.voices import (
    DEFAULT_SPEAKER,
    VoiceError,
    assign_speakers,
    clean_cues,
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


def test_clean_cues_excludes_overlaps():
    cues = [C(1, 0, 1000), C(2, 900, 2000), C(3, 2500, 3000)]
    assert [c.index for c in clean_cues(cues)] == [3]


def test_cut_prompt_prefers_longest_clean_cues_and_caps_length():
    audio = np.arange(60_000, dtype=np.float32)  # sample value = its time in ms
    cues = [
        C(1, 0, 3000, "a"),
        C(2, 5000, 15000, "a"),
        C(3, 20000, 26000, "a"),
        C(4, 25000, 27000, "b"),
    ]
    p = cut_prompt("a", audio, SR, cues[:3], cues, max_s=12.0)
    # cue 2 (10 s, clean) first; cue 3 overlaps cue 4 so it is skipped; then cue 1
    assert p.segments == [(5000, 15000), (0, 3000)]
    assert len(p.audio) <= 12 * SR
    assert p.audio[0] == pytest.approx(5030)  # edges trimmed by 30 ms


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
    audio = np.arange(30_000, dtype=np.float32)
    a = [C(1, 0, 900, "a"), C(2, 2000, 6000, "a")]
    b = [C(3, 5000, 8000, "b")]  # talks over the end of cue 2
    p = cut_prompt("a", audio, SR, a, a + b)
    assert p.segments == [(0, 900), (2000, 6000)]
    assert len(p.audio) > 4 * SR
