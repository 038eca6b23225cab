"""One remote engine: a Ray actor holding a real engine loaded through the registry from its
own node's model folder. Plain class here; models/pool/remote.py makes it an actor."""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.contract import (
    Engine,
    ModelFilesMissing,
    SynthesisRequest,
    SynthesisResult,
    VoiceHandle,
)
from models.registry import default_model_dir, engine_entry


@dataclass
class PoolVoice:
    """A voice as the pool ships it: the prompt audio in Ray's object store (put once, by the
    driver), so an actor that has not prepared it yet (a restarted one) can."""

    # In a list, so Ray hands the reference itself to the actor instead of resolving it.
    audio_ref: list[Any] = field(repr=False)
    sample_rate: int
    transcript: str | None = None


@dataclass(frozen=True)
class WorkerReport:
    """What a worker found at start: its node, and its engine or what kept it from loading."""

    node: str
    model_dir: str
    problem: str | None = None
    identity: str = ""
    capabilities: Any = None
    max_batch: int = 1
    name: str = ""
    device: str = "cpu"


def _node() -> str:
    try:
        import ray

        ip = ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - outside Ray (tests of the class itself)
        ip = "?"
    return f"{socket.gethostname()} ({ip})"


class EngineWorker:
    def __init__(
        self, engine_name: str, model_dir: str | None, device: str, precision: str | None
    ) -> None:
        self.engine_name = engine_name
        # No folder given: this node's own (DUBSMITH_MODEL_DIR or the user data folder).
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.device = device
        self.precision = precision
        self.engine: Engine | None = None
        self.voices: dict[str, VoiceHandle] = {}

    def start(self) -> WorkerReport:
        """Check this node's model folder and load the engine; problems come back as words
        (naming the node), never as a half-loaded worker."""
        node = _node()
        folder = str(self.model_dir)
        entry = engine_entry(self.engine_name)
        try:
            entry.check(self.model_dir)
        except ModelFilesMissing as exc:
            return WorkerReport(node, folder, problem=str(exc))
        device = self.device
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                return WorkerReport(node, folder, problem="a GPU was asked for, none is visible")
        try:
            self.engine = entry.load(self.model_dir, device, self.precision)
        except Exception as exc:  # noqa: BLE001 - said to the driver with the node's name
            return WorkerReport(node, folder, problem=f"{entry.title} did not load: {exc}")
        engine = self.engine
        return WorkerReport(
            node,
            folder,
            identity=engine.identity,
            capabilities=engine.capabilities,
            max_batch=max(1, int(engine.max_batch)),
            name=engine.name,
            device=device,
        )

    def pid(self) -> int:
        return os.getpid()

    def prepare_voice(
        self, audio: np.ndarray, sample_rate: int, transcript: str | None = None
    ) -> str:
        assert self.engine is not None
        audio = np.array(audio)  # the object store's arrays are read-only
        if transcript is not None:
            handle = self.engine.prepare_voice(audio, sample_rate, transcript=transcript)  # type: ignore[call-arg]
        else:
            handle = self.engine.prepare_voice(audio, sample_rate)
        self.voices[handle.key] = handle
        return handle.key

    def _voice(self, handle: VoiceHandle) -> VoiceHandle:
        own = self.voices.get(handle.key)
        if own is not None:
            return own
        shipped = handle.data
        if not isinstance(shipped, PoolVoice):
            raise ValueError(f"voice {handle.key} was not prepared through the pool")
        import ray

        audio = ray.get(shipped.audio_ref[0])
        key = self.prepare_voice(audio, shipped.sample_rate, shipped.transcript)
        self.voices[handle.key] = self.voices[key]
        return self.voices[key]

    def render(self, requests: Sequence[SynthesisRequest]) -> list[SynthesisResult]:
        assert self.engine is not None
        own = [dataclasses.replace(r, voice=self._voice(r.voice)) for r in requests]
        return self.engine.synthesize(own)
