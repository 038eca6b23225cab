"""Who speaks each line, without a diarization model: cluster the lines' own voices.

Each subtitle line's audio gives one speaker embedding (core/speakers/embedding.py); lines
whose embeddings lie close together are taken to share a speaker. Pure numpy and scipy
(scipy comes with bigvgan and pyloudnorm), so it runs and tests without torch.

Public API::

    cluster_speakers(embeddings (n, d), num_speakers=None, *, max_speakers=8,
                     min_silhouette=MIN_SILHOUETTE) -> ClusterResult

    ClusterResult.labels       one int per line: 0..k-1 numbered in order of first
                               appearance, -1 for a line with no usable embedding (a NaN,
                               infinite or all-zero row: a line too short to embed); the
                               caller assigns those (e.g. to a neighbour's speaker)
    ClusterResult.num_speakers k (0 when no line has an embedding)
    ClusterResult.method       one sentence: what ran and why this k
    ClusterResult.confidence   per line: cosine similarity (in the centred space that was
                               clustered) to its own cluster's centroid minus that to the
                               nearest other centroid, in [-2, 2] (> 0: closer to its own;
                               near 0: could be either); with one speaker, the plain
                               cosine similarity to the mean voice; NaN for label -1
    ClusterResult.silhouettes  {k: mean silhouette} of each k tried when k was estimated

How k is estimated: the unit embeddings are centred on their mean (what all the lines
share: the film's room and channel, an embedder's bias: resemblyzer's vectors are all
positive, so every pair looks alike) and normalised again; agglomerative clustering,
average linkage on cosine distance (scipy), is cut at each k in 2..max_speakers; the k with
the highest mean silhouette (cosine) wins, ties to the smaller k. One speaker unless that
best silhouette reaches `min_silhouette` (0.25: Kaufman and Rousseeuw's "no substantial
structure" bound; for the CAMPPlus embeddings the product clusters it is a guess, not a
calibration: see MIN_SILHOUETTE; the method sentence says so). Fewer than
MIN_LINES_TO_ESTIMATE lines are one speaker: two lines say nothing about spread. A given
num_speakers uses the same clustering, capped at the number of distinct embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import squareform

UNKNOWN = -1  # label of a line without a usable embedding

# One speaker unless some split reaches this mean silhouette. A GUESS for the embeddings the
# product clusters (CAMPPlus, 192-d, core/speakers/embedding.py), not a calibration: the
# figures below were measured with resemblyzer embeddings (another network) of espeak-ng
# voices, and no CAMPPlus calibration could be made here (the only CAMPPlus weights this
# project tests with are the tiny reference checkpoints' random ones, whose vectors say
# nothing about voices; the released weights are not fetched). A silhouette compares own
# with nearest-other cluster distances, so the bound may carry over to another embedder,
# but that is unmeasured. Hence the bound is a parameter (`min_silhouette`) and every
# decision it makes says it is a guess and how to overrule it (the number of speakers).
# Resemblyzer's figures: one voice split in two scores at most 0.31 over 6 lines (90th
# percentile 0.27), 0.24 over 12, 0.17 over 18; two to four clearly different voices score
# at least 0.29 (3 lines each) and 0.37 (6 lines each). Small line counts stay ambiguous.
MIN_SILHOUETTE = 0.25
UNCALIBRATED = (
    "the silhouette bound {bound:.2f} is a guess for these voice embeddings (CAMPPlus), "
    "not calibrated: give the number of speakers (--speakers) if this is wrong"
)
MIN_LINES_TO_ESTIMATE = 3
DEFAULT_MAX_SPEAKERS = 8


@dataclass
class ClusterResult:
    labels: list[int]
    num_speakers: int
    method: str
    confidence: list[float]
    silhouettes: dict[int, float] = field(default_factory=dict)


def _usable_rows(x: np.ndarray) -> np.ndarray:
    """Rows with an embedding to compare: finite and not all zeros (no direction)."""
    finite = np.isfinite(x).all(axis=1)
    norms = np.linalg.norm(np.where(finite[:, None], x, 0.0), axis=1)
    return finite & (norms > 1e-12)


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 1e-12, norms, 1.0)


def _cosine_distances(unit: np.ndarray) -> np.ndarray:
    d = 1.0 - unit @ unit.T
    d = np.clip((d + d.T) / 2.0, 0.0, 2.0)
    np.fill_diagonal(d, 0.0)
    return d


def _cut(merges: np.ndarray, n: int, k: int) -> np.ndarray:
    """Labels of n points after the first n - k merges of a scipy linkage: exactly k
    clusters, even where merge heights tie (fcluster's maxclust may give fewer)."""
    parent = np.arange(2 * n - 1)
    for i in range(n - k):
        a, b = int(merges[i, 0]), int(merges[i, 1])
        parent[a] = parent[b] = n + i
    roots = np.arange(n)
    while True:
        up = parent[roots]
        if np.array_equal(up, roots):
            return _by_first_appearance(roots)
        roots = up


def _by_first_appearance(raw: np.ndarray) -> np.ndarray:
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(r), len(order)) for r in raw], dtype=int)


