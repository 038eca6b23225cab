"""Properties of core.lines.timing: spans, engine counts, pace estimates and flags."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.lines.timing import (
    FAST_LIMIT,
    SLOW_LIMIT,
    Span,
    detect_language,
    mel_frames,
    natural_duration,
    pace_flag,
    plan_line,
    plan_lines,
    samples,
    semantic_tokens,
    start_sample_48k,
    target_span,
    word_syllables,
)
from models.contract import SynthesisRequest, VoiceHandle

ms = st.integers(min_value=0, max_value=10_000_000)
opt_ms = st.none() | ms
durations = st.floats(min_value=0.0, max_value=600.0, allow_nan=False)

# --- spans ----------------------------------------------------------------------------------


@given(
    start=ms,
    length=st.integers(0, 100_000),
    next_offset=st.none() | st.integers(0, 200_000),
    silence=opt_ms,
    extend=st.integers(0, 20_000),
    gap=st.integers(0, 500),
    video_end=opt_ms,
)
def test_target_span_limits(start, length, next_offset, silence, extend, gap, video_end):
    end = start + length
    next_start = None if next_offset is None else start + next_offset
    span = target_span(
        start,
        end,
        next_start,
        silence_until_ms=silence,
        extend_ms=extend,
        gap_ms=gap,
        video_end_ms=video_end,
    )
    assert span.start_ms == start
    assert span.end_ms <= end + extend  # never past the extension limit
    if video_end is not None and start <= video_end:
        assert span.end_ms <= video_end  # never past the picture
    if video_end is None or end <= video_end:
        assert span.end_ms >= end  # never shorter than the cue
    else:
        assert span.end_ms == max(start, video_end)  # a cue past the end is cut there
    if span.end_ms > end:  # extended: only into free time
        assert extend > 0
        if next_start is not None:
            assert span.end_ms <= next_start - gap
        if silence is not None:
            assert span.end_ms <= silence
    if extend == 0:
        assert span.end_ms == (end if video_end is None else max(start, min(end, video_end)))


def test_target_span_examples():
    # Extension stops at the gap guard, the silence end, the limit or the video end,
    # whichever comes first.
    assert target_span(1000, 2000, 2500, extend_ms=1000) == Span(1000, 2460)
    assert target_span(1000, 2000, 2500, extend_ms=300) == Span(1000, 2300)
    assert target_span(1000, 2000, 2500, extend_ms=1000, silence_until_ms=2200) == Span(1000, 2200)
    assert target_span(1000, 2000, None, extend_ms=1000, video_end_ms=2100) == Span(1000, 2100)
    assert target_span(1000, 2000, 2020, extend_ms=1000) == Span(1000, 2000)  # too close
    assert target_span(1000, 2000, 1500, extend_ms=1000) == Span(1000, 2000)  # overlapping cues
    assert target_span(1000, 2000, 2500) == Span(1000, 2000)  # extension off by default
    with pytest.raises(ValueError):
        target_span(2000, 1000, None)


@st.composite
def cue_lists(draw):
    """Sorted cues that do not overlap, separated by gaps of any size."""
    n = draw(st.integers(1, 8))
    t = draw(st.integers(0, 5000))
    cues = []
    for i in range(n):
        t += draw(st.integers(0, 3000))
        length = draw(st.integers(1, 6000))
        cues.append((t, t + length, f"line {i}"))
        t += length
    return cues


@given(
    cues=cue_lists(),
    extend=st.integers(0, 5000),
    gap=st.integers(0, 200),
    shuffle=st.randoms(use_true_random=False),
)
def test_plan_lines_spans_never_overlap_the_next_cue(cues, extend, gap, shuffle):
    given_order = list(cues)
    shuffle.shuffle(given_order)  # the next cue is found by time, not by list position
    timings = plan_lines(given_order, extend_ms=extend, gap_ms=gap, language="en")
    by_start = {c: t for c, t in zip(given_order, timings, strict=True)}
    for here, after in zip(cues, cues[1:], strict=False):
        span = by_start[here].span
        assert span.start_ms == here[0]
        assert span.end_ms >= here[1]
        assert span.end_ms <= max(here[1], after[0] - gap)
        assert span.end_ms <= after[0]  # no overlap with the next line's clip
    assert by_start[cues[-1]].span.end_ms == cues[-1][1] + extend  # nothing follows the last


# --- engine counts --------------------------------------------------------------------------


@given(d=durations)
def test_counts_are_consistent_with_duration(d):
    assert abs(semantic_tokens(d) - 50 * d) <= 0.5
    assert abs(mel_frames(d) - d * 22050 / 256) <= 0.5
    assert abs(samples(d) - d * 22050) <= 0.5
    assert abs(samples(d, 48000) - d * 48000) <= 0.5
    # the length the engine contract promises for this duration
    req = SynthesisRequest(text="x", voice=VoiceHandle("v"), duration_s=d)
    assert req.target_samples() == samples(d)
    # the model's own ratio: 22050 / 256 / 50 mel frames per semantic token
    assert abs(mel_frames(d) - semantic_tokens(d) * 22050 / 256 / 50) <= 1.5


@given(a=durations, b=durations)
def test_counts_are_monotone(a, b):
    lo, hi = min(a, b), max(a, b)
    assert semantic_tokens(lo) <= semantic_tokens(hi)
    assert mel_frames(lo) <= mel_frames(hi)
    assert samples(lo) <= samples(hi)


@given(a=ms, b=ms)
def test_placement_sample_is_exact_and_monotone(a, b):
    assert start_sample_48k(a) / 48000 == pytest.approx(a / 1000, abs=1e-12)
    assert isinstance(start_sample_48k(a), int)
    assert (start_sample_48k(a) <= start_sample_48k(b)) == (a <= b)


# --- pace -----------------------------------------------------------------------------------


def test_pace_flags_exactly_at_the_thresholds():
    assert pace_flag(FAST_LIMIT) is None
    assert pace_flag(SLOW_LIMIT) is None
    assert pace_flag(1.0) is None
    fast = pace_flag(math.nextafter(FAST_LIMIT, math.inf))
    slow = pace_flag(math.nextafter(SLOW_LIMIT, 0.0))
    assert fast is not None and "shorten the line or widen its span" in fast
    assert slow is not None and "too slow" in slow
    assert pace_flag(1.4) == "needs 1.40x natural pace; shorten the line or widen its span"


@given(
    pace=st.floats(min_value=0.0, max_value=10.0, allow_nan=False),
    fast=st.floats(min_value=1.0, max_value=3.0),
    slow=st.floats(min_value=0.1, max_value=1.0),
)
def test_pace_flag_iff_outside_limits(pace, fast, slow):
    flag = pace_flag(pace, fast, slow)
    assert (flag is None) == (slow <= pace <= fast)
    if flag is not None:
        assert f"{pace:.2f}x" in flag
        assert ("too slow" in flag) == (pace < slow)


# --- natural duration -----------------------------------------------------------------------

letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJéèàüöß", min_size=1, max_size=8)
latin_word = st.builds(lambda a, b: f"{a}'{b}" if b else a, letters, st.none() | letters)
latin_words = st.lists(latin_word, min_size=1, max_size=12)
punctuated = st.text(
    alphabet=st.sampled_from(list("abcdefg hijk lmno pqrs tuvw xyz ,.!?;:-'0123456789\n")),
    max_size=80,
)
cjk_text = st.text(
    alphabet=st.sampled_from(
        list("我爱你中国今日天気ですねはいうぇゃっーん안녕하세요반갑습니다、。，！？ ")
    ),
    max_size=40,
)
any_text = st.text(max_size=60)
languages = st.sampled_from([None, "en", "fr", "de", "es", "it", "ru", "zh", "ja", "ko", "en-US"])


@given(a=latin_words, b=latin_words, language=languages)
def test_natural_duration_grows_with_words(a, b, language):
    shorter = natural_duration(" ".join(a), language)
    longer = natural_duration(" ".join(a + b), language)
    assert longer > shorter > 0


@given(
    s=st.one_of(punctuated, cjk_text, any_text),
    t=st.one_of(punctuated, cjk_text, any_text),
    language=languages,
)
@settings(max_examples=300)
def test_natural_duration_never_shrinks_when_text_is_added(s, t, language):
    assert natural_duration(s + " " + t, language) >= natural_duration(s, language) - 1e-9
    assert natural_duration(t + " " + s, language) >= natural_duration(s, language) - 1e-9


@given(s=cjk_text, extra=st.text(alphabet="我爱你国天気안녕하세요いうえおかきくけこ", min_size=1))
def test_natural_duration_grows_with_cjk_characters(s, extra):
    assert natural_duration(s + extra) > natural_duration(s)


@given(s=punctuated | cjk_text, speed=st.floats(min_value=0.25, max_value=4.0))
def test_speed_scales_natural_duration(s, speed):
    assert natural_duration(s, speed=speed) == pytest.approx(natural_duration(s) / speed)


@given(text=latin_words, repeat=st.integers(2, 5))
def test_repeating_a_sentence_scales_its_duration(text, repeat):
    sentence = " ".join(text)
    once = natural_duration(sentence, "en")
    many = natural_duration(" ".join([sentence] * repeat), "en")
    assert many == pytest.approx(once * repeat)


def test_syllable_estimates_for_common_english_words():
    # Spoken syllable counts of ordinary words (dictionary facts, not outputs of the code).
    known = {
        "hello": 2,
        "cat": 1,
        "make": 1,
        "table": 2,
        "people": 2,
        "while": 1,
        "jumped": 1,
        "wanted": 2,
        "makes": 1,
        "boxes": 2,
        "beautiful": 3,
        "TV": 2,
        "banana": 3,
    }
    wrong = {w: word_syllables(w, "en") for w, n in known.items() if word_syllables(w, "en") != n}
    assert not wrong


def test_language_detection_by_script():
    assert detect_language("今日はいい天気ですね") == "ja"
    assert detect_language("東京へ") == "ja"  # kanji with kana is Japanese
    assert detect_language("我爱你中国") == "zh"
    assert detect_language("안녕하세요") == "ko"
    assert detect_language("Hello there") == "latin"
    assert detect_language("Привет") == "latin"
    assert detect_language("") == "latin"


def test_natural_rates_are_plausible():
    # Conversational speech: English ~150-190 words per minute; Mandarin ~4-6 characters/s.
    english = "I told you yesterday that we would meet the others at the station tonight."
    words = len(english.split())
    wpm = words / natural_duration(english, "en") * 60
    assert 130 <= wpm <= 220, wpm
    chinese = "我昨天告诉过你我们今晚在车站见面"
    cps = len(chinese) / natural_duration(chinese)
    assert 4.0 <= cps <= 6.0, cps
    # The same text in a slower language reads longer.
    assert natural_duration("la la la la", "de") > natural_duration("la la la la", "es")


def test_inner_punctuation_adds_pauses_but_trailing_does_not():
    plain = natural_duration("yes we can do it", "en")
    assert natural_duration("yes we can do it.", "en") == pytest.approx(plain)
    assert natural_duration("yes, we can do it", "en") > plain
    assert natural_duration("yes. We can do it", "en") > natural_duration("yes, we can do it", "en")
    assert natural_duration("it costs 3.50", "en") == natural_duration("it costs 3 50", "en")


# --- planning -------------------------------------------------------------------------------


@given(
    start=st.integers(0, 1_000_000),
    length=st.integers(1, 20_000),
    text=punctuated | cjk_text,
    language=languages,
)
def test_plan_line_is_consistent(start, length, text, language):
    t = plan_line(start, start + length, text, language=language)
    d = t.span.duration_s
    assert t.duration_s == d == length / 1000
    assert (t.tokens, t.mel_frames, t.samples_22k) == (
        semantic_tokens(d),
        mel_frames(d),
        samples(d),
    )
    assert t.start_sample_48k == start * 48
    assert t.natural_s == natural_duration(text, language)
    if t.natural_s > 0:
        assert t.pace == pytest.approx(t.natural_s / d)
        assert t.flag == pace_flag(t.pace)
    else:
        assert t.flag is not None  # nothing to say is worth a note


def test_plan_line_flags_a_crammed_line_and_a_sparse_one():
    text = "I told you yesterday that we would meet the others at the station tonight."
    natural = natural_duration(text, "en")
    crammed = plan_line(0, round(natural / 1.4 * 1000), text, language="en")
    assert crammed.flag is not None and crammed.flag.startswith("needs 1.40x natural pace")
    fitting = plan_line(0, round(natural * 1000), text, language="en")
    assert fitting.flag is None and fitting.pace == pytest.approx(1.0, abs=1e-3)
    sparse = plan_line(0, round(natural / 0.5 * 1000), text, language="en")
    assert sparse.flag is not None and "too slow" in sparse.flag


def test_plan_line_with_an_empty_span_is_flagged():
    t = plan_line(5000, 6000, "hello", video_end_ms=5000)
    assert t.span == Span(5000, 5000)
    assert (t.tokens, t.mel_frames, t.samples_22k) == (0, 0, 0)
    assert t.flag is not None


def test_plan_lines_accepts_objects_with_cue_fields():
    from core.project import Line

    lines = [Line(1, 0, 1000, "Hello there."), Line(2, 1500, 3000, "General Kenobi!")]
    timings = plan_lines(lines, extend_ms=2000, gap_ms=40)
    assert [t.span for t in timings] == [Span(0, 1460), Span(1500, 5000)]
    with pytest.raises(ValueError):
        plan_lines(lines, silences_until_ms=[None])


@given(cues=cue_lists(), silence_pad=st.lists(st.none() | st.integers(0, 5000), min_size=8))
def test_plan_lines_honours_known_silences(cues, silence_pad):
    silences = [None if p is None else c[1] + p for c, p in zip(cues, silence_pad, strict=False)]
    assume(len(silences) == len(cues))
    timings = plan_lines(cues, silences_until_ms=silences, extend_ms=10_000)
    for c, s, t in zip(cues, silences, timings, strict=True):
        if s is not None:
            assert t.span.end_ms <= max(c[1], s)
