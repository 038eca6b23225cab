"""Issue 26, items 15 and 17 carried to the speaker analysis: a speaker model that cannot
be loaded falls back to one voice and says why, while a defect is raised, not swallowed
(core/speakers/analysis.py `_cluster`); the speaker-count bar (`min_silhouette`, a guess for
CAMPPlus) is a dub setting and a flag, `--min-silhouette`, that reaches the clustering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.cli import EXIT_OK, EXIT_USAGE, main
from core import project as proj
from core.errors import OptionError
from core.settings import DubSettings
from core.speakers import clustering as speaker_clustering
from core.speakers import embedding as speaker_embedding
from core.speakers.analysis import CLUSTERING, SINGLE, analyze_speakers
from core.speakers.clustering import MIN_SILHOUETTE, cluster_speakers
from core.subtitles.cue_types import Cue
from models.contract import ModelFilesDamaged
from tests import mediagen

RATE = 16000
LINES = 12  # six a voice, alternating


def _voices() -> np.ndarray:
    """192-d rows (CAMPPlus' size), two voices far enough apart to be split at some bar."""
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((2, 192))
    return np.stack([centres[i % 2] + 1.2 * rng.standard_normal(192) for i in range(LINES)])


ROWS = _voices()


class LineCoded:
    """An embedder double: each line's audio holds its own number, which picks its row."""

    dim = 192

    def embed(self, audio16k: np.ndarray) -> np.ndarray:
        return ROWS[int(round(float(np.median(audio16k))))]


def _soundtrack() -> tuple[list[Cue], np.ndarray]:
    cues, audio = [], np.zeros(RATE * 2 * LINES, dtype=np.float32)
    for i in range(LINES):
        start, end = i * 2000, i * 2000 + 1500
        audio[start * RATE // 1000 : end * RATE // 1000] = i
        cues.append(Cue(i + 1, start, end, f"Line {i + 1}.", None, f"Line {i + 1}."))
    return cues, audio


def _analyze(tmp_path: Path, factory, **kwargs):
    cues, audio = _soundtrack()
    return analyze_speakers(cues, audio, tmp_path / "no-models", embedder_factory=factory, **kwargs)


# --- item 3: the speaker model's failures ---------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        ValueError("campplus.bin is not a CAMPPlus model"),
        RuntimeError("Error(s) in loading state_dict for CAMPPlus"),
        ModelFilesDamaged(Path("/m"), [("campplus.bin", "cut short")], "fetch it again"),
    ],
)
def test_a_speaker_model_that_cannot_load_gives_one_voice_and_says_why(tmp_path, failure):
    def factory(model_dir, device):
        raise failure

    got = _analyze(tmp_path, factory)
    assert got.method == SINGLE
    assert "no speaker model to cluster voices" in got.detail
    damaged = isinstance(failure, ModelFilesDamaged)
    assert ("campplus.bin damaged: cut short" if damaged else str(failure)) in got.detail


def test_a_defect_in_loading_is_raised_not_turned_into_one_voice(tmp_path):
    def factory(model_dir, device):
        raise TypeError("load() got an unexpected keyword argument 'precision'")

    with pytest.raises(TypeError, match="precision"):
        _analyze(tmp_path, factory)


# --- item 4: the bar is the user's ------------------------------------------------------------


def test_the_bar_decides_how_many_voices(tmp_path):
    best = max(cluster_speakers(ROWS).silhouettes.values())
    factory = lambda model_dir, device: LineCoded()  # noqa: E731
    split = _analyze(tmp_path, factory, min_silhouette=best - 0.01)
    assert (split.method, len(split.names)) == (CLUSTERING, 2)
    assert {split.speakers[i + 1] for i in range(0, LINES, 2)} == {split.speakers[1]}
    whole = _analyze(tmp_path, factory, min_silhouette=best + 0.01)
    assert (whole.method, len(whole.names)) == (CLUSTERING, 1)
    assert f"{best + 0.01:.2f}" in whole.detail


def test_the_setting_is_checked():
    assert DubSettings().min_silhouette is None  # the clustering's own guess
    assert DubSettings.from_dict({"min_silhouette": 1}).min_silhouette == 1.0
    for bad in (1.5, -2.0, float("nan")):
        with pytest.raises(OptionError, match="silhouette"):
            DubSettings(min_silhouette=bad).validate()
    with pytest.raises(TypeError, match="min_silhouette"):
        DubSettings.from_dict({"min_silhouette": "high"})


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("followup-clustering")
    return mediagen.make_test_video(
        folder / "v.mp4", duration_s=12, lines=mediagen.DEFAULT_LINES[:2], srt_path=folder / "v.srt"
    )


def test_the_flag_reaches_the_clustering(clip, tmp_path, monkeypatch):
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    video = mediagen.private_copy(clip, tmp_path)
    bars: list[float] = []
    real = speaker_clustering.cluster_speakers

    def recording(embeddings, num_speakers=None, **kwargs):
        bars.append(kwargs["min_silhouette"])
        return real(embeddings, num_speakers, **kwargs)

    monkeypatch.setattr(speaker_clustering, "cluster_speakers", recording)
    monkeypatch.setattr(speaker_embedding, "load_line_embedder", lambda m, d: LineCoded())
    argv = ["analyze", str(video), "--model-dir", str(tmp_path / "no-models"), "--no-progress"]
    argv += ["--work-dir", str(tmp_path / "work")]
    assert main(argv + ["--min-silhouette", "0.9"]) == EXIT_OK
    assert bars == [0.9]
    assert proj.load_project(proj.project_path_for(video)).settings.min_silhouette == 0.9
    proj.project_path_for(video).unlink()
    assert main(argv) == EXIT_OK
    assert bars == [0.9, MIN_SILHOUETTE]  # not given: the clustering's own


def test_a_bar_out_of_range_is_a_usage_error(clip, tmp_path, capsys):
    video = mediagen.private_copy(clip, tmp_path)
    argv = ["dub", str(video), "-o", str(tmp_path / "o.mp4"), "--min-silhouette", "3"]
    assert main(argv + ["--no-progress", "--work-dir", str(tmp_path / "work")]) == EXIT_USAGE
    assert "--min-silhouette: the silhouette bar must be in [-1, 1]" in capsys.readouterr().err
