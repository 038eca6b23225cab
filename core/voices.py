"""Voices, first version: who speaks each line, and a timbre prompt per speaker.

A line's speaker is its subtitle hint (ASS `Name`, VTT `<v>`) or one default speaker.
A speaker's timbre prompt is cut from the original audio inside that speaker's cues (the
longest cues that overlap no other cue, joined with short crossfades up to 15 s), unless
the editor gives a file. Each line's emotion reference is by default the original audio of
its own span. Diarization will refine speakers later; this stays its fallback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_SPEAKER = "speaker"
PROMPT_MAX_S = 15.0  # the official code cuts prompts to 15 s
PROMPT_MIN_S = 1.0  # shorter prompts give the engine too little timbre to work with
CROSSFADE_MS = 20
EDGE_TRIM_MS = 30  # drop cue edges: subtitle timing is loose, the next voice may bleed in


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


def clean_cues(cues: Sequence[CueLike]) -> list[CueLike]:
    """Cues that overlap no other cue: their audio holds one voice only (as far as we know)."""
    ordered = sorted(cues, key=lambda c: (c.start_ms, c.end_ms))
    clean = []
    for i, c in enumerate(ordered):
        others = ordered[:i] + ordered[i + 1 :]
        if all(o.end_ms <= c.start_ms or o.start_ms >= c.end_ms for o in others):
            clean.append(c)
    return clean


def _length(cue: CueLike) -> int:
    return cue.end_ms - cue.start_ms


def _crossfade_join(pieces: list[np.ndarray], fade: int) -> np.ndarray:
    out = pieces[0].astype(np.float32, copy=True)
    for p in pieces[1:]:
        n = min(fade, len(out), len(p))
        if n == 0:
            out = np.concatenate([out, p])
            continue
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        mixed = out[-n:] * (1.0 - ramp) + p[:n] * ramp
        out = np.concatenate([out[:-n], mixed, p[n:]])
    return out


def cut_prompt(
    speaker: str,
    audio: np.ndarray,
    sample_rate: int,
    cues: Sequence[CueLike],
    all_cues: Sequence[CueLike],
    *,
    max_s: float = PROMPT_MAX_S,
    min_s: float = PROMPT_MIN_S,
) -> VoicePrompt:
    """Join the speaker's longest single-voice cues (crossfaded) up to max_s seconds."""
    single = {c.index for c in clean_cues(all_cues)}
    spoken = [c for c in cues if c.end_ms > c.start_ms]
    clean = sorted((c for c in spoken if c.index in single), key=_length, reverse=True)
    # Cues someone else speaks over come after the clean ones, and only when the clean
    # ones are not enough: a slightly mixed prompt beats no voice at all.
    rest = sorted((c for c in spoken if c.index not in single), key=_length, reverse=True)
    clean_ms = sum(_length(c) for c in clean)
    candidates = clean + (rest if clean_ms < min_s * 1000 + 2 * EDGE_TRIM_MS else [])
    fade = int(sample_rate * CROSSFADE_MS / 1000)
    trim = int(sample_rate * EDGE_TRIM_MS / 1000)
    budget = int(max_s * sample_rate)
    pieces: list[np.ndarray] = []
    used: list[tuple[int, int]] = []
    total = 0
    for c in candidates:
        a = int(c.start_ms * sample_rate / 1000) + trim
        b = min(int(c.end_ms * sample_rate / 1000) - trim, len(audio))
        if b - a <= fade:
            continue
        piece = audio[a:b]
        room = budget - total + (fade if pieces else 0)
        if room <= fade:
            break
        piece = piece[:room]
        pieces.append(piece)
        used.append((c.start_ms, c.end_ms))
        total += len(piece) - (fade if len(pieces) > 1 else 0)
        if total >= budget:
            break
    if not pieces or total < min_s * sample_rate:
        got = total / sample_rate if pieces else 0.0
        raise VoiceError(
            f"speaker '{speaker}' has only {got:.2f} s of usable audio in the video "
            f"(at least {min_s:g} s needed); give a voice sample file for '{speaker}'",
            [speaker],
        )
    prompt = _crossfade_join(pieces, fade)[:budget]
    return VoicePrompt(speaker, prompt.astype(np.float32), sample_rate, "cut", used)


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
