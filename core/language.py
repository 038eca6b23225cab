"""Language tags: guess a dub's language from its subtitle file name (movie.fr.srt)."""

from __future__ import annotations

from pathlib import Path

# ISO 639-1 -> ISO 639-2/B, the codes MP4 and Matroska store; the languages subtitles
# are most often delivered in.
ISO639_1_TO_2 = {
    "ar": "ara",
    "bg": "bul",
    "ca": "cat",
    "cs": "cze",
    "da": "dan",
    "de": "ger",
    "el": "gre",
    "en": "eng",
    "es": "spa",
    "et": "est",
    "fa": "per",
    "fi": "fin",
    "fr": "fre",
    "he": "heb",
    "hi": "hin",
    "hr": "hrv",
    "hu": "hun",
    "id": "ind",
    "it": "ita",
    "ja": "jpn",
    "ko": "kor",
    "lt": "lit",
    "lv": "lav",
    "ms": "may",
    "nl": "dut",
    "no": "nor",
    "pl": "pol",
    "pt": "por",
    "ro": "rum",
    "ru": "rus",
    "sk": "slo",
    "sl": "slv",
    "sr": "srp",
    "sv": "swe",
    "th": "tha",
    "tr": "tur",
    "uk": "ukr",
    "vi": "vie",
    "zh": "chi",
}
KNOWN_639_2 = set(ISO639_1_TO_2.values()) | {
    "deu",
    "fra",
    "zho",
    "nld",
    "ces",
    "ell",
    "fas",
    "ron",
    "slk",
    "msa",
    "und",
}


def to_iso639_2(tag: str | None) -> str | None:
    """'en', 'en-US', 'eng', 'pt_BR' -> 'eng' / 'por'; None when not recognised."""
    if not tag:
        return None
    base = tag.replace("_", "-").split("-")[0].lower()
    if base in ISO639_1_TO_2:
        return ISO639_1_TO_2[base]
    if base in KNOWN_639_2:
        return base
    return None


# The bibliographic and terminology codes both lead back to one ISO 639-1 code.
_ISO639_2_TO_1 = {v: k for k, v in ISO639_1_TO_2.items()} | {
    "deu": "de", "fra": "fr", "zho": "zh", "nld": "nl", "ces": "cs", "ell": "el",
    "fas": "fa", "ron": "ro", "slk": "sk", "msa": "ms",
}  # fmt: skip


def to_iso639_1(tag: str | None) -> str | None:
    """'eng', 'en-US', 'fre' -> 'en' / 'fr' (what speech recognisers take); None if unknown."""
    code = to_iso639_2(tag)
    return None if code is None else _ISO639_2_TO_1.get(code)


def language_from_filename(path: Path) -> str | None:
    """The language tag in a subtitle name like movie.fr.srt or movie.pt-BR.forced.vtt."""
    for part in reversed(Path(path).name.split(".")[1:-1]):
        code = to_iso639_2(part)
        if code:
            return code
    return None


# English names of the languages a dub may be in, for messages ("German (de)").
LANGUAGE_NAMES = {
    "ar": "Arabic", "bg": "Bulgarian", "ca": "Catalan", "cs": "Czech", "da": "Danish",
    "de": "German", "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian",
    "fa": "Persian", "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi",
    "hr": "Croatian", "hu": "Hungarian", "id": "Indonesian", "it": "Italian",
    "ja": "Japanese", "km": "Khmer", "ko": "Korean", "lo": "Lao", "lt": "Lithuanian",
    "lv": "Latvian", "ms": "Malay", "my": "Burmese", "nl": "Dutch", "no": "Norwegian",
    "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak",
    "sl": "Slovenian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "th": "Thai",
    "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese",
}  # fmt: skip


def language_name(code: str | None) -> str:
    """'de' -> 'German (de)'; an unknown code as it is."""
    if not code:
        return "an unknown language"
    name = LANGUAGE_NAMES.get(code)
    return f"{name} ({code})" if name else code


# Scripts that name their language (first match of a character's Unicode range).
_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x3040, 0x30FF, "ja"),  # kana: Japanese even among kanji
    (0xAC00, 0xD7AF, "ko"),
    (0x1100, 0x11FF, "ko"),
    (0x0600, 0x06FF, "ar"),
    (0x0590, 0x05FF, "he"),
    (0x0E00, 0x0E7F, "th"),
    (0x0E80, 0x0EFF, "lo"),
    (0x1780, 0x17FF, "km"),
    (0x1000, 0x109F, "my"),
    (0x0900, 0x097F, "hi"),
    (0x0370, 0x03FF, "el"),
    (0x0400, 0x04FF, "ru"),
    (0x4E00, 0x9FFF, "zh"),
)
# The commonest short words of the languages written in Latin letters that subtitles come
# in most: enough of them in a file name its language.
_FUNCTION_WORDS = {
    "en": "the and you is it to of that what this not are have with for was he she we".split(),
    "de": "der die das und ist nicht ich du sie es ein eine zu mit was wir ihr auf den dem".split(),
    "fr": "le la les et est je tu vous il elle ne pas un une que qui des du ce nous".split(),
    "es": "el la los las y es que no yo tú un una por para con lo se del qué está".split(),
    "it": "il lo la gli e è che non io tu un una per con sono ma cosa questo".split(),
    "pt": "o a os as e é que não eu você um uma para com do da em isso está".split(),
    "nl": "de het een en is niet ik je jij we wat dat van zijn met op".split(),
}
_WORD_LANGUAGES: dict[str, set[str]] = {}
for _lang, _words in _FUNCTION_WORDS.items():
    for _w in _words:
        _WORD_LANGUAGES.setdefault(_w, set()).add(_lang)


def detect_language(texts: list[str], *, min_words: int = 5) -> str | None:
    """The language (ISO 639-1) of a dub's lines from their text, or None when unsure:
    a script that names its language (kana, Hangul, Arabic, Cyrillic...), else the
    function words of the common Latin-script languages (one must lead clearly)."""
    scripts: dict[str, int] = {}
    for text in texts:
        for ch in text:
            cp = ord(ch)
            for lo, hi, lang in _SCRIPT_RANGES:
                if lo <= cp <= hi:
                    scripts[lang] = scripts.get(lang, 0) + 1
                    break
    if scripts:
        if "ja" in scripts:
            return "ja"
        best = max(scripts, key=scripts.__getitem__)
        if scripts[best] >= 3:
            return best
    votes: dict[str, float] = {}
    for text in texts:
        for raw in text.lower().split():
            word = raw.strip(".,;:!?¿¡\"'()-…")
            langs = _WORD_LANGUAGES.get(word)
            if langs:  # a word shared by several languages counts for each, in part
                for lang in langs:
                    votes[lang] = votes.get(lang, 0.0) + 1.0 / len(langs)
    if not votes:
        return None
    ranked = sorted(votes.items(), key=lambda kv: kv[1], reverse=True)
    best, score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if score >= min_words and score >= 1.5 * runner_up:
        return best
    return None
