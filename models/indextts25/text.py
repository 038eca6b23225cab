"""IndexTTS-2.5 text front-end: a line and its language -> the GPT's text ids per segment.

    front = TextFrontEnd25(folder / VOCAB_FILE)
    prepared = front.prepare("今日は良い天気ですね。", "ja")
    prepared.segments      # ["今日 は 良い 天気 です ね ."]
    prepared.ids           # [[966, 220, ...,], ...]  "<|ja|> " + segment, plus the stop id 1
    prepared.lang_id       # 7: the row of the GPT's language embedding

The steps and their order are the official `infer_generator` of infer_v2_5:
1. punctuation folding (TextNormalizer.char_rep_map), every language;
2. normalisation: zh, zhen and en through WeTextProcessing (models.text_normalize, the same
   normaliser the 2.0 engine uses); ja and es through NeMo in the official code, which
   returns the text unchanged when nemo_text_processing is missing, and it is not among the
   official dependencies: we do the same (nothing); other languages: nothing;
3. case: ja, zh, zhen, en lower-cased (pinyin "XUAN4" becomes "xuan4"), es upper-cased,
   others (ar) unchanged;
4. pronunciation annotations `<word|PRON>` -> PRON between SPECIAL_TOKEN_2 (word has Han
   characters) or SPECIAL_TOKEN_1 markers, or ` PRON ` when PRON is all kana;
5. ja: morphemes (fugashi + unidic-lite, as the official JapaneseG2PProcessor at ratio 0)
   joined by spaces, the spaces already in the text kept;
6. `<|x|>` tags upper-cased, then split into segments of at most
   min(max_tokens, max_text_tokens) - len(prefix ids) tokens, after `，。！？、；：,.!?;:` or a
   newline, never inside a `<|SPECIAL_TOKEN_n|>...<|SPECIAL_TOKEN_n|>` pair;
7. ids = encode(f"<|{lang}|> " + segment, allowed_special="all") + [1].
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from models.indextts25.tokenizer import lang_to_token, load_encoding
from models.text_normalize import CHAR_REPLACEMENTS

LANGUAGES = ("zh", "en", "ja", "es", "ar")  # what the 2.5 release names
WETEXT_LANGUAGES = ("zh", "zhen", "en")
LOWER_CASE_LANGUAGES = ("ja", "zh", "zhen", "en")
UPPER_CASE_LANGUAGES = ("es",)
STOP_TEXT_ID = 1  # infer_v2_5 appends it; prepare_gpt_inputs drops it and adds its own

_FOLD = re.compile("|".join(re.escape(k) for k in CHAR_REPLACEMENTS))
_ANNOTATION = re.compile(r"<([^|>\n]+)\|([^>\n]+)>")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_KANA = re.compile(r"[\u3040-\u309F]+|[\u30A0-\u30FF]+")
_TAG = re.compile(r"<\|([^|]+)\|>")
_PROTECTED = re.compile(r"<\|SPECIAL_TOKEN_\d+\|>.*?<\|SPECIAL_TOKEN_\d+\|>")
_AFTER_PUNCTUATION = re.compile(r"(?<=[，。！？、；：,\.!\?;:\n])")
_SPACES = re.compile(r"( +)")


def fold_punctuation(text: str) -> str:
    return _FOLD.sub(lambda m: CHAR_REPLACEMENTS[m.group()], text)


def apply_case(text: str, lang: str) -> str:
    lang = lang.lower()
    if lang in LOWER_CASE_LANGUAGES:
        return text.lower()
    if lang in UPPER_CASE_LANGUAGES:
        return text.upper()
    return text


def apply_annotations(text: str) -> str:
    def swap(m: re.Match[str]) -> str:
        word, pron = m.group(1), m.group(2).upper()
        if _KANA.fullmatch(pron):
            return f" {pron} "
        marker = "SPECIAL_TOKEN_2" if _HAN.search(word) else "SPECIAL_TOKEN_1"
        return f"<|{marker}|>{pron}<|{marker}|>"

    return _ANNOTATION.sub(swap, text)


def upper_tags(text: str) -> str:
    return _TAG.sub(lambda m: f"<|{m.group(1).upper()}|>", text)


@functools.cache
def _japanese_tagger():
    try:
        import fugashi
    except ImportError as exc:  # a dependency of the package; say what is missing
        raise RuntimeError(
            "Japanese text needs fugashi and unidic-lite (pip install fugashi unidic-lite)"
        ) from exc
    return fugashi.Tagger()


def split_japanese(text: str) -> str:
    """Morphemes joined by single spaces; runs of spaces in the input are kept as they are."""
    tagger = _japanese_tagger()
    parts = _SPACES.split(text)
    return "".join(" ".join(word.surface for word in tagger(p)) if p.strip() else p for p in parts)


@dataclass
class Prepared:
    """One line as the 2.5 GPT sees it."""

    lang: str
    lang_id: int
    text: str  # after every rewrite, before splitting
    segments: list[str]
    ids: list[list[int]]  # per segment, with the trailing stop id
    steps: dict[str, str] = field(default_factory=dict)  # intermediate strings (parity)


class TextFrontEnd25:
    """Text + language -> segments and ids. `normalize=False` skips step 2 (as the
    official text_normalization=False); `improved_english` is the 2.0 engine's option of
    models.text_normalize (off: the official readings)."""

    def __init__(
        self,
        vocab: Path,
        max_text_tokens: int,
        normalize: bool = True,
        improved_english: bool = False,
    ) -> None:
        self.encoding = load_encoding(Path(vocab))
        self.max_text_tokens = int(max_text_tokens)
        self._normalize = normalize
        self._improved_english = improved_english
        self._normalizer = None

    @property
    def normalizer_backend(self) -> str | None:
        return self._text_normalizer().backend if self._normalize else None

    def _text_normalizer(self):
        if self._normalizer is None:  # slow to build: only when a zh/en line needs it
            from models.text_normalize import TextNormalizer

            self._normalizer = TextNormalizer(improved_english=self._improved_english)
        return self._normalizer

    def encode(self, text: str) -> list[int]:
        return self.encoding.encode(text, allowed_special="all")

    def token_count(self, text: str) -> int:
        return len(self.encode(text))

    def rewrite(self, text: str, lang: str) -> tuple[str, dict[str, str]]:
        """Steps 1-6 (before splitting); the intermediate strings by step name."""
        lang = lang.lower()
        steps: dict[str, str] = {}
        text = fold_punctuation(text)
        steps["folded"] = text
        if self._normalize and lang in WETEXT_LANGUAGES:
            text = self._text_normalizer().normalize(text)
        steps["normalized"] = text
        text = apply_case(text, lang)
        steps["cased"] = text
        text = apply_annotations(text)
        steps["annotated"] = text
        if lang == "ja":
            text = split_japanese(text)
        steps["morphemes"] = text
        text = upper_tags(text)
        steps["final"] = text
        return text, steps

    def prepare(self, text: str, lang: str, max_tokens: int = 120) -> Prepared:
        prefix = f"<|{lang.lower()}|> "
        final, steps = self.rewrite(text, lang)
        segments = self.split(final, max_tokens, prefix)
        ids = [self.encode(prefix + s) + [STOP_TEXT_ID] for s in segments]
        return Prepared(lang.lower(), lang_to_token(lang), final, segments, ids, steps)

    # ---- splitting ----------------------------------------------------------------------
    def budget(self, max_tokens: int, prefix: str) -> int:
        return max(1, min(int(max_tokens), self.max_text_tokens) - self.token_count(prefix))

    def split(self, text: str, max_tokens: int, prefix: str = "") -> list[str]:
        """Segments of at most budget() tokens: whole clauses where they fit, else cut
        between characters; annotated pronunciations stay whole."""
        budget = self.budget(max_tokens, prefix)
        if self.token_count(text) <= budget:
            return [text]
        pieces: list[str] = []
        for piece, atomic in _atomic_pieces(text):
            if atomic:
                pieces.append(piece)
                continue
            for clause in _AFTER_PUNCTUATION.split(piece):
                if not clause:
                    continue
                if self.token_count(clause) <= budget:
                    pieces.append(clause)
                    continue
                current = ""
                for ch in clause:
                    if current and self.token_count(current + ch) > budget:
                        pieces.append(current)
                        current = ch
                    else:
                        current += ch
                if current:
                    pieces.append(current)
        segments: list[str] = []
        current = ""
        for piece in pieces:
            if current and self.token_count(current + piece) > budget:
                segments.append(current)
                current = piece
            else:
                current += piece
        if current:
            segments.append(current)
        return segments or [text]


def _atomic_pieces(text: str) -> list[tuple[str, bool]]:
    """The text cut around protected pronunciations: (piece, is_protected)."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in _PROTECTED.finditer(text):
        if m.start() > pos:
            out.append((text[pos : m.start()], False))
        out.append((m.group(0), True))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out
