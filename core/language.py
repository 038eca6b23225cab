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
