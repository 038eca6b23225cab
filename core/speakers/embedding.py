"""One speaker embedding per subtitle line, for clustering lines by voice.

Public API::

    LineEmbedder                 protocol: `dim` and `embed(audio16k) -> (dim,)`
    load_line_embedder(model_dir, device) -> LineEmbedder
        the registry's (IndexTTS2's CAMPPlus, models/line_embedder.py)
    embed_lines(audio16k, spans_ms, embedder, min_ms=400, progress=None,
                cancelled=None) -> np.ndarray (n, dim)
        one row per span; NaN rows for spans too short to say who speaks (less than
        min_ms left once 30 ms are trimmed off each edge, or cut off by the audio's end)

The NaN rows are what core/speakers/clustering.py labels "unknown" (-1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from core.lines.render import Cancelled

SAMPLE_RATE = 16000
# Subtitle timing is loose: the previous or next voice may bleed into a cue's edges
# (the same 30 ms that core/speakers/voices.py trims from prompts).
EDGE_TRIM_MS = 30
MIN_LINE_MS = 400  # shorter speech gives an embedding dominated by what is said, not who


class LineEmbedder(Protocol):
    dim: int  # length of each embedding (the NaN rows of unembeddable lines need it)

    def embed(self, audio16k: np.ndarray) -> np.ndarray:
        """(dim,) float embedding of one mono 16 kHz clip."""
        ...


def embed_lines(
    audio16k: np.ndarray,
    spans_ms: Sequence[tuple[int, int]],
    embedder: LineEmbedder,
    min_ms: int = MIN_LINE_MS,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> np.ndarray:
    """(len(spans_ms), embedder.dim) float32: each span's embedding, NaN where the span
    (less EDGE_TRIM_MS at each edge, clipped to the audio) is shorter than min_ms.

    `progress(done, total)` after each span; `cancelled()` is asked before each span and
    a True raises core.lines.render.Cancelled (nothing here is worth keeping half done).
    """
    audio = np.asarray(audio16k, dtype=np.float32).reshape(-1)
    total = len(spans_ms)
    out = np.full((total, int(embedder.dim)), np.nan, dtype=np.float32)
    trim = EDGE_TRIM_MS * SAMPLE_RATE // 1000
    min_len = min_ms * SAMPLE_RATE // 1000
    if progress:
        progress(0, total)
    for i, (start_ms, end_ms) in enumerate(spans_ms):
        if cancelled is not None and cancelled():
            raise Cancelled("cancelled")
        a = max(0, int(start_ms) * SAMPLE_RATE // 1000 + trim)
        b = min(len(audio), int(end_ms) * SAMPLE_RATE // 1000 - trim)
        if b - a >= max(min_len, 1):
            row = np.asarray(embedder.embed(audio[a:b]), dtype=np.float32).reshape(-1)
            if row.shape[0] != out.shape[1]:
                raise ValueError(
                    f"embedder returned {row.shape[0]} values, its dim says {out.shape[1]}"
                )
            out[i] = row
        if progress:
            progress(i + 1, total)
    return out


def load_line_embedder(model_dir: Path, device: str = "cpu") -> LineEmbedder:
    """The speaker embedder of the default engine's model folder (through the registry)."""
    from models.registry import DEFAULT_ENGINE, engine_entry

    return engine_entry(DEFAULT_ENGINE).line_embedder(Path(model_dir), device)


class VoiceCheck:
    """How close a take's voice is to its speaker's prompt: the cosine of their speaker
    embeddings (1: the same voice). Each prompt is embedded once."""

    def __init__(self, embedder: LineEmbedder, prompts: dict) -> None:
        self.embedder = embedder
        self.prompts = prompts  # speaker id -> VoicePrompt
        self._prompt_rows: dict[str, np.ndarray] = {}

    def _row(self, audio: np.ndarray, rate: int) -> np.ndarray:
        import soxr

        audio16k = np.asarray(audio, dtype=np.float32).reshape(-1)
        if rate != SAMPLE_RATE:
            audio16k = soxr.resample(audio16k, rate, SAMPLE_RATE).astype(np.float32)
        row = np.asarray(self.embedder.embed(audio16k), dtype=np.float64).reshape(-1)
        return row / (np.linalg.norm(row) + 1e-12)

    def similarity(self, speaker: str, take_audio: np.ndarray, rate: int = 22050) -> float | None:
        prompt = self.prompts.get(speaker)
        if prompt is None or len(take_audio) < rate * MIN_LINE_MS // 1000:
            return None
        if speaker not in self._prompt_rows:
            self._prompt_rows[speaker] = self._row(prompt.audio, prompt.sample_rate)
        return round(float(self._row(take_audio, rate) @ self._prompt_rows[speaker]), 3)
