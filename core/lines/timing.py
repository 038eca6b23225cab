"""Line timing: how long each dubbed line must last, and whether its text fits.

Pure functions and frozen dataclasses, no I/O. For each line:

- its target span: the cue span, optionally extended into the silence after it (never into
  the next cue, never past the end of the video);
- the target duration d in seconds and the counts the engine works in: semantic tokens
  T = round(50 d), mel frames F = round(d * 22050 / 256), samples round(d * 22050), and the
  48 kHz sample where the clip is placed in the mix;
- a pace estimate: how long the text takes at a natural speaking rate, the pace factor
  natural / target the line would need, and a flag when that is outside [0.8, 1.25].

The rates below are defaults to calibrate against rendered takes; the counts are
estimates (vowel groups, characters, morae), good to a syllable or two per line, which is
all a "does it fit" flag needs.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models.units import (
    MIX_RATE,
    PACE_RANGE,
    frames_for,
    samples_for,
    tokens_for,
)

# The master mix's rate: clips are placed at round(start_ms * 48) samples.

DEFAULT_GAP_MS = 40
"""Guard kept before the next cue when a span is extended, so two clips never touch."""

SLOW_LIMIT, FAST_LIMIT = PACE_RANGE

# --- speaking rates -------------------------------------------------------------------------
#
# Languages written with spaces: syllables per second, syllables estimated from vowel
# groups. The cross-language ratios come from the read-speech syllable rates of Pellegrino,
# Coupe & Marsico (2011), "A cross-language perspective on speech information rate",
# Language 87(3): en 6.19, fr 7.18, de 5.97, it 6.99, es 7.82. Those passages were read
# briskly; conversational English runs at about 150-190 words per minute, i.e. ~3.5-4.5
# syllables per second, so we scale them by 0.73, which puts English at 4.5 syllables/s
# (~190 words per minute, the lively end of dialogue). Languages not listed get the
# English rate.
SYLLABLES_PER_SECOND: dict[str, float] = {
    "en": 4.5,
    "fr": 5.2,
    "de": 4.4,
    "it": 5.1,
    "es": 5.7,
}
DEFAULT_SYLLABLES_PER_SECOND = 4.5

# CJK: units are characters, not words, at published conversational rates.
# - Mandarin: ~5 characters (= syllables) per second (Pellegrino et al. 2011: 5.18).
# - Japanese: ~7.5 morae per second (Pellegrino et al. 2011: 7.84; conversational corpora
#   report 7-8). Kana count one mora each (small ya/yu/yo/vowels merge with the previous
#   one); a kanji is read as ~2 morae on average (most on-readings are two morae).
# - Korean: ~6 syllable blocks per second (one Hangul block is one syllable).
HAN_PER_SECOND = 5.0
MORAE_PER_SECOND = 7.5
MORAE_PER_KANJI = 2.0
HANGUL_PER_SECOND = 6.0

# Pauses at punctuation inside the line (not at its ends): a comma-like break is short, a
# sentence break longer. Typical inter-phrase pauses of read speech.
MINOR_PAUSE_S = 0.15
MAJOR_PAUSE_S = 0.30

# ISO 639-2/3 codes as found in container and subtitle metadata -> the codes above.
_LANGUAGE_ALIASES = {
    "eng": "en",
    "fra": "fr",
    "fre": "fr",
    "deu": "de",
    "ger": "de",
    "ita": "it",
    "spa": "es",
    "zho": "zh",
    "chi": "zh",
    "cmn": "zh",
    "yue": "zh",
    "jpn": "ja",
    "kor": "ko",
}

_VOWELS = frozenset(
    "aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœāēīōūăĕĭŏŭąęįųėůűőı"
    "аеёиоуыэюяіїєў"  # Cyrillic
    "αεηιουωάέήίόύώϊϋΐΰ"  # Greek
)
_MINOR_PUNCT = frozenset(",;:、—–")
_MAJOR_PUNCT = frozenset(".!?…。")
_APOSTROPHES = frozenset("'’")
# Small kana merge with the preceding kana into one mora (kya, fa, ...).
_SMALL_KANA = frozenset("ぁぃぅぇぉゃゅょゎゕゖァィゥェォャュョヮヵヶ")
_KANA_NOT_MORA = frozenset("゛゜・゠")  # sound marks and the middle dot are not spoken


def _is_han(ch: str) -> bool:
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x3134F
        or ch == "々"  # kanji repetition mark: read as the kanji before it
    )


def _is_kana(ch: str) -> bool:
    o = ord(ch)
    return 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF


def _is_hangul(ch: str) -> bool:
    o = ord(ch)
    return 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F


# --- spans and counts -----------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.start_ms < 0 or self.end_ms < self.start_ms:
            raise ValueError(f"bad span {self.start_ms}..{self.end_ms} ms")

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def duration_s(self) -> float:
        return (self.end_ms - self.start_ms) / 1000.0


def target_span(
    start_ms: int,
    end_ms: int,
    next_start_ms: int | None,
    *,
    silence_until_ms: int | None = None,
    extend_ms: int = 0,
    gap_ms: int = DEFAULT_GAP_MS,
    video_end_ms: int | None = None,
) -> Span:
    """The span a line's dub may fill.

    The cue span, extended by at most `extend_ms` into the silence after the cue. The
    silence ends at `silence_until_ms` when speech analysis knows it; without it the gap up
    to the next cue counts as silent. The extension stops `gap_ms` before the next cue and
    at the video end. It only ever extends: a cue already closer than `gap_ms` to the next
    one keeps its own span. The one exception to "never shorter than the cue": a cue that
    runs past the video end is cut there, since the mux would cut its audio anyway.
    """
    if start_ms < 0 or end_ms < start_ms:
        raise ValueError(f"bad cue span {start_ms}..{end_ms} ms")
    if extend_ms < 0 or gap_ms < 0:
        raise ValueError("extend_ms and gap_ms must not be negative")
    end = end_ms
    if extend_ms > 0:
        limit = end_ms + extend_ms
        if silence_until_ms is not None:
            limit = min(limit, silence_until_ms)
        if next_start_ms is not None:
            limit = min(limit, next_start_ms - gap_ms)
        if video_end_ms is not None:
            limit = min(limit, video_end_ms)
        end = max(end_ms, limit)
    if video_end_ms is not None and end > video_end_ms:
        end = max(start_ms, video_end_ms)
    return Span(start_ms, end)


# One rule for the whole program (models/units.py), under the names this module's users know.
semantic_tokens = tokens_for
mel_frames = frames_for
samples = samples_for


def start_sample_48k(start_ms: int) -> int:
    """Where a clip starting at start_ms lands in the 48 kHz mix."""
    return round(start_ms * MIX_RATE / 1000)


# --- language and natural duration ----------------------------------------------------------


def normalize_language(language: str | None) -> str | None:
    """'en-US', 'zh_Hant', 'jpn' -> 'en', 'zh', 'ja'; empty or 'und' -> None."""
    if not language:
        return None
    code = language.strip().replace("_", "-").split("-")[0].lower()
    if not code or code in ("und", "mul", "zxx"):
        return None
    return _LANGUAGE_ALIASES.get(code, code)


def detect_language(text: str) -> str:
    """Guess from the script: kana -> 'ja', Hangul -> 'ko', Han only -> 'zh', else 'latin'.

    'latin' stands for every language written with spaces between words (Latin, Cyrillic,
    Greek...); it gets the default syllable rate.
    """
    has_han = has_hangul = False
    for ch in text:
        if _is_kana(ch) and ch not in _KANA_NOT_MORA:
            return "ja"  # kana is only used in Japanese, even among kanji
        has_hangul = has_hangul or _is_hangul(ch)
        has_han = has_han or _is_han(ch)
    if has_hangul:
        return "ko"
    if has_han:
        return "zh"
    return "latin"


def word_syllables(word: str, language: str | None = None) -> int:
    """Estimated syllables of one word written with an alphabet: its vowel groups.

    English and French drop a silent final 'e' ('make', 'une'); English also 'ed'/'es'
    after most consonants ('jumped', 'makes'). A word without vowels is an acronym when
    upper case ('TV': spelled out) or else about one syllable per three letters (scripts
    whose vowels we do not know, such as Arabic).
    """
    w = word.lower()
    groups = 0
    in_vowel = False
    for ch in w:
        is_vowel = ch in _VOWELS
        if is_vowel and not in_vowel:
            groups += 1
        in_vowel = is_vowel
    if groups == 0:
        letters = sum(1 for ch in word if ch.isalpha())
        if word.isupper() and letters <= 5:
            return max(1, letters)
        return max(1, math.ceil(letters / 3))
    english = language in ("en", "latin", None)  # 'latin' defaults to English habits
    if (english or language == "fr") and groups > 1 and len(w) > 2:
        consonant_le = english and w.endswith("le") and w[-3] not in _VOWELS  # table, people
        if w.endswith("e") and w[-2] not in _VOWELS and not consonant_le:
            groups -= 1
        elif english and len(w) > 3 and w[-3] not in _VOWELS:
            if (w.endswith("ed") and w[-3] not in "td") or (
                w.endswith("es") and w[-3] not in "sxzgch"
            ):
                groups -= 1
    return max(1, groups)


@dataclass(frozen=True)
class SpeechUnits:
    """What a line's text costs to say, in the units of each script."""

    syllables: int = 0  # words written with an alphabet (and digits)
    han: int = 0  # Chinese characters / kanji
    morae: int = 0  # kana morae
    hangul: int = 0  # Hangul syllable blocks (and loose jamo)
    minor_pauses: int = 0
    major_pauses: int = 0


