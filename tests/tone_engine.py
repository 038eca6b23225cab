"""A test double of the speech engine (tests only; the product ships no fake engine).

Each line becomes a sine tone whose frequency encodes the request's position, exactly as
long as requested, so tests can find where each line landed in the mix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from models.contract import (
    SAMPLE_RATE,
    STOPPED,
    Capabilities,
    DurationControl,
    EmotionSource,
    SynthesisRequest,
    SynthesisResult,
    VoiceHandle,
)


def tone_frequency(seed: int) -> float:
    return 300.0 + 40.0 * (seed % 20)


class ToneEngine:
    name = "tone-test-double"
    identity = "tone-test-double"
    max_batch = 8
    capabilities = Capabilities(
        languages=("en", "zh"),
        sample_rate=SAMPLE_RATE,
        duration_control=DurationControl.EXACT,
        emotion_inputs=frozenset(EmotionSource),
        max_batch=8,
    )

    def __init__(self, fail_texts: Sequence[str] = ()) -> None:
        self.voices: list[int] = []  # lengths of prepared prompts
        self.calls: list[int] = []  # batch sizes
        self.rendered: list[str] = []
        self.requests: list[SynthesisRequest] = []
        self.fail_texts = set(fail_texts)

    def prepare_voice(self, audio: np.ndarray, sample_rate: int) -> VoiceHandle:
        self.voices.append(len(audio))
        digest = hashlib.sha256(np.asarray(audio, np.float32).tobytes()).hexdigest()[:16]
        return VoiceHandle(key=f"{sample_rate}:{digest}")

    def synthesize(
        self,
        requests: Sequence[SynthesisRequest],
        progress=None,
        *,
        on_result=None,
        should_stop=None,
    ) -> list[SynthesisResult]:
        self.calls.append(len(requests))
        out = []
        for r in requests:
            if should_stop and should_stop():
                out.append(SynthesisResult(None, r.target_samples(), error=STOPPED))
                continue
            self.requests.append(r)
            if r.text in self.fail_texts:
                out.append(SynthesisResult(None, r.target_samples(), error="synthetic failure"))
                continue
            n = r.target_samples() or SAMPLE_RATE
            t = np.arange(n) / SAMPLE_RATE
            audio = (0.3 * np.sin(2 * np.pi * tone_frequency(r.seed) * t)).astype(np.float32)
            self.rendered.append(r.text)
            out.append(SynthesisResult(audio, r.target_samples(), timings={"tone": 0.0}))
            if on_result:
                on_result(len(out) - 1, out[-1])
            if progress:
                progress(len(out), len(requests))
        return out
