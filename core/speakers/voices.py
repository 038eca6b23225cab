"""Voices, first version: who speaks each line, and a timbre prompt per speaker.

A line's speaker is its subtitle hint (ASS `Name`, VTT `<v>`) or one default speaker.
A speaker's timbre prompt is cut from the original audio inside that speaker's cues (the
longest cues that overlap no other cue, joined with short crossfades up to 15 s), unless
the editor gives a file. Each line's emotion reference is by default the original audio of
its own span. Diarization will refine speakers later; this stays its fallback.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from core.speakers import prompt_choice

DEFAULT_SPEAKER = "speaker"
PROMPT_MAX_S = prompt_choice.PROMPT_MAX_S
PROMPT_MIN_S = prompt_choice.PROMPT_MIN_S


class CueLike(Protocol):
    index: int
    start_ms: int
    end_ms: int
    speaker_hint: str | None


class VoiceError(ValueError):
    """A speaker has no usable prompt; the message says what the editor can do.
    `speakers` names those who need a voice sample file, so the CLI can name its flag
    and the window its file control."""

    def __init__(self, message: str, speakers: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.speakers = list(speakers)


@dataclass
class VoicePrompt:
    speaker: str
    audio: np.ndarray  # float32 mono
    sample_rate: int
    source: str  # "file:<path>" or "cut"
    segments: list[tuple[int, int]] = field(default_factory=list)  # ms spans used (cut)
    pieces: list[prompt_choice.PromptPiece] = field(default_factory=list)  # with scores
    # What the prompt says (faster-whisper), for engines that clone better with the words.
    prompt_text: str | None = None

    @property
    def key(self) -> str:
        """The prompt's audio, hashed: its transcript is kept while this stays the same."""
        audio = np.ascontiguousarray(self.audio, dtype=np.float32)
        return hashlib.sha256(audio.tobytes() + str(self.sample_rate).encode()).hexdigest()[:16]

    @property
    def score(self) -> float | None:
        """Length-weighted score of the chosen stretches (None for a file)."""
        ms = sum(p.end_ms - p.start_ms for p in self.pieces)
        if not ms:
            return None
        return round(sum(p.score * (p.end_ms - p.start_ms) for p in self.pieces) / ms, 3)

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


def speaker_id(hint: str | None) -> str:
    """A stable id from a subtitle speaker hint (case and spacing insensitive)."""
    if not hint or not hint.strip():
        return DEFAULT_SPEAKER
    return re.sub(r"\s+", " ", hint.strip()).casefold()


def assign_speakers(cues: Sequence[CueLike]) -> dict[int, str]:
    """cue index -> speaker id. Cues without a hint go to the default speaker."""
    return {c.index: speaker_id(c.speaker_hint) for c in cues}


def speaker_names(cues: Sequence[CueLike]) -> dict[str, str]:
    """speaker id -> display name (the first spelling seen in the subtitles)."""
    names: dict[str, str] = {}
    for c in cues:
        sid = speaker_id(c.speaker_hint)
        names.setdefault(sid, c.speaker_hint.strip() if c.speaker_hint else "Speaker")
    return names


def cut_prompt(
    speaker: str,
    audio: np.ndarray,
    sample_rate: int,
    cues: Sequence[CueLike],
    all_cues: Sequence[CueLike],
    *,
    others: Sequence[prompt_choice.Span] | None = None,
    max_s: float = PROMPT_MAX_S,
    min_s: float = PROMPT_MIN_S,
) -> VoicePrompt:
    """The speaker's prompt from the cleanest of its own cues (core/speakers/prompt_choice.py).
    `others` is other speakers' speech (diarization turns); by default their cues."""
    own = {c.index for c in cues}
    if others is None:
        others = [prompt_choice.Span(c.start_ms, c.end_ms) for c in all_cues if c.index not in own]
    spans = [prompt_choice.Span(c.start_ms, c.end_ms) for c in cues if c.end_ms > c.start_ms]
    pieces = prompt_choice.choose(
        prompt_choice.candidates(spans, others, audio, sample_rate), max_s=max_s, min_s=min_s
    )
    prompt = prompt_choice.join(audio, sample_rate, pieces, max_s)
    if len(prompt) < min_s * sample_rate:
        raise VoiceError(
            f"speaker '{speaker}' has only {len(prompt) / sample_rate:.2f} s of usable audio in "
            f"the video (at least {min_s:g} s needed); give a voice sample file for '{speaker}'",
            [speaker],
        )
    return VoicePrompt(
        speaker,
        prompt,
        sample_rate,
        "cut",
        [(p.start_ms, p.end_ms) for p in pieces],
        list(pieces),
    )


def prompt_from_file(speaker: str, path: Path, read_audio) -> VoicePrompt:
    """A prompt from a WAV/any audio file given by the editor (cut to 15 s)."""
    path = Path(path)
    if not path.exists():
        raise VoiceError(f"voice sample for '{speaker}' not found: {path}")
    try:
        audio, rate = read_audio(path)
    except Exception as exc:  # whatever the decoder says, the file is what is wrong
        raise VoiceError(
            f"voice sample for '{speaker}' cannot be read as audio ({path}): "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from exc
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if len(audio) < PROMPT_MIN_S * rate:
        raise VoiceError(
            f"voice sample for '{speaker}' is only {len(audio) / rate:.1f} s long ({path}); "
            f"give at least {PROMPT_MIN_S:.0f} s of clean speech"
        )
    return VoicePrompt(speaker, audio[: int(PROMPT_MAX_S * rate)], rate, f"file:{path}")


def line_reference(
    audio: np.ndarray, sample_rate: int, start_ms: int, end_ms: int, *, pad_ms: int = 0
) -> np.ndarray:
    """The original audio of a line's span (its emotion reference by default)."""
    a = max(0, int((start_ms - pad_ms) * sample_rate / 1000))
    b = min(len(audio), int((end_ms + pad_ms) * sample_rate / 1000))
    return np.asarray(audio[a:b], dtype=np.float32)


def parse_voice_args(values: Sequence[str]) -> dict[str, Path]:
    """`SPEAKER=WAV` pairs from the command line -> {speaker id: path}."""
    out: dict[str, Path] = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise VoiceError(f"--voice expects SPEAKER=WAV, got '{v}'")
        out[speaker_id(name)] = Path(path.strip()).expanduser()
    return out
