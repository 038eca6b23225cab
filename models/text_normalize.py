"""Text normalisation as IndexTTS2 does it: numbers, dates, money, units and abbreviations are
spelled out before tokenisation, and punctuation is reduced to the few marks the BPE knows.

The heavy lifting is WeTextProcessing 1.0.4.1 (pynini FSTs), the exact version the official
code pins; its output differs between versions ("666" -> "六六六" in 1.0.4.1, "六百六十六" in
1.2.0), so the version is part of the model's behaviour. Everything runs offline: the English
FSTs and the Chinese tagger ship inside the package, and the Chinese verbaliser (which the
official code builds with erhua and interjection removal off) is compiled in memory in under a
second instead of being cached on disk. Where pynini cannot be installed (it has no Windows
wheels) the `wetext` package, which the official code uses there, is the fallback.

Around the FSTs sit the official guards, reimplemented here: pinyin with tone digits, Chinese
names joined by "·"/"-" and hyphenated technical terms ("GPT-5", "F5-TTS") are replaced by
placeholders so the normaliser cannot read them as numbers or minus signs, and "<字|读音>"
pronunciation annotations pass through untouched.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)

WETEXT_REQUIREMENT = "WeTextProcessing==1.0.4.1"  # brings pynini==2.1.6

# Punctuation folding applied after normalisation, in this order (the order matters: the
# regex alternation tries the keys left to right, so e.g. "，" wins over "，，，").
CHAR_REPLACEMENTS: dict[str, str] = {
    "：": ",",
    "；": ",",
    ";": ",",
    "，": ",",
    "。": ".",
    "！": "!",
    "？": "?",
    "\n": " ",
    "·": "-",
    "、": ",",
    "...": "…",
    ",,,": "…",
    "，，，": "…",
    "……": "…",
    "“": "'",
    "”": "'",
    '"': "'",
    "‘": "'",
    "’": "'",
    "（": "'",
    "）": "'",
    "(": "'",
    ")": "'",
    "《": "'",
    "》": "'",
    "【": "'",
    "】": "'",
    "[": "'",
    "]": "'",
    "—": "-",
    "～": "-",
    "~": "-",
    "「": "'",
    "」": "'",
    ":": ",",
}
# The Chinese branch also turns a left-over "$" into a pause (the zh FSTs do not read it).
ZH_CHAR_REPLACEMENTS: dict[str, str] = {"$": ".", **CHAR_REPLACEMENTS}

PINYIN_TONE = re.compile(
    r"(?<![a-z])((?:[bpmfdtnlgkhjqxzcsryw]|[zcs]h)?(?:[aeiouüv]|[ae]i|u[aio]|ao|ou|i[aue]|[uüv]e"
    r"|[uvü]ang?|uai|[aeiuv]n|[aeio]ng|ia[no]|i[ao]ng)|ng|er)([1-5])",
    re.IGNORECASE,
)
CHINESE_NAME = re.compile(r"[\u4e00-\u9fff]+(?:[-·—][\u4e00-\u9fff]+){1,2}", re.IGNORECASE)
TECH_TERM = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+")
# Only these 's contractions are expanded: "John's" stays a possessive.
ENGLISH_CONTRACTION = re.compile(
    r"(what|where|who|which|how|t?here|it|s?he|that|this)'s", re.IGNORECASE
)
PRONUNCIATION_ANNOTATION = re.compile(r"<([^|>\n]+)\|([^>\n]+)>")
EMAIL = re.compile(r"^[a-zA-Z0-9]+@[a-zA-Z0-9]+\.[a-zA-Z]+$")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[a-zA-Z]")
_HYPHEN_PLACEHOLDER = re.compile(r"\s*<H>\s*")


def uses_chinese_branch(text: str) -> bool:
    """Which normaliser the official code picks: Chinese for any Han character, for text
    without Latin letters, for a bare e-mail address, and for pinyin with tone digits."""
    if _HAN.search(text) or not _LATIN.search(text) or EMAIL.match(text):
        return True
    return PINYIN_TONE.search(text) is not None


def _alpha_tag(n: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa: placeholder names made of letters only, which every FST
    copies verbatim (digits would be read out)."""
    tag = ""
    while True:
        tag = chr(ord("a") + n % 26) + tag
        n = n // 26 - 1
        if n < 0:
            return tag


def correct_pinyin(pinyin: str) -> str:
    """After j/q/x, "u"/"ü" is written "v" in the BPE vocabulary (xuan4 -> XVAN4)."""
    if pinyin[0] not in "jqxJQX":
        return pinyin
    fixed = re.sub(r"([jqx])[uü](n|e|an)*(\d)", r"\g<1>v\g<2>\g<3>", pinyin, flags=re.IGNORECASE)
    return fixed.upper()


