"""A line's emotion: its own setting in the project, else the dub's default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from core import project as proj
from core.audio.samples import read_any_audio
from core.media.probe import MediaError
from core.notices import Notice
from core.speakers.voices import line_reference
from core.subtitles.read import Cue
from models.contract import SAMPLE_RATE, EmotionSource, EmotionSpec


def emotion_for(
    cue: Cue,
    custom: proj.Emotion | None,
    default: str,
    mono22k: np.ndarray | None,
    warn: Callable[[Notice], None],
) -> EmotionSpec:
    """A line's emotion: its own setting from the project file when the editor gave one,
    else the dub's `default` ("original": the line's own audio, or "voice")."""
    if custom is not None:
        try:
            return emotion_spec(custom, cue, mono22k)
        except (ValueError, OSError, MediaError) as exc:
            warn(
                Notice(
                    cue.index,
                    "emotion",
                    f"its emotion setting cannot be used ({exc}); using the default",
                )
            )
    if default == "original" and mono22k is not None:
        ref = line_reference(mono22k, SAMPLE_RATE, cue.start_ms, cue.end_ms)
        if len(ref) >= MIN_REFERENCE:
            return EmotionSpec(
                EmotionSource.REFERENCE, reference_audio=ref, reference_rate=SAMPLE_RATE
            )
        warn(
            Notice(
                cue.index, "short-reference", "too short to copy its delivery; using the voice's"
            )
        )
    return EmotionSpec(EmotionSource.VOICE)


MIN_REFERENCE = SAMPLE_RATE // 4  # under 0.25 s there is no delivery to copy


def emotion_spec(emotion: proj.Emotion, cue: Cue, mono22k: np.ndarray | None) -> EmotionSpec:
    """The engine's emotion for a line's project setting (ValueError when it cannot be met)."""
    emotion.validate()
    mode = proj.EmotionMode(emotion.mode)
    if mode is proj.EmotionMode.DEFAULT:
        raise ValueError("the line follows the dub's default emotion")
    if mode is proj.EmotionMode.VOICE:
        return EmotionSpec(EmotionSource.VOICE)
    if mode is proj.EmotionMode.ORIGINAL:
        if mono22k is None:
            raise ValueError("the video has no audio to take the original delivery from")
        ref = line_reference(mono22k, SAMPLE_RATE, cue.start_ms, cue.end_ms)
        if len(ref) < MIN_REFERENCE:
            raise ValueError("the line is too short to copy its delivery")
        return EmotionSpec(
            EmotionSource.REFERENCE,
            reference_audio=ref,
            reference_rate=SAMPLE_RATE,
            alpha=emotion.alpha,
        )
    if mode is proj.EmotionMode.REFERENCE:
        audio, rate = read_any_audio(Path(emotion.reference_path))
        audio = np.asarray(audio, np.float32)
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        return EmotionSpec(
            EmotionSource.REFERENCE,
            reference_audio=audio,
            reference_rate=rate,
            alpha=emotion.alpha,
        )
    if mode is proj.EmotionMode.VECTOR:
        return EmotionSpec(
            EmotionSource.VECTOR,
            vector=tuple(float(v) for v in emotion.vector),
            alpha=emotion.alpha,
        )
    return EmotionSpec(EmotionSource.TEXT, text=emotion.text, alpha=emotion.alpha)
