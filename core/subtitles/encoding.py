"""Subtitle bytes -> text: which encoding a subtitle file was saved in.

Editors meet files saved by every tool and operating system: BOMs of all kinds, UTF-16
without one, UTF-8 with a few damaged bytes, and legacy code pages that charset-normalizer
alone guesses wrong on short texts. The order of the tests below is what makes them right.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

__all__ = ["detect_encoding"]

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 before UTF-16: the UTF-32 LE BOM starts with the UTF-16 LE one.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_XML_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")

# Letters (lower case, non-ASCII) of the alphabets subtitles commonly use. charset-normalizer
# is unreliable on short single-byte texts (it reads French cp1252 as Baltic cp1257); a
# decoding whose accented letters all belong to one language is the plausible one.
_ALPHABETS: tuple[str, ...] = (
    "àâæçéèêëîïôœùûüÿ",  # French
    "äöüß",  # German
    "áéíñóúü",  # Spanish
    "áâãàçéêíóôõú",  # Portuguese
    "àèéìíîòóùú",  # Italian
    "àçèéíïòóúü",  # Catalan
    "éëïóöüáèà",  # Dutch
    "æøåé",  # Danish, Norwegian
    "åäöé",  # Swedish, Finnish
    "áðéíóúýþæö",  # Icelandic
    "ąćęłńóśźż",  # Polish
    "áčďéěíňóřšťúůýž",  # Czech
    "áäčďéíĺľňóôŕšťúýž",  # Slovak
    "áéíóöőúüű",  # Hungarian
    "ăâîșțşţ",  # Romanian
    "čćđšž",  # Croatian, Slovenian, Bosnian, Serbian (Latin)
    "çğıöşüâî",  # Turkish
    "ąčęėįšųūž",  # Lithuanian
    "āčēģīķļņšūž",  # Latvian
    "äõöüšž",  # Estonian
    "абвгдежзийклмнопрстуфхцчшщъыьэюяё",  # Russian
    "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",  # Ukrainian
    "абвгдежзийклмнопрстуфхцчшщъьюя",  # Bulgarian
    "абвгдђежзијклљмнњопрстћуфхцчџш",  # Serbian (Cyrillic)
    "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώϊϋΐΰς",  # Greek
)


def _alphabet_fit(text: str) -> float:
    """Share of non-ASCII letters covered by the single best-fitting alphabet (1.0 if none)."""
    letters = [ch for ch in text.lower() if ord(ch) > 127 and ch.isalpha()]
    if not letters:
        return 1.0
    return max(sum(ch in alphabet for ch in letters) for alphabet in _ALPHABETS) / len(letters)


def _looks_utf16_without_bom(data: bytes) -> str | None:
    sample = data[:4096]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nul = even.count(0) / len(even)
    odd_nul = odd.count(0) / len(odd)
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    return None


# (text, encoding name, lossy): lossy means some bytes were undecodable and became U+FFFD.
Decoded = tuple[str, str, bool]


def detect_encoding(data: bytes) -> Decoded:
    """Decode subtitle bytes: BOMs first, then strict UTF-8, then an XML declaration,
    then charset-normalizer. Returns (text, encoding, lossy); lossy means some bytes
    were undecodable and became U+FFFD. Raises ValueError for binary data."""
    found = _from_bom(data) or _from_utf16_shape(data)
    if found is not None:
        return found
    # Checked only now: UTF-16 text is full of NUL bytes.
    if b"\x00" in data:
        raise ValueError("binary data (NUL bytes)")
    return (
        _from_utf8(data)
        or _from_xml_declaration(data)
        or _from_damaged_utf8(data)
        or _from_legacy_code_page(data)
    )


def _from_bom(data: bytes) -> Decoded | None:
    for bom, name in _BOMS:
        if data.startswith(bom):
            payload = data[len(bom) :]
            try:
                return payload.decode(name.removesuffix("-sig")), name, False
            except UnicodeDecodeError:
                return payload.decode(name.removesuffix("-sig"), errors="replace"), name, True
    return None


def _from_utf16_shape(data: bytes) -> Decoded | None:
    guess16 = _looks_utf16_without_bom(data)
    if guess16 is None:
        return None
    try:
        return data.decode(guess16), guess16, False
    except UnicodeDecodeError:
        return None


def _from_utf8(data: bytes) -> Decoded | None:
    try:
        return data.decode("utf-8"), "utf-8", False
    except UnicodeDecodeError:
        return None


def _from_xml_declaration(data: bytes) -> Decoded | None:
    declared = _XML_DECL_ENCODING.match(data)
    if declared is None:
        return None
    name = declared.group(1).decode("ascii").lower()
    try:
        return data.decode(name), name, False
    except (LookupError, UnicodeDecodeError):
        return None


def _from_damaged_utf8(data: bytes) -> Decoded | None:
    # Mostly UTF-8 with a few broken bytes (a file damaged by one bad edit) is far more
    # common than a legacy code page that happens to contain valid UTF-8 sequences.
    lossy = data.decode("utf-8", errors="replace")
    bad = lossy.count("\ufffd") - data.count("\ufffd".encode())
    good = sum(1 for ch in lossy if ord(ch) > 127 and ch != "\ufffd")
    return (lossy, "utf-8", True) if good >= 4 * bad else None


def _from_legacy_code_page(data: bytes) -> Decoded:
    matches = list(from_bytes(data))
    if not matches:
        raise ValueError("no text encoding fits")
    best = matches[0]
    if _is_single_byte(best.encoding):
        candidates = [m for m in matches if _is_single_byte(m.encoding)]
        # Among equally plausible decodings prefer Windows-1252, by far the most common
        # legacy subtitle code page (short French text fits Czech cp1250 just as well:
        # "où" vs "ů"); otherwise keep charset-normalizer's order.
        fits = [
            (_alphabet_fit(str(m)), codecs.lookup(m.encoding).name == "cp1252", -i, m)
            for i, m in enumerate(candidates)
        ]
        best = max(fits, key=lambda f: f[:3])[3]
    return str(best), best.encoding, False


def _is_single_byte(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name not in _MULTI_BYTE
    except LookupError:
        return False


_MULTI_BYTE = frozenset(
    codecs.lookup(n).name
    for n in (
        "utf-8",
        "utf-16",
        "utf-32",
        "gb18030",
        "gbk",
        "gb2312",
        "hz",
        "big5",
        "big5hkscs",
        "cp950",
        "shift_jis",
        "cp932",
        "euc_jp",
        "euc_jis_2004",
        "euc_jisx0213",
        "iso2022_jp",
        "shift_jis_2004",
        "shift_jisx0213",
        "euc_kr",
        "cp949",
        "johab",
        "iso2022_kr",
    )
)