@dataclass
class _Placeholders:
    """Substrings swapped out before the FSTs run and swapped back afterwards."""

    originals: dict[str, str]  # placeholder -> original text

    def restore(self, text: str, transform: Callable[[str], str] = lambda s: s) -> str:
        for key, original in self.originals.items():
            text = text.replace(key, transform(original))
        return text


def _protect(text: str, found: Iterable[str], template: str) -> tuple[str, _Placeholders]:
    # Longest first, so that a term containing a shorter one is replaced whole.
    unique = sorted(set(found), key=lambda s: (-len(s), s))
    originals: dict[str, str] = {}
    for i, term in enumerate(unique):
        key = template.format(_alpha_tag(i))
        originals[key] = term
        text = text.replace(term, key)
    return text, _Placeholders(originals)


def _protect_annotations(text: str) -> tuple[str, _Placeholders]:
    originals: dict[str, str] = {}

    def swap(m: re.Match[str]) -> str:
        key = f"PRONPLACEHOLDER{_alpha_tag(len(originals))}PRONPLACEHOLDER"
        originals[key] = m.group(0)
        return key

    return PRONUNCIATION_ANNOTATION.sub(swap, text), _Placeholders(originals)


def _protect_tech_terms(text: str) -> tuple[str, bool]:
    """GPT-5-nano -> GPT<H>5<H>nano: the digits are still read, the hyphens are not minus signs."""
    terms = sorted(set(TECH_TERM.findall(text)), key=lambda s: (-len(s), s))
    for term in terms:
        text = text.replace(term, term.replace("-", "<H>"))
    return text, bool(terms)


def _fold_punctuation(text: str, table: dict[str, str]) -> str:
    pattern = re.compile("|".join(re.escape(k) for k in table))
    return pattern.sub(lambda m: table[m.group()], text)


# Money with two decimals is read "five point two dollars" by WeTextProcessing 1.0.4.1; people
# say "five dollars and twenty cents". Amounts followed by a scale word ("$3.50 million") stay
# decimals.
_MONEY_WITH_CENTS = re.compile(
    r"(?P<cur>[$£€])(?P<int>\d{1,3}(?:,\d{3})+|\d+)\.(?P<frac>\d{2})(?!\d)"
    r"(?!\s*(?:hundred|thousand|million|billion|trillion|[kKmMbB]n?)\b)"
)
_MINOR_UNIT = {"$": ("cent", "cents"), "€": ("cent", "cents"), "£": ("penny", "pence")}
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[,.!?])")
# "1,250" is read "thousand two hundred and fifty" (the "one" is lost) by 1.0.4.1's English
# cardinal rules; money ("$1,250"), decimals and ordinals are read correctly and left alone.
_ONE_THOUSAND_GROUPED = re.compile(r"(?<![\d,.$£€])1,(\d{3})(?!\d|,\d|\.\d|st\b|nd\b|rd\b|th\b)")


def _spell_one_thousand(text: str) -> str:
    def swap(m: re.Match[str]) -> str:
        rest = int(m[1])
        if rest == 0:
            return "one thousand"
        return f"one thousand {'and ' if rest < 100 else ''}{rest}"

    return _ONE_THOUSAND_GROUPED.sub(swap, text)


def _spell_money_with_cents(text: str) -> str:
    def swap(m: re.Match[str]) -> str:
        major, minor = m["int"], int(m["frac"])
        singular, plural = _MINOR_UNIT[m["cur"]]
        cents = f"{minor} {singular if minor == 1 else plural}"
        if minor == 0:
            return f"{m['cur']}{major}"
        if major.replace(",", "") == "0":
            return cents
        return f"{m['cur']}{major} and {cents}"

    return _MONEY_WITH_CENTS.sub(swap, text)


class NormalizerUnavailable(RuntimeError):
    pass


NormalizeFns = tuple[Callable[[str], str], Callable[[str], str]]  # (zh, en)


def _load_wetextprocessing() -> NormalizeFns:
    """WeTextProcessing 1.0.4.1 on pynini, configured as the official code on Linux."""
    from importlib_resources import files
    from pynini import Fst
    from tn.chinese.normalizer import Normalizer as ZhNormalizer
    from tn.english.normalizer import Normalizer as EnNormalizer

    class OfficialZh(ZhNormalizer):
        # The official code asks for remove_interjections=False, remove_erhua=False. Those
        # options only change the verbaliser, so the shipped tagger is the one it would build;
        # loading it and compiling only the verbaliser avoids a 20 s build and a disk cache.
        def build_fst(self, prefix: str, cache_dir: object, overwrite_cache: bool) -> None:
            self.tagger = Fst.read(str(files("tn") / f"{prefix}_tagger.fst")).optimize()
            self.build_verbalizer()
            self.verbalizer = self.verbalizer.optimize()

    # WeTextProcessing adds a stream handler per instance and logs at INFO; keep it quiet.
    for name in ("wetext-zh_normalizer", "wetext-en_normalizer"):
        logging.getLogger(name).disabled = True
    zh = OfficialZh(remove_interjections=False, remove_erhua=False)
    en = EnNormalizer(overwrite_cache=False)
    return zh.normalize, en.normalize


