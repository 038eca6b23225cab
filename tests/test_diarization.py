"""core.speakers.diarization: pyannote.audio 4's real pipeline, loaded offline from a local folder.

The folder is built once per session with random weights in the official layout
(tests/pyannote_fixture.py); every network path is made to fail loudly, and the loading
and calling code runs for real on generated speech. Random weights give arbitrary
speakers, so only the shape of the answer is checked.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soxr
import yaml

from core.lines.render import Cancelled
from core.speakers import diarization
from core.speakers.diarization import DiarizationUnavailable, Turn, diarize, pyannote_folder
from tests.mediagen import RATE, speak
from tests.pyannote_fixture import COMMUNITY_1_CONFIG, build_pipeline_folder


@pytest.fixture(scope="session")
def pipeline_folder(tmp_path_factory) -> Path:
    model_dir = tmp_path_factory.mktemp("models")
    return build_pipeline_folder(model_dir / "pyannote")


@pytest.fixture(scope="module")
def speech16k() -> np.ndarray:
    """Two espeak-ng voices, one after the other, ~6 s at 16 kHz."""
    gap = np.zeros(RATE // 2, dtype=np.float32)
    audio = np.concatenate(
        [
            gap,
            speak("Where have you been all this time?", "en-us"),
            gap,
            speak("I was waiting for the morning train.", "en-gb+f3"),
            gap,
        ]
    )
    return soxr.resample(audio, RATE, 16000).astype(np.float32)


@pytest.fixture(scope="module", autouse=True)
def offline():
    """Every way out to the network raises (and is recorded), pyannote's telemetry too."""
    import huggingface_hub
    import huggingface_hub.file_download
    import pyannote.audio.utils.hf_hub
    from pyannote.audio.telemetry import metrics

    attempts: list[str] = []

    def refuse(name):
        def raiser(*args, **kwargs):
            attempts.append(name)
            raise AssertionError(f"network access attempted: {name}{args[:2]}")

        return raiser

    with pytest.MonkeyPatch.context() as mp:
        for owner, name in [
            (socket.socket, "connect"),
            (socket.socket, "connect_ex"),
            (socket, "create_connection"),
            (socket, "getaddrinfo"),
            (urllib.request, "urlopen"),
            (huggingface_hub, "hf_hub_download"),
            (huggingface_hub, "snapshot_download"),
            (huggingface_hub.file_download, "hf_hub_download"),
            (pyannote.audio.utils.hf_hub, "hf_hub_download"),
            (metrics.tracer, "start_as_current_span"),
            (metrics.exporter, "export"),
        ]:
            mp.setattr(owner, name, refuse(f"{getattr(owner, '__name__', owner)}.{name}"))
        yield attempts


@pytest.fixture(scope="module")
def diarized(pipeline_folder, speech16k, offline):
    calls: list[tuple[int, int]] = []
    start = time.perf_counter()
    turns = diarize(speech16k, pipeline_folder, progress=lambda d, t: calls.append((d, t)))
    return turns, calls, time.perf_counter() - start


def test_folder_complete(pipeline_folder):
    assert pyannote_folder(pipeline_folder.parent) == pipeline_folder


def test_folder_missing(tmp_path, speech16k):
    assert pyannote_folder(tmp_path) is None
    with pytest.raises(DiarizationUnavailable) as e:
        diarize(speech16k, tmp_path / "pyannote")
    message = str(e.value)
    assert "config.yaml is missing" in message
    assert "instead" in message


def test_folder_incomplete(pipeline_folder, tmp_path, speech16k):
    folder = tmp_path / "pyannote"
    shutil.copytree(pipeline_folder, folder)
    (folder / "plda" / "plda.npz").unlink()
    (folder / "embedding" / "pytorch_model.bin").write_bytes(b"")  # cut-short download
    assert pyannote_folder(tmp_path) is None
    with pytest.raises(DiarizationUnavailable) as e:
        diarize(speech16k, folder)
    message = str(e.value)
    assert "embedding/pytorch_model.bin, plda/plda.npz are missing" in message
    assert diarization.FALLBACK in message


