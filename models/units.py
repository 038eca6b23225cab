"""Rates, counts and pace limits: one rule for turning seconds into samples, tokens and
frames, written once for the whole program (DESIGN.md, "Duration control")."""

from __future__ import annotations

SAMPLE_RATE = 22050  # every waveform an engine returns
MIX_RATE = 48000  # the master mix and the extracted original
SEMANTIC_TOKENS_PER_SECOND = 50  # IndexTTS2's T2S codes
MEL_HOP = 256  # S2M mel frames: SAMPLE_RATE / MEL_HOP per second

# A line spoken at its natural pace may be fitted to its slot when natural / slot lies
# in this range; outside it the line is flagged (too fast or too slow to sound right).
PACE_RANGE = (0.8, 1.25)


def samples_for(seconds: float, rate: int = SAMPLE_RATE) -> int:
    """Sample count of a duration at a rate (round half to even, as Python's round)."""
    return int(round(seconds * rate))


def tokens_for(seconds: float) -> int:
    """T2S semantic tokens for a duration (50 per second)."""
    return round(seconds * SEMANTIC_TOKENS_PER_SECOND)


def frames_for(seconds: float) -> int:
    """S2M mel frames for a duration (hop 256 at 22050 Hz)."""
    return round(seconds * SAMPLE_RATE / MEL_HOP)
