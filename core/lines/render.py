"""Render lines through an engine, with a content-hash take cache on disk.

A take's key hashes everything that changes its audio (engine, text, voice, emotion,
target length, mode, sampling, seed), so editing one line re-renders only that line and
re-running a dub re-uses every unchanged take.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from core.audio.samples import write_wav
from models.contract import (
    SAMPLE_RATE,
    STOPPED,
    DurationMode,
    Engine,
    SynthesisRequest,
    SynthesisResult,
)


class Cancelled(Exception):
    """The user cancelled; partial work is kept (takes already cached stay cached)."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


def _audio_digest(audio: np.ndarray | None) -> str:
    if audio is None:
        return ""
    return hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()


def take_key(engine_id: str, req: SynthesisRequest) -> str:
    emo = req.emotion
    payload = {
        "engine": engine_id,
        "text": req.text,
        "voice": req.voice.key,
        "emotion": {
            "source": emo.source.value,
            "vector": list(emo.vector) if emo.vector else None,
            "text": emo.text,
            "alpha": emo.alpha,
            "ref": _audio_digest(emo.reference_audio),
            "ref_rate": emo.reference_rate,
        },
        "samples": req.target_samples(),
        "mode": req.mode.value,
        "sampling": asdict(req.sampling),
        "seed": req.seed,
        "language": req.language,
    }
    blob = json.dumps(payload, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


@dataclass
class Take:
    key: str
    audio: np.ndarray
    target_samples: int | None
    cached: bool
    flagged: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sample_rate: int = SAMPLE_RATE  # the engine's rate; target_samples counts at it
    fit: dict | None = None  # how a fitted engine landed it in its span (method, stretch...)


class TakeCache:
    """WAV files named by take key, plus a small JSON sidecar (flags, timings)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.wav"

    def get(self, key: str) -> Take | None:
        p = self.path(key)
        meta_p = p.with_suffix(".json")
        if not p.exists() or not meta_p.exists():
            return None
        try:
            audio, rate = sf.read(p, dtype="float32")
            meta = json.loads(meta_p.read_text())
        except Exception:  # a damaged cache entry is just a miss
            return None
        if rate != meta.get("sample_rate", SAMPLE_RATE):
            return None
        return Take(
            key,
            audio,
            meta.get("target_samples"),
            True,
            meta.get("flagged"),
            {},
            list(meta.get("notes", [])),
            rate,
            meta.get("fit"),
        )

    def put(self, key: str, result: SynthesisResult) -> Take:
        assert result.audio is not None
        p = self.path(key)
        write_wav(p, result.audio, result.sample_rate)  # atomic: no half take after a full disk
        meta = {
            "target_samples": result.target_samples,
            "flagged": result.flagged,
            "notes": list(result.notes),
            "sample_rate": result.sample_rate,
            "fit": result.fit,
        }
        meta_tmp = p.with_suffix(".json.tmp")
        meta_tmp.write_text(json.dumps(meta))
        meta_tmp.replace(p.with_suffix(".json"))
        return _fresh_take(key, result)


def _fresh_take(key: str, result: SynthesisResult) -> Take:
    assert result.audio is not None
    return Take(
        key,
        result.audio,
        result.target_samples,
        False,
        result.flagged,
        result.timings,
        list(result.notes),
        result.sample_rate,
        result.fit,
    )


def _exact_length(req: SynthesisRequest, sample_rate: int = SAMPLE_RATE) -> int | None:
    """The sample count a take must have at the engine's rate: free pace has none."""
    return None if req.mode is DurationMode.FREE else req.target_samples(sample_rate)


@dataclass
class RenderOutcome:
    takes: list[Take | None]  # per request, None when it failed
    errors: dict[int, str]  # request position -> message
    rendered: int  # how many were synthesised (not from the cache)


def render(
    engine: Engine,
    requests: Sequence[SynthesisRequest],
    cache: TakeCache | None,
    *,
    engine_id: str | None = None,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
    cancel: CancelToken | None = None,
    on_take: Callable[[int, Take], None] | None = None,
) -> RenderOutcome:
    """Render requests, serving unchanged takes from the cache.

    Each take reaches the cache (and survives a crash or a cancel) the moment the engine
    hands it over; `on_take(position, take)` hears of each new one. A cancel asks the
    engine to stop at its next stage boundary and raises Cancelled once what was finished
    is stored.
    """
    # An engine's identity names its model files and settings, not only its kind.
    eid = engine_id or engine.identity
    keys = [take_key(eid, r) for r in requests]
    takes: list[Take | None] = [None] * len(requests)
    errors: dict[int, str] = {}
    todo: list[int] = []
    for i, k in enumerate(keys):
        hit = cache.get(k) if cache else None
        want = _exact_length(requests[i], hit.sample_rate) if hit else None
        if hit is not None and (want is None or len(hit.audio) == want):
            takes[i] = hit
        else:
            todo.append(i)
    done = len(requests) - len(todo)
    total = len(requests)
    if progress:
        progress(done, total)
    for start in range(0, len(todo), max(1, batch_size)):
        if cancel:
            cancel.check()
        chunk = todo[start : start + batch_size]
        t0 = time.perf_counter()
        base = done
        handled: set[int] = set()

        def chunk_progress(d: int, t: int, base: int = base) -> None:
            if progress:
                progress(base + d, total)

        def arrived(j: int, res: SynthesisResult, chunk=chunk, t0=t0, handled=handled) -> None:
            # Each result is cached the moment it exists: a cancel or a crash right after
            # loses nothing that was finished.
            i = chunk[j]
            handled.add(j)
            if not res.ok:
                if res.error != STOPPED:
                    errors[i] = res.error or "the engine returned no audio"
                return
            want = _exact_length(requests[i], res.sample_rate)
            if want is not None and len(res.audio) != want:
                errors[i] = f"engine returned {len(res.audio)} samples, {want} were requested"
                return
            res.timings.setdefault("wall", (time.perf_counter() - t0) / len(chunk))
            takes[i] = cache.put(keys[i], res) if cache else _fresh_take(keys[i], res)
            if on_take:
                on_take(i, takes[i])

        results = engine.synthesize(
            [requests[i] for i in chunk],
            chunk_progress,
            on_result=arrived,
            should_stop=(lambda: cancel.cancelled) if cancel else None,
        )
        if len(results) != len(chunk):
            raise RuntimeError(f"engine returned {len(results)} results for {len(chunk)} requests")
        for j, res in enumerate(results):
            if j not in handled:  # an engine that only returns at the end
                arrived(j, res)
        done += len(chunk)
        if progress:
            progress(done, total)
    if cancel:
        cancel.check()
    rendered = sum(1 for i in todo if takes[i] is not None)
    return RenderOutcome(takes, errors, rendered)