def count_units(text: str, language: str | None = None) -> SpeechUnits:
    """Count the spoken units and inner pauses of a line's text."""
    text = unicodedata.normalize("NFKC", text)
    syllables = han = morae = hangul = minor = major = 0
    word: list[str] = []
    pending = 0  # pause seen since the last spoken unit: 0 none, 1 minor, 2 major
    spoken = False

    def spoke() -> None:
        nonlocal pending, spoken, minor, major
        if spoken and pending == 1:
            minor += 1
        elif spoken and pending == 2:
            major += 1
        pending = 0
        spoken = True

    def close_word() -> None:
        nonlocal syllables
        if word:
            spoke()
            syllables += word_syllables("".join(word), language)
            word.clear()

    n = len(text)
    for i, ch in enumerate(text):
        if _is_han(ch):
            close_word()
            spoke()
            han += 1
        elif _is_kana(ch):
            close_word()
            if ch not in _SMALL_KANA and ch not in _KANA_NOT_MORA:
                spoke()
                morae += 1
        elif _is_hangul(ch):
            close_word()
            spoke()
            hangul += 1
        elif ch.isalpha() or (word and unicodedata.category(ch).startswith("M")):
            word.append(ch)
        elif ch in _APOSTROPHES and word and i + 1 < n and text[i + 1].isalpha():
            word.append(ch)  # don't, l'homme: one word
        elif ch.isdigit():
            close_word()
            spoke()
            syllables += 1  # roughly one syllable per digit read out
        else:
            close_word()
            between_digits = 0 < i < n - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()
            if ch in _MAJOR_PUNCT and not between_digits:
                pending = 2
            elif ch in _MINOR_PUNCT and not between_digits:
                pending = max(pending, 1)
    close_word()
    return SpeechUnits(syllables, han, morae, hangul, minor, major)


