from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from core.audio.loudness import integrated_loudness


@pytest.mark.parametrize("rate", [48000, 44100])
@pytest.mark.parametrize("kind", ["noise", "speechy", "mono", "quiet_then_loud"])
def test_matches_pyloudnorm(kind, rate):
    rng = np.random.default_rng(abs(hash(kind)) % 1000)
    n = rate * 12
    if kind == "noise":
        x = 0.1 * rng.standard_normal((n, 2))
    elif kind == "speechy":  # bursts with pauses, like dialogue
        env = (np.sin(np.arange(n) / rate * 2 * np.pi * 0.7) > 0.2).astype(float)
        x = (0.2 * rng.standard_normal((n, 2))) * env[:, None]
    elif kind == "mono":
        x = 0.05 * np.sin(np.arange(n) / rate * 2 * np.pi * 997)
    else:  # gating matters: a long near-silent part then a loud one
        x = np.concatenate(
            [1e-5 * rng.standard_normal((n // 2, 2)), 0.3 * rng.standard_normal((n // 2, 2))]
        )
    x = x.astype(np.float32)
    ours = integrated_loudness(x, rate)
    ref = pyloudnorm.Meter(rate).integrated_loudness(x)
    assert ours == pytest.approx(ref, abs=0.05)


def test_silence_and_short_audio():
    assert integrated_loudness(np.zeros((48000, 2), np.float32)) == float("-inf")
    assert integrated_loudness(np.ones(1000, np.float32)) == float("-inf")


def test_six_db_louder_is_six_lu_more():
    rng = np.random.default_rng(3)
    x = (0.05 * rng.standard_normal((48000 * 5, 2))).astype(np.float32)
    assert integrated_loudness(2 * x) - integrated_loudness(x) == pytest.approx(
        20 * np.log10(2), abs=1e-3
    )
