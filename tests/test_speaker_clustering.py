"""Who speaks each line: clustering line embeddings (core/speakers/clustering.py) and
embedding line spans (core/speakers/embedding.py).

Synthetic embeddings check the clustering itself; real ones come from resemblyzer's
pretrained GE2E encoder (shipped inside its wheel, a test-only dependency) on espeak-ng
voices; CAMPPlus runs end to end on the tiny reference model folder (random weights: shapes
and NaN rows only, no accuracy).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from scipy.optimize import linear_sum_assignment

from core.lines.render import Cancelled
from core.speakers.clustering import MIN_SILHOUETTE, UNKNOWN, ClusterResult, cluster_speakers
from core.speakers.embedding import EDGE_TRIM_MS, embed_lines
from models.line_embedder import CampPlusEmbedder
from tests.mediagen import pink_noise

DIM = 192
RATE = 16000


def accuracy(labels, truth) -> float:
    """Share of lines whose label matches the truth under the best one-to-one mapping of
    cluster labels to true speakers; UNKNOWN (-1) and unmapped clusters count as wrong."""
    labels = np.asarray(labels)
    truth = np.asarray(truth)
    ks, kt = max(labels.max(), 0) + 1, truth.max() + 1
    counts = np.zeros((ks, kt))
    for p, t in zip(labels, truth, strict=True):
        if p >= 0:
            counts[p, t] += 1
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(truth))


def test_accuracy_helper():
    assert accuracy([1, 1, 0, 0], [0, 0, 1, 1]) == 1.0
    assert accuracy([0, 0, 0, 0], [0, 0, 1, 1]) == 0.5
    assert accuracy([0, -1, 1, 1], [0, 0, 1, 1]) == 0.75
    assert accuracy([0, 1, 2, 3], [0, 0, 1, 1]) == 0.5


def gaussian_clusters(rng, sizes, dim=DIM, spread=0.6, offset=0.0):
    """Clusters around random directions (plus a common offset, as real embedders have),
    in random order: (embeddings, true labels)."""
    centers = rng.standard_normal((len(sizes), dim))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    x, y = [], []
    for k, size in enumerate(sizes):
        x.append(centers[k] + offset + spread * rng.standard_normal((size, dim)) / np.sqrt(dim))
        y += [k] * size
    order = rng.permutation(len(y))
    return np.concatenate(x)[order], np.array(y)[order]


def assert_first_appearance(labels):
    seen = -1
    for lab in labels:
        if lab == UNKNOWN:
            continue
        assert lab <= seen + 1, f"label {lab} before {seen + 1} in {labels}"
        seen = max(seen, lab)


# --------------------------------------------------------------------------- synthetic


@pytest.mark.parametrize("seed", range(5))
def test_three_clusters_with_k_given(seed):
    x, y = gaussian_clusters(np.random.default_rng(seed), [10, 7, 13])
    r = cluster_speakers(x, 3)
    assert isinstance(r, ClusterResult)
    assert r.num_speakers == 3 and sorted(set(r.labels)) == [0, 1, 2]
    assert accuracy(r.labels, y) == 1.0
    assert_first_appearance(r.labels)
    assert "3 speakers as given" in r.method and "average linkage" in r.method
    assert r.silhouettes == {}
    assert len(r.confidence) == 30 and min(r.confidence) > 0.3


@pytest.mark.parametrize("seed", range(5))
def test_three_clusters_estimated(seed):
    x, y = gaussian_clusters(np.random.default_rng(seed), [10, 7, 13], offset=1.0)
    r = cluster_speakers(x)
    assert r.num_speakers == 3
    assert accuracy(r.labels, y) == 1.0
    assert_first_appearance(r.labels)
    assert "3 speakers estimated from the silhouette score" in r.method
    assert set(r.silhouettes) == set(range(2, 9))
    assert max(r.silhouettes, key=r.silhouettes.get) == 3


@pytest.mark.parametrize("sizes", [[6, 6], [20, 4], [5, 5, 5, 5, 5], [3, 3, 3, 3]])
def test_other_speaker_counts_estimated(sizes):
    x, y = gaussian_clusters(np.random.default_rng(len(sizes)), sizes, spread=0.4)
    r = cluster_speakers(x)
    assert r.num_speakers == len(sizes)
    assert accuracy(r.labels, y) == 1.0


@pytest.mark.parametrize("n", [3, 5, 12, 40])
def test_one_speaker_when_no_split_is_clearly_better(n):
    x, _ = gaussian_clusters(np.random.default_rng(n), [n], offset=0.5)
    r = cluster_speakers(x)
    assert r.num_speakers == 1 and r.labels == [0] * n
    assert max(r.silhouettes.values()) < MIN_SILHOUETTE
    assert "1 speaker: no split reaches a silhouette of 0.25" in r.method
    # With one speaker the confidence is the similarity to the mean voice.
    assert all(0.0 < c <= 1.0 for c in r.confidence)


def test_threshold_is_a_parameter():
    x, _ = gaussian_clusters(np.random.default_rng(0), [12])
    assert cluster_speakers(x, min_silhouette=-1.0).num_speakers > 1
    xs, _ = gaussian_clusters(np.random.default_rng(0), [8, 8])
    assert cluster_speakers(xs, min_silhouette=1.01).num_speakers == 1


def test_max_speakers_caps_the_estimate():
    x, _ = gaussian_clusters(np.random.default_rng(3), [4] * 6, spread=0.3)
    assert cluster_speakers(x).num_speakers == 6
    r = cluster_speakers(x, max_speakers=3)
    assert r.num_speakers <= 3 and set(r.silhouettes) == {2, 3}
    assert cluster_speakers(x, max_speakers=1).num_speakers == 1


def test_nan_rows_are_unknown_and_do_not_disturb_the_rest():
    x, y = gaussian_clusters(np.random.default_rng(7), [8, 8, 8])
    bad = [0, 5, 11, 23]
    x[bad[0]] = np.nan
    x[bad[1], 3] = np.nan
    x[bad[2]] = 0.0  # no direction: as unusable as NaN
    x[bad[3], 0] = np.inf
    r = cluster_speakers(x)
    assert [r.labels[i] for i in bad] == [UNKNOWN] * 4
    assert all(np.isnan(r.confidence[i]) for i in bad)
    keep = [i for i in range(24) if i not in bad]
    assert r.num_speakers == 3
    assert accuracy([r.labels[i] for i in keep], y[keep]) == 1.0
    assert_first_appearance(r.labels)
    assert r.labels[1] == 0  # numbering starts at the first line that has a label
    assert "4 lines without a usable embedding" in r.method
    assert r.method.startswith("agglomerative clustering of 20 line embeddings")


def test_every_row_nan():
    r = cluster_speakers(np.full((3, DIM), np.nan))
    assert r.labels == [UNKNOWN] * 3 and r.num_speakers == 0
    assert all(np.isnan(r.confidence))
    assert "none of the 3 lines" in r.method


@pytest.mark.parametrize("shape", [(0, DIM), (0,), (0, 0)])
def test_no_lines(shape):
    r = cluster_speakers(np.zeros(shape))
    assert r == ClusterResult([], 0, "no lines to cluster", [])


def test_one_line():
    r = cluster_speakers(np.ones((1, DIM)))
    assert r.labels == [0] and r.num_speakers == 1
    assert r.confidence == pytest.approx([1.0])
    assert cluster_speakers(np.ones((1, DIM)), 4).labels == [0]


def test_two_lines_are_too_few_to_estimate():
    x, _ = gaussian_clusters(np.random.default_rng(0), [1, 1])
    r = cluster_speakers(x)
    assert r.labels == [0, 0] and "too few" in r.method
    # ...but a caller who knows may split them.
    assert cluster_speakers(x, 2).labels == [0, 1]


def test_fewer_lines_than_speakers():
    x, _ = gaussian_clusters(np.random.default_rng(1), [1, 1, 1])
    r = cluster_speakers(x, 5)
    assert r.labels == [0, 1, 2] and r.num_speakers == 3
    assert "5 were asked for" in r.method


def test_duplicate_embeddings():
    x, _ = gaussian_clusters(np.random.default_rng(2), [1, 1])
    same = np.repeat(x[:1], 6, axis=0)
    r = cluster_speakers(same)
    assert r.labels == [0] * 6 and r.num_speakers == 1 and "identical" in r.method
    assert cluster_speakers(same, 3).labels == [0] * 6
    # Two voices, each line repeated: as many speakers as distinct embeddings at most.
    pairs = np.concatenate([np.repeat(x[:1], 4, axis=0), np.repeat(x[1:], 4, axis=0)])
    r = cluster_speakers(pairs[[0, 4, 1, 5, 2, 6, 3, 7]], 3)
    assert r.num_speakers == 2 and r.labels == [0, 1] * 4
    r = cluster_speakers(pairs)
    assert r.num_speakers == 2 and r.labels == [0] * 4 + [1] * 4


def test_scale_does_not_matter():
    x, y = gaussian_clusters(np.random.default_rng(4), [6, 6, 6])
    scales = np.random.default_rng(5).uniform(0.01, 100, size=(18, 1))
    assert cluster_speakers(x * scales).labels == cluster_speakers(x).labels


def test_confidence_is_low_between_two_voices():
    x, y = gaussian_clusters(np.random.default_rng(6), [10, 10], spread=0.3)
    between = (x[y == 0].mean(axis=0) + x[y == 1].mean(axis=0)) / 2
    r = cluster_speakers(np.vstack([x, between]), 2)
    conf = np.array(r.confidence)
    assert conf[-1] < 0.2 and conf[:-1].min() > 1.0  # centred: clusters lie opposite


def test_bad_arguments():
    with pytest.raises(ValueError, match="lines, dims"):
        cluster_speakers(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="num_speakers"):
        cluster_speakers(np.ones((3, 4)), 0)
    with pytest.raises(ValueError, match="max_speakers"):
        cluster_speakers(np.ones((3, 4)), max_speakers=0)


# --------------------------------------------------------------------------- embed_lines


class RecordingEmbedder:
    """Embeds a clip as (length, mean) and remembers what it was given."""

    dim = 2

    def __init__(self) -> None:
        self.clips: list[np.ndarray] = []

    def embed(self, audio16k: np.ndarray) -> np.ndarray:
        self.clips.append(audio16k)
        return np.array([len(audio16k), float(audio16k.mean())], dtype=np.float32)


def test_embed_lines_trims_edges_and_leaves_short_spans_nan():
    audio = np.arange(5 * RATE, dtype=np.float32)
    spans = [(0, 1000), (1000, 1400), (2000, 2459), (2000, 2460), (4800, 6000), (3000, 3000)]
    emb = RecordingEmbedder()
    got = []
    out = embed_lines(audio, spans, emb, progress=lambda d, t: got.append((d, t)))
    assert out.shape == (6, 2) and out.dtype == np.float32
    trim = EDGE_TRIM_MS * RATE // 1000
    assert out[0, 0] == RATE - 2 * trim
    assert emb.clips[0][0] == trim  # starts 30 ms in
    assert np.isnan(out[1]).all()  # 400 ms less 60 ms of edges
    assert np.isnan(out[2]).all() and out[3, 0] == 400 * RATE // 1000  # 399 / 400 ms kept
    assert np.isnan(out[4]).all()  # past the audio's end: 170 ms left
    assert np.isnan(out[5]).all()
    assert len(emb.clips) == 2
    assert got == [(i, 6) for i in range(7)]
    assert embed_lines(audio, spans, emb, min_ms=100)[4, 0] == (5000 - 4830) * RATE // 1000


def test_embed_lines_no_spans_and_cancel():
    emb = RecordingEmbedder()
    assert embed_lines(np.zeros(RATE), [], emb).shape == (0, 2)
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 1

    with pytest.raises(Cancelled):
        spans = [(0, 1000), (1000, 2000), (2000, 3000)]
        embed_lines(np.zeros(3 * RATE), spans, emb, cancelled=cancelled)
    assert len(emb.clips) == 1


def test_embed_lines_checks_the_embedders_dim():
    class Liar(RecordingEmbedder):
        dim = 3

    with pytest.raises(ValueError, match="dim says 3"):
        embed_lines(np.zeros(RATE), [(0, 1000)], Liar())


# --------------------------------------------------------------------------- real speech

# Three clearly different espeak-ng voices: (voice, pitch, words per minute).
VOICES = [("en-us", 35, 150), ("en-gb+f3", 75, 175), ("en-us+m7", 50, 135)]
SENTENCES = [
    "Where have you been all this time?",
    "I was waiting for the morning train.",
    "The train never came, did it?",
    "No. So I walked the whole way home.",
    "Then we should eat something before the night comes.",
    "Nobody told me the bridge was closed.",
    "You always say that when you are late.",
    "Give me the keys and wait outside.",
    "It was raining so hard I could not see the road.",
    "Tell your brother I said hello.",
    "We have no time left for this argument.",
    "The letter arrived three days ago.",
    "I think someone is following us.",
    "Keep your voice down, they can hear you.",
    "That is the strangest thing I have ever heard.",
    "Open the window, it is too warm in here.",
    "Are you sure this is the right house?",
    "Let us go back before it gets dark.",
]
GAP_S = 0.5


def say(text: str, voice: str, pitch: int, speed: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "line.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        audio, rate = sf.read(str(wav), dtype="float32")
    return soxr.resample(audio, rate, RATE).astype(np.float32)


def soundtrack(speakers: list[int]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Line i (sentence i, voice speakers[i]) after a gap, over quiet pink noise;
    the spans are the speech itself, as well-timed subtitles would give."""
    pieces, spans, pos = [], [], 0
    gap = int(GAP_S * RATE)
    for i, who in enumerate(speakers):
        speech = say(SENTENCES[i % len(SENTENCES)], *VOICES[who]) * 0.5
        pieces += [np.zeros(gap, np.float32), speech]
        spans.append(((pos + gap) * 1000 // RATE, (pos + gap + len(speech)) * 1000 // RATE))
        pos += gap + len(speech)
    audio = np.concatenate(pieces)
    return audio + pink_noise(len(audio), seed=1), spans


@pytest.fixture(scope="module")
def three_voices():
    truth = np.random.default_rng(1).permutation(np.repeat([0, 1, 2], 6))
    audio, spans = soundtrack(list(truth))
    return audio, spans, truth


class ResemblyzerEmbedder:
    dim = 256

    def __init__(self, encoder) -> None:
        self.encoder = encoder

    def embed(self, audio16k: np.ndarray) -> np.ndarray:
        return self.encoder.embed_utterance(audio16k)


@pytest.fixture(scope="module")
def resemblyzer():
    # webrtcvad 2.0.10 (resemblyzer's VAD, unused here: we embed whole spans) imports
    # pkg_resources, which setuptools 81+ no longer has: stand in for it while importing.
    try:
        import webrtcvad  # noqa: F401
    except ImportError:
        with pytest.MonkeyPatch.context() as mp:
            mp.setitem(sys.modules, "webrtcvad", types.ModuleType("webrtcvad"))
            import resemblyzer  # noqa: F401  (a dev dependency: missing must fail)
    import resemblyzer as rz

    weights = Path(rz.__file__).parent / "pretrained.pt"
    assert weights.is_file()  # the GE2E weights come inside the wheel: nothing downloads
    return ResemblyzerEmbedder(rz.VoiceEncoder("cpu", verbose=False))


def test_real_voices_estimated_with_resemblyzer(three_voices, resemblyzer):
    audio, spans, truth = three_voices
    # Two cues too short to say who speaks, between the lines.
    spans = [*spans[:9], (spans[9][0] - 300, spans[9][0] - 50), *spans[9:]]
    truth = np.concatenate([truth[:9], [-1], truth[9:]])
    emb = embed_lines(audio, spans, resemblyzer)
    assert emb.shape == (19, 256) and np.isnan(emb[9]).all()
    r = cluster_speakers(emb)
    assert r.labels[9] == UNKNOWN
    keep = truth >= 0
    assert r.num_speakers == 3, r.method
    assert accuracy(np.array(r.labels)[keep], truth[keep]) >= 0.95
    assert "3 speakers estimated" in r.method


def test_one_real_voice_is_one_speaker(resemblyzer):
    audio, spans = soundtrack([0] * len(SENTENCES))
    r = cluster_speakers(embed_lines(audio, spans, resemblyzer))
    assert r.num_speakers == 1, r.method


def test_campplus_end_to_end_on_the_tiny_model(tiny_model_dir, three_voices):
    audio, spans, _ = three_voices
    embedder = CampPlusEmbedder.load(tiny_model_dir)
    spans = [*spans[:4], (spans[4][0], spans[4][0] + 300), (10**7, 10**7 + 2000)]
    emb = embed_lines(audio, spans, embedder)
    assert emb.shape == (6, 192) and emb.dtype == np.float32
    assert np.isfinite(emb[:4]).all() and np.isnan(emb[4:]).all()
    assert np.linalg.norm(emb[:4], axis=1).min() > 0
    # Random weights: any labelling will do, but the unusable lines stay unknown.
    r = cluster_speakers(emb)
    assert r.labels[4:] == [UNKNOWN, UNKNOWN] and min(r.labels[:4]) == 0
