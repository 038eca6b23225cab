"""A request's EmotionSpec -> the emotion vector [1, D] the GPT adds to the voice's latents,
as IndexTTS2 and IndexTTS-2.5 both do it (2.5 kept 2.0's rule): the voice's own, a
reference clip's blended in by alpha, or 8 weights (sliders, or read from a description by
the Qwen model) mixed through the emotion matrices.

The costly readings are cached by the engine that owns the caches: a reference clip's
vector (w2v-BERT and the emotion encoder) and a description's reading (a Qwen generation).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
from torch import Tensor

from models.batching import RequestError
from models.contract import EmotionSource, EmotionSpec, ModelFilesMissing
from models.emotion import EmotionMatrices, EmotionReading, TextEmotion, vector_to_emovec
from models.voice import voice_key


class EmotionVoice(Protocol):
    own_emovec: Tensor  # the prompt's own emotion
    base_emovec: Tensor  # what a reference clip's emotion is blended from
    style: Tensor  # CAMPPlus style: picks the matrices' rows nearest this speaker


def emotion_vector(
    voice: EmotionVoice,
    spec: EmotionSpec,
    mats: EmotionMatrices,
    reference: Callable[[np.ndarray | None, int], Tensor],
    text_weights: Callable[[str], list[float]],
) -> Tensor:
    if spec.source is EmotionSource.VOICE:
        return voice.own_emovec
    if spec.source is EmotionSource.REFERENCE:
        emo = reference(spec.reference_audio, spec.reference_rate)
        base = voice.base_emovec
        return base + spec.alpha * (emo - base)
    if spec.source is EmotionSource.VECTOR:
        weights = list(spec.vector or ())
    elif spec.source is EmotionSource.TEXT:
        weights = text_weights(spec.text or "")
    else:  # pragma: no cover - the enum is closed
        raise RequestError(f"unknown emotion source {spec.source}")
    return vector_to_emovec(weights, voice.style, mats, voice.own_emovec, spec.alpha)


def cached_reference(
    cache: OrderedDict[str, Tensor],
    size: int,
    audio: np.ndarray | None,
    rate: int,
    compute: Callable[[np.ndarray, int], Tensor],
) -> Tensor:
    """A reference clip's emotion vector, kept in `cache` (the `size` latest clips, keyed
    on the audio's content); a clip the encoder refuses becomes the request's error."""
    if audio is None:
        raise RequestError("a reference emotion needs audio")
    key = voice_key(audio, rate)
    emo = cache.get(key)
    if emo is None:
        try:
            emo = compute(audio, rate)
        except ValueError as exc:
            raise RequestError(str(exc)) from exc
        cache[key] = emo
        while len(cache) > size:
            cache.popitem(last=False)
    return emo


def read_description(
    readings: dict[str, EmotionReading],
    text: str,
    reader: TextEmotion,
    qwen_dir: Path,
    missing: str,
) -> EmotionReading:
    """The reading of an emotion description, kept in `readings`; `missing` is the error
    when the optional Qwen model is not installed (each engine says where to get it)."""
    if text not in readings:
        if not (Path(qwen_dir) / "config.json").is_file():
            raise RequestError(missing)
        try:
            readings[text] = reader.read(text)
        except ModelFilesMissing as exc:
            raise RequestError(str(exc)) from exc
    return readings[text]
