"""Issue 26, item 17: the speaker-count bound was measured on resemblyzer embeddings, the
product clusters CAMPPlus ones, and no CAMPPlus calibration exists here (the only CAMPPlus
weights at hand are random). Every decision the bound makes says it is a guess and how to
overrule it; the bound is a parameter the caller can set."""

from __future__ import annotations

import numpy as np

from core.speakers.clustering import MIN_SILHOUETTE, cluster_speakers


def _voices(centres: int, lines: int, spread: float, seed: int = 0) -> np.ndarray:
    """192-d rows (CAMPPlus' size): `lines` per voice around `centres` random voices."""
    rng = np.random.default_rng(seed)
    voices = rng.standard_normal((centres, 192))
    rows = [v + spread * rng.standard_normal((lines, 192)) for v in voices]
    return np.concatenate(rows).astype(np.float32)


def test_an_estimated_count_says_its_bound_is_a_guess():
    split = cluster_speakers(_voices(3, 6, 0.3))
    assert split.num_speakers == 3
    assert "guess" in split.method and "--speakers" in split.method
    assert f"{MIN_SILHOUETTE:.2f}" in split.method


def test_one_voice_kept_whole_says_its_bound_is_a_guess():
    whole = cluster_speakers(_voices(1, 18, 1.0, seed=4))
    assert whole.num_speakers == 1
    assert "guess" in whole.method and "--speakers" in whole.method


def test_the_bound_is_the_callers_to_set():
    rows = _voices(2, 6, 1.2, seed=2)
    best = max(cluster_speakers(rows).silhouettes.values())
    assert cluster_speakers(rows, min_silhouette=best - 0.01).num_speakers > 1
    strict = cluster_speakers(rows, min_silhouette=best + 0.01)
    assert strict.num_speakers == 1 and f"{best + 0.01:.2f}" in strict.method
