"""Exact duration on IndexTTS-2.5: how a line's slot becomes code, frame and sample counts.

The release controls length in one place only: `duration_factor` scales the number of mel
frames the length regulator stretches the decoded content to,
    frames = int(2N * 1.72 * duration_factor)            (N codes at 25/s, 2N frames at 50/s)
and the GPT's code count is whatever it decodes freely (the 2.5 GPT has no duration
embedding: its two extra conditioning rows are zeros, and the docs say token-count control
is not open in this version). Dubsmith's exact mode for 2.5 uses both levers, so that the
words fit the slot and the audio has exactly its length:

1. codes: T = round(25 d) for a slot of d seconds, forced (the stop code is forbidden before
   T and forced at T, the same constraint as 2.0's exact mode at 50/s). Without it a line
   decoded freely and then squeezed by the flow model alone would change its pace by
   whatever factor the free length happened to be; with it the decoder spreads the words
   over the slot itself, the flow model only rounds.
2. frames: F = round(d * 22050 / 256) (the 2.0 rule). That is the release's duration factor
   chosen per line as F / (2T * 1.72), which stays within a fraction of a frame of 1.0 when
   T is forced; with several segments F is shared out in proportion to their codes.
3. samples: the vocoder's F * 256 samples trimmed or padded to round(d * 22050).

Natural mode decodes freely (N codes) and reports how far its natural length,
int(2N * 1.72) frames, is from the slot's F (flagged outside [0.8, 1.25]); it is then fitted
to F frames anyway, like 2.0. Free mode is the release: int(2N * 1.72 * duration_factor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.units import frames_for, samples_for

CODES_PER_SECOND = 25  # EnhancedCodec: w2v-BERT's 50 Hz frames halved
FRAMES_PER_CODE_PAIR = 1.72  # the release's factor on the 50 Hz content length


def codes_for(seconds: float) -> int:
    """2.5 semantic codes for a duration (25 per second)."""
    return round(seconds * CODES_PER_SECOND)


def release_frames(codes: int, duration_factor: float = 1.0) -> int:
    """infer_v2_5's frame count: int(S_infer.shape[1] * 1.72 * duration_factor), a Python
    float product truncated, S_infer having 2 frames per code."""
    return int(2 * int(codes) * FRAMES_PER_CODE_PAIR * float(duration_factor))


def implied_duration_factor(codes: int, frames: int) -> float:
    """The release's duration_factor that would give `frames` for `codes`."""
    return frames / max(2 * int(codes) * FRAMES_PER_CODE_PAIR, 1e-9)


@dataclass(frozen=True)
class LengthPlan25:
    codes: int  # forced code count (exact mode)
    frames: int  # mel frames of the line
    samples: int  # waveform samples at 22050 Hz

    @classmethod
    def for_duration(cls, seconds: float) -> LengthPlan25:
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(f"a target duration must be positive, got {seconds}")
        return cls(
            codes=max(1, codes_for(seconds)),
            frames=frames_for(seconds),
            samples=samples_for(seconds),
        )