def natural_duration(text: str, language: str | None = None, *, speed: float = 1.0) -> float:
    """Seconds the text takes at a natural pace (a speaker's `speed` scales the rates).

    `language` picks the syllable rate for words written with an alphabet and how kanji are
    read; without it the language is guessed from the script. Every script in the text is
    counted in its own units, so mixed lines ("我爱 New York") are costed fairly.
    """
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    lang = normalize_language(language) or detect_language(text)
    u = count_units(text, lang)
    latin_rate = SYLLABLES_PER_SECOND.get(lang, DEFAULT_SYLLABLES_PER_SECOND)
    if lang == "ja":
        han_s = u.han * MORAE_PER_KANJI / MORAE_PER_SECOND
    else:
        han_s = u.han / HAN_PER_SECOND
    seconds = (
        u.syllables / latin_rate
        + han_s
        + u.morae / MORAE_PER_SECOND
        + u.hangul / HANGUL_PER_SECOND
        + u.minor_pauses * MINOR_PAUSE_S
        + u.major_pauses * MAJOR_PAUSE_S
    )
    return seconds / speed


def pace_flag(
    pace: float, fast_limit: float = FAST_LIMIT, slow_limit: float = SLOW_LIMIT
) -> str | None:
    """A note for the editor when a line needs a pace outside [slow_limit, fast_limit]."""
    if pace > fast_limit:
        return f"needs {pace:.2f}x natural pace; shorten the line or widen its span"
    if pace < slow_limit:
        return f"needs {pace:.2f}x natural pace (too slow); lengthen the line or narrow its span"
    return None