def _silhouette(dist: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Mean silhouette; a point alone in its cluster scores 0 (as scikit-learn)."""
    onehot = np.eye(k)[labels]
    counts = onehot.sum(axis=0)
    sums = dist @ onehot  # (n, k): summed distance of each point to each cluster
    own = counts[labels] - 1
    a = np.where(own > 0, sums[np.arange(len(labels)), labels] / np.maximum(own, 1), 0.0)
    mean_to = sums / counts
    mean_to[np.arange(len(labels)), labels] = np.inf
    b = mean_to.min(axis=1)
    denom = np.maximum(a, b)
    s = np.where((own > 0) & (denom > 0), (b - a) / np.where(denom > 0, denom, 1.0), 0.0)
    return float(s.mean())


def _confidence(unit: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    centroids = _unit(np.stack([unit[labels == c].mean(axis=0) for c in range(k)]))
    sims = unit @ centroids.T  # (n, k)
    own = sims[np.arange(len(labels)), labels]
    if k == 1:
        return own
    sims[np.arange(len(labels)), labels] = -np.inf
    return own - sims.max(axis=1)


def _speakers(k: int) -> str:
    return "1 speaker" if k == 1 else f"{k} speakers"


def _lines(n: int) -> str:
    return "1 line" if n == 1 else f"{n} lines"


def cluster_speakers(
    embeddings: np.ndarray,
    num_speakers: int | None = None,
    *,
    max_speakers: int = DEFAULT_MAX_SPEAKERS,
    min_silhouette: float = MIN_SILHOUETTE,
) -> ClusterResult:
    """Group line embeddings (n, d) by speaker; see the module docstring."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim == 1 and x.size == 0:
        x = x.reshape(0, 0)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (lines, dims), got shape {x.shape}")
    if num_speakers is not None and num_speakers < 1:
        raise ValueError(f"num_speakers must be at least 1, got {num_speakers}")
    if max_speakers < 1:
        raise ValueError(f"max_speakers must be at least 1, got {max_speakers}")
    n = x.shape[0]
    usable = _usable_rows(x) if x.shape[1] else np.zeros(n, dtype=bool)
    idx = np.flatnonzero(usable)
    m = len(idx)
    labels = np.full(n, UNKNOWN, dtype=int)
    confidence = np.full(n, np.nan)
    unknown_note = ""
    if 0 < m < n:
        unknown_note = (
            f"; {_lines(n - m)} without a usable embedding (too short?) left unknown (-1)"
        )

    if m == 0:
        method = (
            f"none of the {_lines(n)} has a usable embedding (too short?); all left unknown (-1)"
            if n
            else "no lines to cluster"
        )
        return ClusterResult(labels.tolist(), 0, method, confidence.tolist())

    unit = _unit(x[idx])
    distinct = len(np.unique(unit, axis=0))
    # Centred, the lines differ by who speaks rather than by what they all share.
    centred = _unit(unit - unit.mean(axis=0)) if m >= MIN_LINES_TO_ESTIMATE else unit
    head = f"agglomerative clustering of {m} line embeddings (cosine, average linkage)"
    silhouettes: dict[int, float] = {}

    if m == 1 or distinct == 1:
        k = 1
        method = (
            f"1 line embedding: {_speakers(1)}"
            if m == 1
            else f"{m} identical line embeddings: {_speakers(1)}"
        )
    elif num_speakers is not None:
        k = min(num_speakers, distinct)
        method = f"{head}; {_speakers(k)} as given"
        if k < num_speakers:
            method = (
                f"{head}; {_speakers(k)}: {num_speakers} were asked for but the "
                f"{_lines(m)} hold only {distinct} distinct embeddings"
            )
    elif m < MIN_LINES_TO_ESTIMATE:
        k = 1
        method = f"{m} line embeddings, too few to tell voices apart: {_speakers(1)}"
    elif max_speakers == 1:
        k = 1
        method = f"{m} line embeddings, at most {_speakers(1)} allowed: {_speakers(1)}"
    else:
        k = 0  # decided below from the silhouettes
        method = head

    dist = _cosine_distances(centred)
    merges = None
    if m > 1 and k != 1:
        merges = linkage(squareform(dist, checks=False), method="average")
    if k == 0:
        top = min(max_speakers, distinct, m - 1)
        for cand in range(2, top + 1):
            silhouettes[cand] = _silhouette(dist, _cut(merges, m, cand), cand)
        best = max(silhouettes, key=lambda c: (silhouettes[c], -c))
        if silhouettes[best] >= min_silhouette:
            k = best
            method = (
                f"{head}; {_speakers(k)} estimated from the silhouette score "
                f"({silhouettes[best]:.2f}, tried 2-{top}); "
                + UNCALIBRATED.format(bound=min_silhouette)
            )
        else:
            k = 1
            method = (
                f"{head}; {_speakers(1)}: no split reaches a silhouette of "
                f"{min_silhouette:.2f} (best: {_speakers(best)} at {silhouettes[best]:.2f}); "
                + UNCALIBRATED.format(bound=min_silhouette)
            )

    found = np.zeros(m, dtype=int) if k == 1 else _cut(merges, m, k)
    labels[idx] = found
    confidence[idx] = _confidence(unit if k == 1 else centred, found, k)
    return ClusterResult(
        labels.tolist(), k, method + unknown_note, confidence.tolist(), silhouettes
    )
