"""Our emotion inputs as VoxCPM2's style text: "(cheerful, slightly faster)Line text".

VoxCPM2 steers a cloned voice with a description in parentheses before the text (its
"controllable cloning"). A text emotion is such a description already; an emotion vector
becomes the names of its strongest emotions, graded by weight and strength; the voice's
own delivery needs none. A pace (models/voxcpm2/fit.py) is added to the same parentheses.
A reference clip cannot be turned into words: the engine does not list it as honoured.
"""

from __future__ import annotations

import re

from models.contract import EMOTION_NAMES, EmotionSource, EmotionSpec

# How each of our eight emotions is asked for in words VoxCPM2's instructions use.
EMOTION_WORDS = {
    "happy": "happy",
    "angry": "angry",
    "sad": "sad",
    "afraid": "afraid",
    "disgusted": "disgusted",
    "melancholic": "melancholic",
    "surprised": "surprised",
    "calm": "calm",
}
MIN_WEIGHT = 0.15  # a weight (times alpha) below this is not worth naming
STRONG_WEIGHT = 0.6  # at or above: "very ..."
MAX_NAMED = 2


def vector_words(vector: tuple[float, ...], alpha: float) -> list[str]:
    """The strongest emotions of an 8-weight vector, graded ("slightly sad", "very angry")."""
    weighted = sorted(
        ((w * alpha, name) for w, name in zip(vector, EMOTION_NAMES, strict=True)),
        reverse=True,
    )
    words = []
    for weight, name in weighted[:MAX_NAMED]:
        if weight < MIN_WEIGHT:
            break
        grade = "very " if weight >= STRONG_WEIGHT else "" if weight >= 0.3 else "slightly "
        words.append(grade + EMOTION_WORDS[name])
    return words


def emotion_words(emotion: EmotionSpec) -> list[str]:
    if emotion.source is EmotionSource.TEXT and emotion.text:
        text = emotion.text.strip().strip("()").strip()
        if emotion.alpha < 0.5:
            text = f"a hint of {text}"
        return [text] if text else []
    if emotion.source is EmotionSource.VECTOR and emotion.vector:
        return vector_words(emotion.vector, emotion.alpha)
    return []


def styled_text(text: str, emotion: EmotionSpec, pace: str | None = None) -> str:
    """The line's text with its style instruction in front (none when nothing is asked)."""
    words = emotion_words(emotion) + ([pace] if pace else [])
    # Parentheses inside the text would end the instruction early.
    clean = re.sub(r"(\s*,\s*)+", ", ", re.sub(r"\s*[()]\s*", ", ", text)).strip(" ,")
    if not words:
        return clean
    return "(" + ", ".join(words) + ")" + clean
