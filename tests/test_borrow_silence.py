"""Issue 22 item 4, unit level: how far a too-fast line borrows the silence after its cue,
each speaker's natural pace, and the setting's values (auto by default; a project's 0 stays
off)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from core.batch.settings import check_job_settings
from core.errors import InputError
from core.lines.borrow_silence import (
    BORROW_PACE,
    borrow_extent_ms,
    plan_borrowing,
    speaker_speeds,
    syllable_nuclei,
)
from core.lines.timing import natural_duration
from core.settings import EXTEND_AUTO, DubSettings, extend_into_silence


@dataclass(frozen=True)
class FakeCue:  # test double of a subtitle cue
    start_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True)
class FakeWord:  # test double of a whisper word
    start_ms: int
    end_ms: int
    text: str


def test_a_line_that_fits_borrows_nothing():
    assert borrow_extent_ms(0, 2000, 2.0, next_start_ms=None, silence_until=None,
                            video_end_ms=None) == 0  # fmt: skip


def test_a_too_fast_line_borrows_only_what_brings_it_to_the_borrow_pace():
    # 3.3 s of speech in a 2 s cue: at 1.1x it needs 3.0 s, so 1000 ms past the cue
    ext = borrow_extent_ms(0, 2000, 3.3, next_start_ms=9000, silence_until=9000,
                           video_end_ms=20000)  # fmt: skip
    assert ext == 1000
    assert 3.3 / ((2000 + ext) / 1000) == pytest.approx(BORROW_PACE)


@pytest.mark.parametrize(
    ("next_start", "silence", "video_end", "expected"),
    [
        (2500, None, None, 460),  # stops the 40 ms guard before the next cue
        (None, 2300, None, 300),  # stops where the original's speech resumes
        (None, None, 2100, 100),  # stops at the video's end
        (2010, None, None, 0),  # the next cue is closer than the guard: keeps its cue
    ],
)
def test_borrowing_never_crosses_the_next_cue_speech_or_the_video_end(
    next_start, silence, video_end, expected
):
    assert borrow_extent_ms(0, 2000, 5.0, next_start_ms=next_start, silence_until=silence,
                            video_end_ms=video_end) == expected  # fmt: skip


def test_plan_borrowing_spans_and_pace_check_use_the_speakers_own_pace():
    text = "Where have you been all this long and lonely time, my friend?"
    cues = [FakeCue(0, 1000, text), FakeCue(6000, 7000, text)]
    planned = plan_borrowing(cues, ["a", "b"], audio16k=None, video_end_ms=8000)
    natural = natural_duration(text, None)
    # no audio: the gap counts as silent; the first stops at the 1.1x pace
    assert planned[0].span.end_ms == pytest.approx(natural / BORROW_PACE * 1000, abs=1)
    assert planned[0].pace == pytest.approx(BORROW_PACE, abs=0.01)
    assert planned[0].flag is None
    # the last line runs into the video's end, still too fast: the pace check says what to do
    assert planned[1].span.end_ms == 8000
    assert planned[1].flag is not None and "shorten the line or widen its span" in planned[1].flag


def test_speaker_speed_comes_from_their_own_words():
    spans = [(0, 2000), (3000, 5000)]
    # speaker a says 12 one-syllable words in 2 s (6/s), speaker b 4 words in 2 s (2/s)
    fast = [FakeWord(i * 160, i * 160 + 150, "cat") for i in range(12)]
    fast[-1] = FakeWord(fast[-1].start_ms, 2000 - 10, "cat")
    slow = [FakeWord(3000 + i * 500, 3000 + i * 500 + 400, "dog") for i in range(4)]
    speeds = speaker_speeds(spans, ["a", "b"], audio16k=None, words=fast + slow,
                            original_language="en")  # fmt: skip
    assert speeds["a"] == pytest.approx(12 / 1.99 / 4.5, rel=0.02)
    assert speeds["b"] == pytest.approx(0.7)  # 2.2/s would be 0.49: clamped
    # nothing heard and no audio: the language norm
    assert speaker_speeds(spans, ["a", "b"], audio16k=None) == {"a": 1.0, "b": 1.0}


def test_syllable_nuclei_counts_energy_peaks():
    # 10 ms frames: 5 bursts of speech over a -60 dB floor, 200 ms apart
    levels = np.full(120, -60.0)
    for k in range(5):
        levels[10 + 20 * k : 18 + 20 * k] = [-40, -30, -22, -20, -22, -30, -40, -50]
    count, ms = syllable_nuclei(levels, threshold_db=-48)
    assert count == 5
    assert ms == (10 + 20 * 4 + 7 - 10) * 10


def test_auto_is_the_default_and_a_projects_zero_stays_off():
    assert DubSettings().extend_into_silence_ms == EXTEND_AUTO
    assert DubSettings.from_dict({"extend_into_silence_ms": 0}).extend_into_silence_ms == 0
    back = DubSettings.from_dict(DubSettings().to_dict())
    assert back.extend_into_silence_ms == EXTEND_AUTO
    assert DubSettings.from_dict({"extend_into_silence_ms": "off"}).extend_into_silence_ms == 0
    assert DubSettings().with_changes(extend_into_silence_ms=700).extend_into_silence_ms == 700
    assert [extend_into_silence(v) for v in ("auto", "OFF", "250")] == ["auto", 0, 250]
    with pytest.raises(ValueError):
        extend_into_silence("-5")


def test_job_lists_take_auto_and_off_and_refuse_other_words():
    check_job_settings({"extend_into_silence_ms": "auto"}, "jobs.csv, row 2", "column")
    check_job_settings({"extend_into_silence_ms": "off"}, "jobs.csv, row 2", "column")
    with pytest.raises(InputError, match="auto, off or a whole number of ms"):
        check_job_settings({"extend_into_silence_ms": "lots"}, "jobs.csv, row 2", "column")