# --- planning -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    span: Span
    duration_s: float
    tokens: int
    mel_frames: int
    samples_22k: int
    start_sample_48k: int
    natural_s: float
    pace: float  # natural / target: > 1 means the line must be spoken faster than natural
    flag: str | None
    language: str = "latin"


def plan_line(
    start_ms: int,
    end_ms: int,
    text: str,
    *,
    next_start_ms: int | None = None,
    language: str | None = None,
    silence_until_ms: int | None = None,
    extend_ms: int = 0,
    gap_ms: int = DEFAULT_GAP_MS,
    video_end_ms: int | None = None,
    speed: float = 1.0,
    fast_limit: float = FAST_LIMIT,
    slow_limit: float = SLOW_LIMIT,
) -> Timing:
    """Everything the renderer and the editor need to know about one line's length."""
    span = target_span(
        start_ms,
        end_ms,
        next_start_ms,
        silence_until_ms=silence_until_ms,
        extend_ms=extend_ms,
        gap_ms=gap_ms,
        video_end_ms=video_end_ms,
    )
    d = span.duration_s
    lang = normalize_language(language) or detect_language(text)
    natural = natural_duration(text, lang, speed=speed)
    if d <= 0:
        pace, flag = math.inf, "the span is empty (the cue lies at or past the video end)"
    elif natural <= 0:
        pace, flag = 0.0, "nothing to say: the text has no speakable words"
    else:
        pace = natural / d
        flag = pace_flag(pace, fast_limit, slow_limit)
    return Timing(
        span=span,
        duration_s=d,
        tokens=semantic_tokens(d),
        mel_frames=mel_frames(d),
        samples_22k=samples(d),
        start_sample_48k=start_sample_48k(span.start_ms),
        natural_s=natural,
        pace=pace,
        flag=flag,
        language=lang,
    )


def _cue_fields(cue: Any) -> tuple[int, int, str]:
    if hasattr(cue, "start_ms"):
        return int(cue.start_ms), int(cue.end_ms), str(cue.text)
    start, end, text = cue
    return int(start), int(end), str(text)


def plan_lines(
    cues: Sequence[Any],
    *,
    language: str | None = None,
    silences_until_ms: Sequence[int | None] | None = None,
    extend_ms: int = 0,
    gap_ms: int = DEFAULT_GAP_MS,
    video_end_ms: int | None = None,
    speed: float = 1.0,
    fast_limit: float = FAST_LIMIT,
    slow_limit: float = SLOW_LIMIT,
) -> list[Timing]:
    """Plan every line, in the given order.

    `cues` holds (start_ms, end_ms, text) tuples or objects with those attributes (such as
    project Lines). A cue's "next cue" is the next one by start time, whatever the order
    given; cues starting together block each other's extension. `silences_until_ms`, when
    given, holds for each cue where the silence after it ends (None: unknown).
    """
    fields = [_cue_fields(c) for c in cues]
    if silences_until_ms is not None and len(silences_until_ms) != len(fields):
        raise ValueError("silences_until_ms must have one entry per cue")
    order = sorted(range(len(fields)), key=lambda i: (fields[i][0], fields[i][1], i))
    next_start: list[int | None] = [None] * len(fields)
    for pos, i in enumerate(order[:-1]):
        next_start[i] = fields[order[pos + 1]][0]
    return [
        plan_line(
            start,
            end,
            text,
            next_start_ms=next_start[i],
            language=language,
            silence_until_ms=None if silences_until_ms is None else silences_until_ms[i],
            extend_ms=extend_ms,
            gap_ms=gap_ms,
            video_end_ms=video_end_ms,
            speed=speed,
            fast_limit=fast_limit,
            slow_limit=slow_limit,
        )
        for i, (start, end, text) in enumerate(fields)
    ]
