"""The IndexTTS-2.5 vocabulary: a tiktoken byte-level BPE plus the Whisper-style specials.

    enc = load_encoding(folder / VOCAB_FILE)       # tiktoken.Encoding
    enc.encode("<|ja|> こんにちは", allowed_special="all")
    lang_to_token("ja") -> 7                       # the GPT's language-embedding row

Facts from the official code (indextts/utils/tokenizer.py at the pinned commit):
- the vocabulary file is `multilingual_zh_ja_yue_char_del.tiktoken` in the model folder (the
  name is hard-coded; config.yaml's `dataset.bpe_model` is not read), one `base64 rank` line
  per mergeable token, ranks 0..N-1;
- 1673 specials follow the ranks in a fixed order: endoftext, startoftranscript, the first 99
  language codes, 11 audio events, 4 emotions, six task tokens, SPECIAL_TOKEN_1..30, 20 TTS
  tokens and 1501 timestamps;
- the pre-tokeniser is GPT-2's regex;
- the language id is the index in the whole 106-entry language table ("common", 105, for
  anything unknown), so `yue` has an id (99) but no special token, and `zhen` is "common".
"""

from __future__ import annotations

import base64
from pathlib import Path

VOCAB_FILE = "multilingual_zh_ja_yue_char_del.tiktoken"
PAT_STR = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
NUM_LANGUAGES = 99  # specials registered for the first 99 language codes only

# The official LANGUAGES table's codes, in order (their index is the language id).
LANGUAGE_CODES: tuple[str, ...] = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta "
    "no th ur hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk "
    "sq sw gl mr pa si km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb "
    "my bo tl mg as tt haw ln ha ba jw su yue minnan wuyu dialect zh/en en/zh common"
).split()
LANGUAGE_IDS: dict[str, int] = {code: i for i, code in enumerate(LANGUAGE_CODES)}
COMMON = "common"

AUDIO_EVENTS = "ASR AED SER Speech /Speech BGM /BGM Laughter /Laughter Applause /Applause".split()
EMOTIONS = ("HAPPY", "SAD", "ANGRY", "NEUTRAL")
TASKS = ("translate", "transcribe", "startoflm", "startofprev", "nospeech", "notimestamps")
TTS_TOKENS = ("TTS/B", "TTS/O", "TTS/Q", "TTS/A", "TTS/CO", "TTS/CL", "TTS/H") + tuple(
    f"TTS/SP{i:02d}" for i in range(1, 14)
)


def lang_to_token(lang: str) -> int:
    """The language-embedding row of a language code (unknown codes: "common")."""
    return LANGUAGE_IDS.get(lang.lower(), LANGUAGE_IDS[COMMON])


def special_tokens() -> list[str]:
    """Every special token in the order the official code numbers them after the ranks."""
    return [
        "<|endoftext|>",
        "<|startoftranscript|>",
        *[f"<|{code}|>" for code in LANGUAGE_CODES[:NUM_LANGUAGES]],
        *[f"<|{e}|>" for e in AUDIO_EVENTS],
        *[f"<|{e}|>" for e in EMOTIONS],
        *[f"<|{t}|>" for t in TASKS],
        *[f"<|SPECIAL_TOKEN_{i}|>" for i in range(1, 31)],
        *[f"<|{t}|>" for t in TTS_TOKENS],
        *[f"<|{i * 0.02:.2f}|>" for i in range(1501)],
    ]


class VocabularyError(ValueError):
    """The .tiktoken file is not a vocabulary the official loader would accept."""


def read_ranks(path: Path) -> dict[bytes, int]:
    """`base64 rank` lines -> {token bytes: rank}; ranks must be exactly 0..N-1."""
    ranks: dict[bytes, int] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2:
                raise VocabularyError(f"{path}: line {number} is not 'base64 rank'")
            try:
                ranks[base64.b64decode(parts[0])] = int(parts[1])
            except ValueError as exc:
                raise VocabularyError(f"{path}: line {number}: {exc}") from None
    if sorted(ranks.values()) != list(range(len(ranks))):
        raise VocabularyError(f"{path}: ranks are not exactly 0..{len(ranks) - 1}")
    return ranks


def load_encoding(path: Path):
    """The tiktoken Encoding of an official 2.5 vocabulary file."""
    import tiktoken

    path = Path(path)
    ranks = read_ranks(path)
    specials = {tok: len(ranks) + i for i, tok in enumerate(special_tokens())}
    return tiktoken.Encoding(
        name=path.name,
        explicit_n_vocab=len(ranks) + len(specials),
        pat_str=PAT_STR,
        mergeable_ranks=ranks,
        special_tokens=specials,
    )
