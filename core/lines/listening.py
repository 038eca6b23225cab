"""Listening with faster-whisper, offline: word timing of the original (to tighten a
cue's span to the speech inside it) and the listening check of a take (what it says,
against what its line says).

The model is a local CTranslate2 folder (the model directory's `whisper/`); nothing is
ever fetched from the hub. Building blocks only: the job wires them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from core.lines.text_compare import error_rate

RATE = 16_000  # what faster-whisper listens at

_VOCABULARIES = ("vocabulary.txt", "vocabulary.json")


class ListenerUnavailable(Exception):
    """The speech recogniser cannot be loaded (model files missing, package absent);
    the message says what is missing and where."""


@dataclass(frozen=True)
class Word:
    start_ms: int
    end_ms: int
    text: str
    probability: float


@dataclass(frozen=True)
class TakeCheck:
    error_rate: float  # WER, or CER for zh/ja/ko, of the transcript against the line
    transcript: str


def whisper_folder_problem(folder: str | Path | None) -> str | None:
    """What keeps `folder` from being a usable faster-whisper model, or None when it is.
    Needs model.bin, config.json (its alignment heads serve word timestamps), a
    vocabulary (vocabulary.txt or .json) and tokenizer.json (without it faster-whisper
    fetches a tokenizer from the Hugging Face hub)."""
    if folder is None:
        return "no faster-whisper model folder given"
    folder = Path(folder)
    if not folder.is_dir():
        return f"faster-whisper model folder {folder} does not exist"
    missing: list[str] = []
    if not (folder / "model.bin").is_file():
        missing.append("model.bin (the CTranslate2 weights)")
    if not (folder / "config.json").is_file():
        missing.append("config.json (its alignment heads serve word timestamps)")
    if not any((folder / name).is_file() for name in _VOCABULARIES):
        missing.append("vocabulary.txt or vocabulary.json")
    if not (folder / "tokenizer.json").is_file():
        missing.append(
            "tokenizer.json (without it faster-whisper would download a tokenizer from "
            "the Hugging Face hub, which Dubsmith never does)"
        )
    if missing:
        return f"faster-whisper model folder {folder} lacks " + "; ".join(missing)
    return None


def _mono_float32(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        # (n, channels) as soundfile reads it; (channels, n) as torch holds it.
        audio = audio.mean(axis=1 if audio.shape[0] >= audio.shape[1] else 0)
    return np.ascontiguousarray(audio.reshape(-1), dtype=np.float32)


class Listener:
    """A loaded faster-whisper model. `load` it, then ask for `words` or a `transcript`
    of 16 kHz mono float32 audio."""

    def __init__(self) -> None:
        self._model = None
        self.folder: Path | None = None
        self.language: str | None = None  # the language of the last transcription

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu", compute_type: str = "int8") -> Listener:
        problem = whisper_folder_problem(folder)
        if problem:
            raise ListenerUnavailable(problem)
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - a dependency
            raise ListenerUnavailable(
                f"faster-whisper is not installed ({exc}); install Dubsmith's dependencies"
            ) from exc
        listener = cls()
        listener.folder = Path(folder)
        try:
            listener._model = WhisperModel(
                str(folder), device=device, compute_type=compute_type, local_files_only=True
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ListenerUnavailable(
                f"faster-whisper model in {folder} could not be loaded on {device} "
                f"({compute_type}): {exc}"
            ) from exc
        return listener

    @property
    def multilingual(self) -> bool:
        return bool(self._model is not None and self._model.model.is_multilingual)

    def _segments(self, audio16k: np.ndarray, language: str | None, word_timestamps: bool):
        if self._model is None:
            raise ListenerUnavailable("the listener is not loaded (call Listener.load)")
        audio = _mono_float32(audio16k)
        if audio.size == 0:
            return []
        if language:
            language = language.strip().lower().replace("_", "-").split("-")[0] or None
        segments, info = self._model.transcribe(
            audio,
            language=language or None,
            word_timestamps=word_timestamps,
            vad_filter=False,
            condition_on_previous_text=False,
            beam_size=5,
        )
        segments = list(segments)  # the generator does the work
        self.language = info.language
        return segments

    def words(self, audio16k: np.ndarray, language: str | None = None) -> list[Word]:
        """The words heard in `audio16k` (16 kHz mono), in order, with their times in ms
        from the start of the audio; `language` given or detected. Whisper stretches a
        word over the silence before it (the first word of a segment often starts at the
        segment's start); each word's edges are pulled in to where there is sound."""
        out: list[Word] = []
        segments = self._segments(audio16k, language, word_timestamps=True)
        for segment in segments:
            for w in segment.words or ():
                text = w.word.strip()
                if not text:
                    continue
                start = int(round(w.start * 1000))
                end = max(start, int(round(w.end * 1000)))
                out.append(Word(start, end, text, float(w.probability)))
        return _trim_to_sound(out, _mono_float32(audio16k))

    def transcript(self, audio16k: np.ndarray, language: str | None = None) -> str:
        """What is said in `audio16k` (16 kHz mono), as one line of text."""
        segments = self._segments(audio16k, language, word_timestamps=False)
        return " ".join(s.text.strip() for s in segments if s.text.strip())


_FRAME_MS = 10
_QUIET_DB = 30.0  # below the loudest 10 ms frame by this much is silence (or the floor)
_FLOOR_RATIO = 3.0  # ...and a frame must also stand 3x (~10 dB) above the noise floor


def _trim_to_sound(words: list[Word], audio: np.ndarray) -> list[Word]:
    """Each word's start moved forward and end moved back to its first and last 10 ms
    frame with sound in it. Never widens a word; a word with no loud frame stays."""
    hop = RATE * _FRAME_MS // 1000
    n = audio.size // hop
    if not words or n == 0:
        return words
    rms = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1))
    peak = float(rms.max())
    if peak <= 0.0:
        return words
    floor = float(np.percentile(rms, 10))
    loud = rms > max(peak * 10 ** (-_QUIET_DB / 20), floor * _FLOOR_RATIO)
    out: list[Word] = []
    for w in words:
        a = min(n, w.start_ms // _FRAME_MS)
        b = min(n, -(-w.end_ms // _FRAME_MS))
        idx = np.flatnonzero(loud[a:b])
        if idx.size == 0:
            out.append(w)
            continue
        start = max(w.start_ms, (a + int(idx[0])) * _FRAME_MS)
        end = min(w.end_ms, (a + int(idx[-1]) + 1) * _FRAME_MS)
        out.append(Word(start, max(start, end), w.text, w.probability))
    return out


def speech_span(words: Sequence[Word], start_ms: int, end_ms: int) -> tuple[int, int] | None:
    """A cue's span tightened to the speech inside it: from the first word's start to
    the last word's end among the words overlapping [start_ms, end_ms), never wider than
    the cue. None when no word overlaps it (keep the cue's own span)."""
    inside = [w for w in words if w.end_ms > start_ms and w.start_ms < end_ms]
    if not inside:
        return None
    start = max(start_ms, min(w.start_ms for w in inside))
    end = min(end_ms, max(w.end_ms for w in inside))
    if end <= start:
        return None
    return start, end


def check_take(
    listener: Listener, take_audio: np.ndarray, rate: int, text: str, language: str | None
) -> TakeCheck:
    """Listen to a take (any rate, mono or multichannel) and score what it says against
    the line's `text` in the dub's `language`."""
    audio = _mono_float32(take_audio)
    if rate != RATE and audio.size:
        audio = soxr.resample(audio, rate, RATE).astype(np.float32)
    heard = listener.transcript(audio, language=language)
    return TakeCheck(error_rate(text, heard, language), heard)
