"""IndexTTS2 text front-end: normalised text -> upper-cased, CJK-split text -> SentencePiece
pieces and ids, and the split of long token sequences into segments the T2S model renders one
at a time. Behaviour follows the official TextTokenizer (index-tts `indextts/utils/front.py`),
including its quirks, so that the same text gives the same ids as the official code.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sentencepiece import SentencePieceProcessor

from models.text_normalize import Language, TextNormalizer

# Ranges the official pre-tokeniser treats as CJK (taken from NLTK): Hangul Jamo, CJK radicals
# to Yi, Hangul syllables, compatibility ideographs and forms, half-width forms, and the
# supplementary ideographic plane. Every such character becomes its own word.
_CJK_CHAR = re.compile(
    r"([\u1100-\u11ff\u2e80-\ua4cf\ua840-\uD7AF\uF900-\uFAFF\uFE30-\uFE4F\uFF65-\uFFDC"
    r"\U00020000-\U0002FFFF])"
)

# Tokens that end a sentence-level segment (the official list; "▁!" is not in the vocabulary).
SENTENCE_END_TOKENS: tuple[str, ...] = (".", "!", "?", "▁.", "▁?", "▁...")
CLAUSE_TOKENS: tuple[str, ...] = (",", "▁,")
HYPHEN_TOKENS: tuple[str, ...] = ("-",)
QUOTE_TOKENS: tuple[str, ...] = ("'", "▁'")
WORD_START = "▁"

SplitMode = Literal["official", "clean"]


def split_cjk_chars(text: str) -> str:
    """Space-separate every CJK character and upper-case everything else
    ("你好 hello" -> "你 好 HELLO"), as the BPE was trained on."""
    parts = _CJK_CHAR.split(text.strip())
    return " ".join(p.strip().upper() for p in parts if p.strip())


@dataclass
class Tokenized:
    """One line of text as the T2S model sees it. `unknown` lists the pieces the vocabulary
    lacks (each became the unk id), so a caller can warn about them rather than lose them."""

    ids: list[int]
    pieces: list[str]
    unknown: list[str] = field(default_factory=list)
    normalized: str = ""


class TextFrontEnd:
    """Text -> BPE pieces and ids for the T2S model.

    normalize=False is the official pipeline with a pass-through normaliser (as in the e2e
    reference). improved_english (default on) fixes a few English readings of the official
    normaliser (see TextNormalizer); off gives ids identical to the official front-end.
    `language` ("zh"/"en"/None) decides how digit-only text is read; None is official.
    """

    def __init__(
        self, bpe_model: Path, normalize: bool = True, improved_english: bool = True
    ) -> None:
        bpe_model = Path(bpe_model)
        if not bpe_model.is_file():
            raise FileNotFoundError(f"BPE model not found: {bpe_model}")
        self._sp = SentencePieceProcessor(model_file=str(bpe_model))
        self._normalizer = TextNormalizer(improved_english) if normalize else None

    @property
    def normalizer_backend(self) -> str | None:
        """Which normaliser package runs ("wetextprocessing" is the official pinned one)."""
        return self._normalizer.backend if self._normalizer else None

    @property
    def vocab_size(self) -> int:
        return self._sp.GetPieceSize()

    @property
    def unk_id(self) -> int:
        return self._sp.unk_id()

    # The official tokenizer hard-codes these rather than asking the model.
    bos_id: int = 0
    eos_id: int = 1

    def normalize(self, text: str, language: Language | None = None) -> str:
        return self._normalizer.normalize(text, language) if self._normalizer else text

    def _prepare(self, text: str, language: Language | None) -> tuple[str, str]:
        """(normalised text, the string given to SentencePiece)."""
        if len(text.strip()) == 1:
            # Official special case: a single character goes to SentencePiece raw (no
            # normalisation, no upper-casing).
            return text, text
        normalized = self.normalize(text, language)
        return normalized, split_cjk_chars(normalized)

    def tokenize(self, text: str, language: Language | None = None) -> list[str]:
        if not text:
            return []
        return self._sp.Encode(self._prepare(text, language)[1], out_type=str)

    def encode(self, text: str, language: Language | None = None) -> Tokenized:
        if not text:
            return Tokenized([], [], [], "")
        normalized, prepared = self._prepare(text, language)
        pieces = self._sp.Encode(prepared, out_type=str)
        ids = self.pieces_to_ids(pieces)
        unknown = [p for p, i in zip(pieces, ids, strict=True) if i == self.unk_id]
        return Tokenized(ids, pieces, unknown, normalized)

    def pieces_to_ids(self, pieces: list[str]) -> list[int]:
        return [self._sp.PieceToId(p) for p in pieces]

    def ids_to_pieces(self, ids: list[int]) -> list[str]:
        return [self._sp.IdToPiece(i) for i in ids]

    def split_segments(
        self, pieces: list[str], max_tokens: int = 120, mode: SplitMode = "official"
    ) -> list[list[str]]:
        """Cut a line's pieces into segments of about `max_tokens`, at sentence ends first.

        "official" reproduces the official splitter exactly, quirks included: a quote after a
        sentence end is copied into both segments, a segment may exceed the limit by that
        quote, and a clause that overflows is cut blindly (possibly leaving a one-piece
        segment). "clean" keeps every piece exactly once, never exceeds the limit and cuts at
        the best boundary available (sentence end, clause, hyphen, word start, anywhere).
        """
        if max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")
        if mode == "official":
            return split_segments_official(pieces, SENTENCE_END_TOKENS, max_tokens)
        if mode == "clean":
            return split_segments_clean(pieces, max_tokens)
        raise ValueError(f"unknown split mode {mode!r}")


def split_segments_official(
    pieces: list[str],
    split_tokens: tuple[str, ...],
    max_tokens: int,
    quick_streaming_tokens: int = 0,
) -> list[list[str]]:
    """The official `split_segments_by_token`, behaviour for behaviour (see split_segments)."""
    if not pieces:
        return []
    segments: list[list[str]] = []
    current: list[str] = []
    splits_at_commas = any(t in split_tokens for t in CLAUSE_TOKENS)
    for i, token in enumerate(pieces):
        current.append(token)
        if not splits_at_commas and any(t in current for t in CLAUSE_TOKENS):
            # Recurse into the clause level as soon as a comma shows up in this run.
            sub = split_segments_official(
                current, CLAUSE_TOKENS, max_tokens, quick_streaming_tokens
            )
        elif "-" not in split_tokens and "-" in current:
            sub = split_segments_official(
                current, HYPHEN_TOKENS, max_tokens, quick_streaming_tokens
            )
        elif len(current) <= max_tokens:
            if token in split_tokens and len(current) > 2:
                if i < len(pieces) - 1 and pieces[i + 1] in QUOTE_TOKENS:
                    # The official loop "skips" the quote with `i += 1` inside a for loop,
                    # which has no effect: the quote ends this segment and starts the next.
                    current.append(pieces[i + 1])
                segments.append(current)
                current = []
            continue
        else:
            sub = [current[j : j + max_tokens] for j in range(0, len(current), max_tokens)]
            warnings.warn(
                f"segment exceeds {max_tokens} tokens and was cut without punctuation: {current}",
                RuntimeWarning,
                stacklevel=2,
            )
        segments.extend(sub)
        current = []
    if current:
        segments.append(current)
    return _merge_short_segments(segments, max_tokens, quick_streaming_tokens)


def _merge_short_segments(
    segments: list[list[str]], max_tokens: int, quick_streaming_tokens: int
) -> list[list[str]]:
    """Join neighbours whose total fits the limit (the official greedy left-to-right merge)."""
    merged: list[list[str]] = []
    seen = 0
    for segment in segments:
        seen += len(segment)
        if not segment:
            continue
        if not merged:
            merged.append(segment)
            continue
        total = len(merged[-1]) + len(segment)
        if (total <= max_tokens and seen > quick_streaming_tokens) or total <= max_tokens / 2:
            merged[-1] = merged[-1] + segment
        else:
            merged.append(segment)
    return merged


def _boundary_rank(pieces: list[str], cut: int) -> int:
    """How good a place cutting before index `cut` is: lower is better."""
    before, after = pieces[cut - 1], pieces[cut]
    if after in QUOTE_TOKENS:
        return 5  # never orphan a closing quote if anything else is possible
    if (
        before in SENTENCE_END_TOKENS
        or before in QUOTE_TOKENS
        and cut >= 2
        and pieces[cut - 2] in SENTENCE_END_TOKENS
    ):
        return 0
    if before in CLAUSE_TOKENS:
        return 1
    if before in HYPHEN_TOKENS:
        return 2
    if after.startswith(WORD_START):
        return 3
    return 4


def split_segments_clean(pieces: list[str], max_tokens: int) -> list[list[str]]:
    """Greedy split that keeps every piece once and every segment within `max_tokens`.

    Sentences are kept whole and packed together while they fit; a sentence too long for one
    segment is cut at its last clause mark, hyphen or word start that fits, in that order.
    A cut must leave at least half a window in the segment: a comma near the start of a long
    run would otherwise make a tiny segment ("A," of ~40 ms in exact mode), so then the best
    boundary in the window's second half wins instead. The one exception is a short whole
    sentence whose next sentence fits a segment: keeping sentences whole is worth more.
    """
    segments: list[list[str]] = []
    start = 0
    n = len(pieces)
    while start < n:
        if n - start <= max_tokens:
            segments.append(pieces[start:])
            break
        cut = _clean_cut(pieces, start, max_tokens)
        segments.append(pieces[start:cut])
        start = cut
    return segments


def _clean_cut(pieces: list[str], start: int, max_tokens: int) -> int:
    """Where the segment starting at `start` ends (exclusive); the rest is longer than a window."""
    window_end = start + max_tokens  # cut somewhere in (start, window_end]
    shortest = start + (max_tokens + 1) // 2  # at least half a window
    best_cut, best_rank = window_end, 99
    last_sentence_end = None
    for cut in range(window_end, start, -1):
        rank = _boundary_rank(pieces, cut)
        if cut >= shortest and rank < best_rank:
            best_cut, best_rank = cut, rank
        if rank == 0:
            last_sentence_end = cut
            break
    if best_rank == 0 or last_sentence_end is None or last_sentence_end >= shortest:
        return best_cut
    # A whole short sentence may end the segment if the next sentence fits one segment.
    next_end = last_sentence_end + max_tokens
    if next_end >= len(pieces) or any(
        _boundary_rank(pieces, c) == 0 for c in range(last_sentence_end + 1, next_end + 1)
    ):
        return last_sentence_end
    return best_cut