@pytest.mark.parametrize(
    "change",
    [
        {"embedding": "pyannote/wespeaker-voxceleb-resnet34-LM"},  # a hub id
        {"segmentation": "$model/segmentation@main"},  # a hub revision
        {"plda": None},  # absent: pyannote's default comes from the hub
    ],
)
def test_folder_that_needs_the_hub_is_incomplete(tmp_path, change, speech16k):
    config = yaml.safe_load(yaml.safe_dump(COMMUNITY_1_CONFIG))
    params = config["pipeline"]["params"]
    for key, value in change.items():
        if value is None:
            del params[key]
        else:
            params[key] = value
    folder = tmp_path / "pyannote"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    for sub, names in diarization._PARTS.items():
        for name in names:
            (folder / sub).mkdir(exist_ok=True)
            (folder / sub / name).write_bytes(b"x")
    assert pyannote_folder(tmp_path) is None
    with pytest.raises(DiarizationUnavailable, match="would need the internet"):
        diarize(speech16k, folder)


def test_folder_of_another_pipeline_is_incomplete(tmp_path):
    folder = tmp_path / "pyannote"
    folder.mkdir()
    config = {"pipeline": {"name": "pyannote.audio.pipelines.pyannoteai.sdk.SDK"}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    assert pyannote_folder(tmp_path) is None


def test_diarize_offline(diarized, speech16k, offline):
    turns, calls, seconds = diarized
    print(f"\nload + diarize {len(speech16k) / 16000:.1f} s of audio: {seconds:.1f} s")
    assert offline == []
    assert os.environ["PYANNOTE_METRICS_ENABLED"] == "0"
    from pyannote.audio.telemetry.metrics import is_metrics_enabled

    assert not is_metrics_enabled()
    assert isinstance(turns, list) and all(isinstance(t, Turn) for t in turns)
    length_ms = round(len(speech16k) / 16)
    for t in turns:
        assert isinstance(t.start_ms, int) and isinstance(t.end_ms, int)
        assert 0 <= t.start_ms < t.end_ms <= length_ms
        assert isinstance(t.speaker, str) and t.speaker
    assert turns == sorted(turns, key=lambda t: t.start_ms)


def test_diarize_reports_progress(diarized):
    _turns, calls, _seconds = diarized
    assert calls[0] == (0, 1000) and calls[-1] == (1000, 1000)
    done = [d for d, _ in calls]
    assert done == sorted(set(done))  # strictly rising
    assert len(calls) >= 4  # segmentation and embedding batches in between


def test_diarize_cancel(pipeline_folder, speech16k, offline):
    calls: list[int] = []
    with pytest.raises(Cancelled):
        diarize(
            speech16k,
            pipeline_folder,
            progress=lambda d, t: calls.append(d),
            cancelled=lambda: len(calls) > 1,  # after pyannote's first batch
        )
    assert 0 < calls[-1] < 1000
    assert offline == []


def test_diarize_cancelled_before_start(pipeline_folder, speech16k):
    with pytest.raises(Cancelled):
        diarize(speech16k, pipeline_folder, cancelled=lambda: True)


def test_diarize_empty_audio(pipeline_folder):
    assert diarize(np.zeros(0, dtype=np.float32), pipeline_folder) == []


@pytest.mark.parametrize("links", [True, False], ids=["symlink", "copy"])
def test_wespeaker_in_path_still_loads(
    pipeline_folder, tmp_path, speech16k, offline, monkeypatch, links
):
    model_dir = tmp_path / "wespeaker-and-speechbrain-models"
    shutil.copytree(pipeline_folder, model_dir / "pyannote")
    folder = pyannote_folder(model_dir)
    assert folder is not None
    if not links:  # as on Windows without developer mode

        def no_symlinks(*args, **kwargs):
            raise OSError("symbolic links are not allowed here")

        monkeypatch.setattr(Path, "symlink_to", no_symlinks)

    import huggingface_hub.constants
    from pyannote.audio import Pipeline

    loaded = []
    original = Pipeline.from_pretrained

    def spy(cls, checkpoint, *args, **kwargs):
        assert huggingface_hub.constants.HF_HUB_OFFLINE
        loaded.append((str(checkpoint), original(checkpoint, *args, **kwargs)))
        return loaded[-1][1]

    monkeypatch.setattr(Pipeline, "from_pretrained", classmethod(spy))
    progressed: list[int] = []
    with pytest.raises(Cancelled):  # loaded and ran; the first batch is enough
        diarize(
            speech16k,
            folder,
            progress=lambda d, t: progressed.append(d),
            cancelled=lambda: len(progressed) > 1,
        )
    ((path, pipeline),) = loaded
    assert not any(w in path.lower() for w in ("wespeaker", "speechbrain", "nvidia"))
    assert type(pipeline._embedding).__name__ == "PyannoteAudioPretrainedSpeakerEmbedding"
    assert not Path(path).exists()  # the neutral link is gone once loaded
    assert offline == []
