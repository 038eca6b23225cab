"""Comparing what a take says with what its line says: one normalisation for both sides,
then word error rate (spaced languages) or character error rate (Chinese, Japanese,
Korean), a Levenshtein distance on the tokens over the reference's length."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# Languages scored per character (their words are not reliably spaced, or, for Korean,
# spacing varies between writers and recognisers).
_CHARACTER_LANGUAGES = frozenset({"zh", "ja", "ko", "yue", "cmn", "wuu", "jp", "jpn", "kor", "zho"})

# Apostrophes join ("don't" == "dont"); other punctuation separates.
_APOSTROPHES = frozenset("'\u2019\u02bc\u2018`")

# A separator between digits belongs to the number ("3.5", "1,000", "10:30"): kept.
_NUMBER_INNER = re.compile(r"(?<=\d)[.,:/](?=\d)")
_KEEP = "\x00"


def _base_language(language: str | None) -> str:
    return (language or "").strip().lower().replace("_", "-").split("-")[0]


def is_character_language(language: str | None) -> bool:
    """True when `language` (ISO code or tag like "zh-CN") is scored per character."""
    return _base_language(language) in _CHARACTER_LANGUAGES


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x3040 <= cp <= 0x30FF  # Hiragana, Katakana
        or 0x3400 <= cp <= 0x4DBF  # CJK Extension A
        or 0x4E00 <= cp <= 0x9FFF  # CJK Unified Ideographs
        or 0xF900 <= cp <= 0xFAFF  # CJK Compatibility Ideographs
        or 0xAC00 <= cp <= 0xD7AF  # Hangul syllables
        or 0x1100 <= cp <= 0x11FF  # Hangul Jamo
        or 0x3130 <= cp <= 0x318F  # Hangul compatibility Jamo
        or 0x31F0 <= cp <= 0x31FF  # Katakana phonetic extensions
        or 0x20000 <= cp <= 0x2FA1F  # Extensions B-F, compatibility supplement
    )


def normalize(text: str, language: str | None) -> list[str]:
    """The tokens of `text` as compared: NFKC, casefolded, punctuation and symbols gone
    (apostrophes join, the rest separate), numbers kept as written (separators between
    digits stay), CJK characters one token each. For zh/ja/ko every remaining
    non-space character is a token."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = _NUMBER_INNER.sub(lambda m: _KEEP + m.group(0), text)
    out: list[str] = []
    keep_next = False
    for ch in text:
        if ch == _KEEP:
            keep_next = True
            continue
        if keep_next:
            out.append(ch)
            keep_next = False
            continue
        if ch in _APOSTROPHES:
            continue
        cat = unicodedata.category(ch)
        if cat[0] in "PSZC" or ch.isspace():
            out.append(" ")
        elif _is_cjk(ch):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    words = "".join(out).split()
    if is_character_language(language):
        return [ch for word in words for ch in word]
    return words


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions, each 1) on tokens."""
    if len(reference) < len(hypothesis):
        reference, hypothesis = hypothesis, reference
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        current = [i]
        for j, h in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def error_rate(reference: str, hypothesis: str, language: str | None) -> float:
    """Word error rate (character error rate for zh/ja/ko) of `hypothesis` against
    `reference`, both normalised by `normalize`: edits / reference tokens. 0.0 when both
    are empty, 1.0 when only the reference is; may exceed 1.0 when the hypothesis adds
    many tokens."""
    ref = normalize(reference, language)
    hyp = normalize(hypothesis, language)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
