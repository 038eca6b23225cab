from __future__ import annotations

import numpy as np

from core.audio.silence import silence_until_ms

RATE = 16000


def _track(spans_s, total_s=10.0, seed=0):
    rng = np.random.default_rng(seed)
    x = 0.001 * rng.standard_normal(int(total_s * RATE))  # room tone
    for a, b in spans_s:
        x[int(a * RATE) : int(b * RATE)] += 0.2 * rng.standard_normal(int((b - a) * RATE))
    return x.astype(np.float32)


def test_finds_where_speech_resumes():
    x = _track([(1.0, 2.0), (4.0, 5.0)])
    got = silence_until_ms(x, RATE, [2000, 3000, 4500, 6000])
    assert abs(got[0] - 4000) <= 20  # quiet from 2 s until speech at 4 s
    assert abs(got[1] - 4000) <= 20
    assert got[2] == 4500  # still speaking: no silence to grow into
    assert got[3] == 10000  # nothing follows until the end


def test_threshold_follows_the_tracks_own_floor():
    """A music bed 30 dB louder than room tone is the floor; speech over it still counts."""
    rng = np.random.default_rng(1)
    x = (0.03 * rng.standard_normal(RATE * 6)).astype(np.float32)
    x[3 * RATE : 4 * RATE] += (0.5 * rng.standard_normal(RATE)).astype(np.float32)
    assert abs(silence_until_ms(x, RATE, [1000])[0] - 3000) <= 20