def _load_wetext_runtime() -> NormalizeFns:
    """The `wetext` package (prebuilt FSTs on kaldifst), which the official code uses where
    pynini has no wheels (Windows, macOS). Its FSTs come from a newer WeTextProcessing, so a
    few readings differ from the pinned version ("666" -> "六百六十六")."""
    from wetext import Normalizer

    zh = Normalizer(remove_erhua=False, lang="zh", operator="tn")
    en = Normalizer(lang="en", operator="tn")
    return zh.normalize, en.normalize


BACKENDS: dict[str, Callable[[], NormalizeFns]] = {
    "wetextprocessing": _load_wetextprocessing,
    "wetext": _load_wetext_runtime,
}


@functools.cache
def load_backend(name: str | None = None) -> tuple[str, NormalizeFns]:
    """(backend name, (zh, en) normalise functions); loaded once per process (a few seconds),
    the FSTs are only read afterwards. None takes the first installed of BACKENDS, the
    official pinned version first."""
    names = [name] if name else list(BACKENDS)
    errors = []
    for candidate in names:
        try:
            return candidate, BACKENDS[candidate]()
        except ImportError as exc:
            errors.append(f"{candidate}: {exc}")
    raise NormalizerUnavailable(
        f"text normalisation needs {WETEXT_REQUIREMENT} (Linux) or wetext (elsewhere); "
        f"install one or create the front-end with normalize=False ({'; '.join(errors)})"
    )


Language = Literal["zh", "en"]


class TextNormalizer:
    """Official IndexTTS2 text normalisation (TextNormalizer with an empty glossary).

    improved_english=True (the default) departs from the official output where WeTextProcessing
    1.0.4.1 reads English wrongly or oddly: money with cents ("$5.20" -> "five dollars and
    twenty cents", officially "five point two dollars"), "1,250" (officially "thousand two
    hundred and fifty") and the stray space the date rules leave before a comma. Chinese text
    is never affected. Pass False to get exactly the official text and ids.
    """

    def __init__(self, improved_english: bool = True, backend: str | None = None) -> None:
        self.backend, (self._zh, self._en) = load_backend(backend)
        self.improved_english = improved_english

    def normalize(self, text: str, language: Language | None = None) -> str:
        """`language` decides only for text with neither Han characters nor Latin letters
        ("1999", "100%"), which the official code always reads in Chinese; a dub into English
        passes "en". None keeps the official choice."""
        text, annotations = _protect_annotations(text)
        chinese = uses_chinese_branch(text)
        if language is not None and not _HAN.search(text) and not _LATIN.search(text):
            chinese = language == "zh"
        result = self._normalize_zh(text) if chinese else self._normalize_en(text)
        return annotations.restore(result)

    def _normalize_zh(self, text: str) -> str:
        text = ENGLISH_CONTRACTION.sub(r"\1 is", text)
        protected, has_terms = _protect_tech_terms(text.rstrip())
        protected, pinyin = _protect(
            protected, ("".join(m) for m in PINYIN_TONE.findall(protected)), "<pinyin_{}>"
        )
        protected, names = _protect(protected, CHINESE_NAME.findall(protected), "<n_{}>")
        try:
            result = self._zh(protected)
        except Exception:  # an FST failure must not lose the line: speak it unnormalised
            log.warning(
                "Chinese normaliser failed on %r; using the text as is", text, exc_info=True
            )
            result = protected
        result = names.restore(result)
        result = pinyin.restore(result, correct_pinyin)
        if has_terms:
            result = _HYPHEN_PLACEHOLDER.sub("-", result)
        return _fold_punctuation(result, ZH_CHAR_REPLACEMENTS)

    def _normalize_en(self, text: str) -> str:
        text = ENGLISH_CONTRACTION.sub(r"\1 is", text)
        if self.improved_english:
            text = _spell_one_thousand(_spell_money_with_cents(text))
        protected, has_terms = _protect_tech_terms(text)
        try:
            result = self._en(protected)
            if has_terms:
                result = _HYPHEN_PLACEHOLDER.sub("-", result)
        except Exception:  # as the official code: fall back to the (contraction-expanded) text
            log.warning(
                "English normaliser failed on %r; using the text as is", text, exc_info=True
            )
            result = text
        result = _fold_punctuation(result, CHAR_REPLACEMENTS)
        if self.improved_english:
            result = _SPACE_BEFORE_PUNCT.sub("", result)
        return result
