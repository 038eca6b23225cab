"""Text front-end: parity with the official normaliser/tokenizer on the reference cases,
segmenting properties, unknown-token reporting and English normalisation."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sentencepiece import SentencePieceProcessor

from models.parity import stage_text
from models.text import (
    CLAUSE_TOKENS,
    QUOTE_TOKENS,
    SENTENCE_END_TOKENS,
    TextFrontEnd,
    split_cjk_chars,
    split_segments_clean,
    split_segments_official,
)


@pytest.fixture(scope="module")
def bpe(reference_dir: Path) -> Path:
    return reference_dir / "checkpoints" / "bpe.model"


@pytest.fixture(scope="module")
def cases(reference_dir: Path) -> list[dict]:
    return json.loads((reference_dir / "text" / "cases.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def front(bpe: Path) -> TextFrontEnd:
    """Exactly the official front-end."""
    return TextFrontEnd(bpe, improved_english=False)


@pytest.fixture(scope="module")
def raw_front(bpe: Path) -> TextFrontEnd:
    return TextFrontEnd(bpe, normalize=False)


@pytest.fixture(scope="module")
def improved(bpe: Path) -> TextFrontEnd:
    """The default front-end, with the English fixes."""
    return TextFrontEnd(bpe)


# --- parity with the official front-end --------------------------------------------------


def test_parity_stage_passes_every_reference_case(reference_dir: Path, cases: list[dict]) -> None:
    checks = stage_text.run(reference_dir)
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.passed]
    assert not failed, "\n".join(failed)
    checked_cases = {c.name.split("/")[0] for c in checks} - {"bpe", "normalizer"}
    assert checked_cases == {c["id"] for c in cases}
    # Every case had its normalised text, tokens, ids and both segmentations compared.
    for case in cases:
        names = {c.name.split("/")[1] for c in checks if c.name.startswith(case["id"] + "/")}
        assert {"normalized", "tokens", "ids", "segments_120", "segments_20"} <= names


def test_parity_stage_reports_a_mismatch(reference_dir: Path, tmp_path: Path) -> None:
    """The stage is not blind: one altered id in the fixture fails exactly that check."""
    (tmp_path / "text").mkdir()
    (tmp_path / "checkpoints").mkdir()
    shutil.copy(reference_dir / "checkpoints" / "bpe.model", tmp_path / "checkpoints" / "bpe.model")
    shutil.copy(reference_dir / "text" / "manifest.json", tmp_path / "text" / "manifest.json")
    cases = json.loads((reference_dir / "text" / "cases.json").read_text(encoding="utf-8"))
    victim = next(c for c in cases if c["id"] == "en_simple")
    victim["ids"][3] += 1
    victim["normalized"] += "!"
    kept = [victim, next(c for c in cases if c["id"] == "zh_quotes")]  # two cases keep it quick
    (tmp_path / "text" / "cases.json").write_text(
        json.dumps(kept, ensure_ascii=False), encoding="utf-8"
    )
    failed = sorted(c.name for c in stage_text.run(tmp_path) if not c.passed)
    assert failed == ["en_simple/ids", "en_simple/normalized"]


def test_tokenizer_alone_matches_official_on_recorded_normalised_text(
    raw_front: TextFrontEnd, cases: list[dict]
) -> None:
    """Pre-tokenisation, casing and SentencePiece, independent of the normaliser package."""
    for case in cases:
        source = case["text"] if case["bypasses_normalizer"] else case["normalized"]
        assert split_cjk_chars(case["normalized"]) == case["cjk_split"], case["id"]
        out = raw_front.encode(source)
        assert out.pieces == case["tokens"], case["id"]
        assert out.ids == case["ids"], case["id"]


def test_special_ids_match_the_bpe_manifest(front: TextFrontEnd, reference_dir: Path) -> None:
    spec = json.loads((reference_dir / "text" / "manifest.json").read_text(encoding="utf-8"))["bpe"]
    assert (front.vocab_size, front.bos_id, front.eos_id, front.unk_id) == (
        spec["vocab_size"],
        spec["bos_id"],
        spec["eos_id"],
        spec["unk_id"],
    )


def test_single_character_bypasses_normalising_and_upper_casing(
    front: TextFrontEnd, bpe: Path
) -> None:
    sp = SentencePieceProcessor(model_file=str(bpe))
    for text in ("a", " b ", "5", "好"):
        assert front.tokenize(text) == sp.Encode(text, out_type=str)
    # Two characters go the normal way: normalised and upper-cased.
    assert front.tokenize("ab") == sp.Encode("AB", out_type=str)
    assert front.encode("").ids == [] and front.tokenize("") == []


# --- unknown pieces -------------------------------------------------------------------------


def test_unknown_pieces_are_reported_not_dropped(front: TextFrontEnd) -> None:
    out = front.encode("龘靐 are rare, and so is 😀 here.")
    assert out.unknown == ["龘", "靐", "😀"]
    assert out.ids.count(front.unk_id) == len(out.unknown)
    assert len(out.ids) == len(out.pieces)  # nothing dropped
    assert [p for p, i in zip(out.pieces, out.ids, strict=True) if i == front.unk_id] == out.unknown


def test_known_text_reports_no_unknowns(front: TextFrontEnd) -> None:
    out = front.encode("Hello world, this is a simple test.")
    assert out.unknown == []
    assert front.unk_id not in out.ids


# --- segmenting -------------------------------------------------------------------------------

_WORDS = ["▁A", "B", "▁CD", "E", "▁我", "们", "▁FG"]
_PUNCT = [*SENTENCE_END_TOKENS, *CLAUSE_TOKENS, "-", *QUOTE_TOKENS]


@st.composite
def _pieces(draw: st.DrawFn, quotes: bool = True) -> list[str]:
    alphabet = _WORDS + [p for p in _PUNCT if quotes or p not in QUOTE_TOKENS]
    weights = st.sampled_from(_WORDS * 4 + alphabet)
    return draw(st.lists(weights, max_size=80))


@settings(max_examples=300, deadline=None)
@given(pieces=_pieces(), limit=st.integers(1, 30))
def test_clean_split_keeps_every_piece_and_the_limit(pieces: list[str], limit: int) -> None:
    segments = split_segments_clean(pieces, limit)
    assert [p for s in segments for p in s] == pieces
    assert all(1 <= len(s) <= limit for s in segments)


@st.composite
def _sentences(draw: st.DrawFn, limit: int) -> list[list[str]]:
    """Sentences of at most `limit` pieces, each ending in a sentence mark (and maybe a quote)."""
    out = []
    for _ in range(draw(st.integers(1, 8))):
        end = [draw(st.sampled_from(SENTENCE_END_TOKENS))]
        if limit >= 3 and draw(st.booleans()):
            end.append("'")
        body = draw(
            st.lists(
                st.sampled_from(_WORDS + list(CLAUSE_TOKENS)), min_size=1, max_size=limit - len(end)
            )
        )
        out.append(body + end)
    return out


@settings(max_examples=200, deadline=None)
@given(data=st.data(), limit=st.integers(2, 30))
def test_clean_split_cuts_only_at_sentence_ends_when_sentences_fit(
    data: st.DataObject, limit: int
) -> None:
    sentences = data.draw(_sentences(limit))
    pieces = [p for s in sentences for p in s]
    length_at: dict[int, int] = {}  # sentence start index -> sentence length
    pos = 0
    for s in sentences:
        length_at[pos] = len(s)
        pos += len(s)
    segments = split_segments_clean(pieces, limit)
    start = 0
    for i, seg in enumerate(segments):
        assert start in length_at  # each segment starts a sentence: no cut inside one
        nxt = start + len(seg)
        if i + 1 < len(segments):
            # Packed greedily: the next sentence would not have fitted in this segment.
            assert len(seg) + length_at[nxt] > limit
        start = nxt
    assert start == len(pieces)


def _ends_sentence(pieces: list[str], cut: int) -> bool:
    before = pieces[cut - 1]
    return before in SENTENCE_END_TOKENS or (
        before in QUOTE_TOKENS and cut >= 2 and pieces[cut - 2] in SENTENCE_END_TOKENS
    )


@settings(max_examples=300, deadline=None)
@given(pieces=_pieces(), limit=st.integers(1, 30))
def test_clean_split_makes_no_tiny_segment_unless_it_keeps_sentences_whole(
    pieces: list[str], limit: int
) -> None:
    """A non-last segment under half the limit is a whole sentence, and it is short only
    because the next sentence fits a segment of its own."""
    segments = split_segments_clean(pieces, limit)
    start = 0
    for seg in segments[:-1]:
        end = start + len(seg)
        if 2 * len(seg) < limit:
            assert _ends_sentence(pieces, end), (seg, limit)
            nxt = next(
                (c for c in range(end + 1, len(pieces) + 1) if _ends_sentence(pieces, c)), None
            )
            assert len(pieces) - end <= limit or (nxt is not None and nxt - end <= limit)
        start = end


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(_WORDS * 3 + list(CLAUSE_TOKENS) + ["-"]), min_size=1, max_size=120
    ),
    limit=st.integers(3, 30),
)
def test_clean_split_of_long_text_without_sentence_ends_has_no_short_segment(
    pieces: list[str], limit: int
) -> None:
    segments = split_segments_clean(pieces, limit)
    assert [p for s in segments for p in s] == pieces
    assert all(3 * len(s) >= limit for s in segments[:-1])


def test_clean_split_ignores_a_comma_at_the_start_of_a_long_run(front: TextFrontEnd) -> None:
    """Review case: "A, word word ..." once gave a 2-token first segment."""
    pieces = front.tokenize("A, " + "word " * 100)
    segments = front.split_segments(pieces, max_tokens=78, mode="clean")
    assert [p for s in segments for p in s] == pieces
    assert all(2 * len(s) >= 78 for s in segments[:-1])
    assert all(s[0].startswith("▁") for s in segments)  # cuts at word starts


def test_clean_split_prefers_clause_then_word_boundaries() -> None:
    pieces = ["▁A", "B", "▁C", ",", "▁D", "E", "▁F", "G", "H", "."]
    assert split_segments_clean(pieces, 6) == [pieces[:4], pieces[4:]]
    no_commas = ["▁A", "B", "C", "▁D", "E", "F", "G", "."]
    assert split_segments_clean(no_commas, 5) == [no_commas[:3], no_commas[3:]]


@settings(max_examples=300, deadline=None)
@given(pieces=_pieces(quotes=False), limit=st.integers(1, 30))
def test_official_split_without_quotes_keeps_pieces_and_limit(
    pieces: list[str], limit: int
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the official blind cuts warn
        segments = split_segments_official(pieces, SENTENCE_END_TOKENS, limit)
    assert [p for s in segments for p in s] == pieces
    assert all(1 <= len(s) <= limit for s in segments)


def test_official_split_repeats_a_quote_after_a_sentence_end(front: TextFrontEnd) -> None:
    """The official quirk, kept for parity: the quote closes one segment and opens the next."""
    pieces = ["▁A", "B", "▁.", "'", "▁C", "D", "."]
    assert front.split_segments(pieces, max_tokens=4) == [
        ["▁A", "B", "▁.", "'"],
        ["'", "▁C", "D", "."],
    ]
    assert front.split_segments(pieces, max_tokens=4, mode="clean") == [
        ["▁A", "B", "▁.", "'"],
        ["▁C", "D", "."],
    ]


def test_split_of_a_long_reference_line_at_punctuation(
    front: TextFrontEnd, cases: list[dict]
) -> None:
    pieces = next(c for c in cases if c["id"] == "long_en")["tokens"]
    for mode in ("official", "clean"):
        segments = front.split_segments(pieces, max_tokens=120, mode=mode)
        assert len(segments) > 1
        assert [p for s in segments for p in s] == pieces
        assert all(s[-1] in (*SENTENCE_END_TOKENS, *CLAUSE_TOKENS) for s in segments)


# --- English normalisation ----------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


@pytest.mark.parametrize(
    ("text", "must_have"),
    [
        ("I have 3 apples and 25 oranges.", ["three", "twenty", "five"]),
        ("It was 1,250 people.", ["one", "thousand", "two", "hundred", "fifty"]),
        ("The meeting is at 3:45 pm.", ["three", "forty", "five", "pm"]),
        ("Dr. Brown is here.", ["doctor", "brown"]),
        ("It is 10 km from here.", ["ten", "kilometers"]),
        ("She was born on 2001-07-15.", ["fifteenth", "july", "two", "thousand", "one"]),
        ("Call me on January 5, 2024.", ["january", "fifth", "twenty", "four"]),
        ("Prices rose 2.5% this year.", ["two", "point", "five", "percent"]),
    ],
)
def test_english_normalisation_spells_out(
    improved: TextFrontEnd, text: str, must_have: list[str]
) -> None:
    out = improved.normalize(text)
    assert not re.search(r"\d", out), out
    words = _words(out)
    for w in must_have:
        assert w in words, (w, out)
    assert not re.search(r"[\u4e00-\u9fff]", out)


def test_money_is_read_in_dollars_official_and_with_cents_improved(
    front: TextFrontEnd, improved: TextFrontEnd
) -> None:
    official = _words(front.normalize("It costs $5.20 today."))
    assert {"five", "dollars"} <= set(official)
    better = _words(improved.normalize("It costs $5.20 today."))
    assert better[:2] == ["it", "costs"]
    assert better[2:8] == ["five", "dollars", "and", "twenty", "cents", "today"]
    assert _words(improved.normalize("Only $0.99!")) == ["only", "ninety", "nine", "cents"]
    # Scaled amounts stay decimals; nothing changes outside money.
    assert "cents" not in _words(improved.normalize("A $3.50 million deal."))
    assert improved.normalize("Hello world.") == front.normalize("Hello world.")


def test_digit_only_text_follows_the_language_hint(front: TextFrontEnd) -> None:
    assert re.search(r"[\u4e00-\u9fff]", front.normalize("1999"))  # official: Chinese reading
    english = front.normalize("1999", language="en")
    assert "nineteen" in _words(english) and not re.search(r"\d", english)
    # The hint never overrides text that has letters or Han characters.
    assert front.normalize("今天1999", language="en") == front.normalize("今天1999")


def test_chinese_guards_keep_pinyin_names_and_tech_terms(front: TextFrontEnd) -> None:
    out = front.normalize("GPT-5 是张三·李四说的xuan4，共35人")
    assert "GPT-" in out and "五" in out  # hyphen kept, digit read
    assert "张三-李四" in out
    assert "XVAN4" in out
    assert "三十五" in out


def test_improved_english_fixes_grouped_thousands_only_where_broken(
    front: TextFrontEnd, improved: TextFrontEnd
) -> None:
    assert "one" not in _words(front.normalize("It was 1,250 people."))  # the official slip
    assert _words(improved.normalize("It was 1,250 people."))[2:4] == ["one", "thousand"]
    assert _words(improved.normalize("1,001 nights"))[:4] == ["one", "thousand", "and", "one"]
    for text in (
        "$1,250 total",
        "2,250 people",
        "1,250.5 m",
        "the 1,250th time",
        "1,000,000 stars",
    ):
        assert improved.normalize(text) == front.normalize(text), text


def test_improved_english_leaves_chinese_alone(
    front: TextFrontEnd, improved: TextFrontEnd, cases: list[dict]
) -> None:
    for case in cases:
        if case["use_chinese"]:
            assert improved.normalize(case["text"]) == case["normalized"], case["id"]
