"""Who speaks when: pyannote.audio 4's speaker-diarization pipeline, from a local folder.

Public API::

    Turn(start_ms, end_ms, speaker)                      # one speaker's stretch of speech
    DiarizationUnavailable                               # says what is missing, what is used instead
    pyannote_folder(model_dir) -> Path | None            # <model_dir>/pyannote/ when complete
    diarize(audio16k, folder, *, device="cpu", num_speakers=None,
            progress=None, cancelled=None) -> list[Turn]  # sorted by start

The folder has the layout of pyannote's `speaker-diarization-community-1`::

    pyannote/config.yaml                  pipeline.name: pyannote.audio.pipelines.SpeakerDiarization
                                          pipeline.params: segmentation: $model/segmentation
                                                           embedding:    $model/embedding
                                                           plda:         $model/plda
    pyannote/segmentation/pytorch_model.bin   (PyanNet, powerset)
    pyannote/embedding/pytorch_model.bin      (WeSpeakerResNet34)
    pyannote/plda/xvec_transform.npz plda.npz (VBx clustering)

`Pipeline.from_pretrained(<folder>)` resolves each `$model/<sub>` to `<folder>/<sub>` and
reads it from disk. Any other reference (a hub id, a revision) would go to the internet, so
such a folder counts as incomplete: nothing downloads at run time. pyannote is imported only
when a diarization runs (its import alone takes seconds), with its telemetry switched off.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from core.lines.render import Cancelled
from models.hub_offline import hub_offline
from models.registry import damage_of

# pyannote.audio.telemetry.metrics sends usage spans to otel.pyannote.ai unless this is
# "0"/"false": at import it sets "true" only when the variable is absent, and it reads it
# again at every model load, pipeline load and call. A desktop tool never phones home, so
# this is forced (not defaulted) here, before anything imports pyannote, and again in _load.
os.environ["PYANNOTE_METRICS_ENABLED"] = "0"

SAMPLE_RATE = 16000
FOLDER_NAME = "pyannote"
FALLBACK = "speakers will be found by clustering the lines' own voices instead"

_PIPELINE_NAMES = (
    "pyannote.audio.pipelines.SpeakerDiarization",
    "pyannote.audio.pipelines.speaker_diarization.SpeakerDiarization",
)
# What pyannote 4 reads for each `$model/<sub>` of the pipeline's params.
_PARTS = {
    "segmentation": ("pytorch_model.bin",),
    "embedding": ("pytorch_model.bin",),
    "plda": ("xvec_transform.npz", "plda.npz"),
}
# PretrainedSpeakerEmbedding sends a *string* naming one of these to SpeechBrain, NeMo or
# an ONNX back end; no path we hand pyannote may contain them.
_ROUTING_WORDS = ("speechbrain", "nvidia", "wespeaker")
# Progress: pyannote reports segmentation chunks, then embedding batches (the slow part).
_SHARES = {"segmentation": (0, 250), "embeddings": (250, 950)}
_SCALE = 1000


@dataclass(frozen=True)
class Turn:
    start_ms: int
    end_ms: int
    speaker: str


class DiarizationUnavailable(Exception):
    """pyannote or its pipeline folder cannot be used; the message says what is missing
    and what is used instead."""


def pyannote_folder(model_dir: Path) -> Path | None:
    """`<model_dir>/pyannote/` when it holds every file its config.yaml names, else None."""
    folder = Path(model_dir) / FOLDER_NAME
    return folder if _folder_problem(folder) is None else None


def diarize(
    audio16k: np.ndarray,
    folder: Path,
    *,
    device: str = "cpu",
    num_speakers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[Turn]:
    """Speaker turns of 16 kHz mono float32 audio, sorted by start (they may overlap where
    two people speak at once), speakers named as pyannote names them (SPEAKER_00, ...).
    `num_speakers` fixes their number when known. Raises DiarizationUnavailable, or
    Cancelled when `cancelled()` turns true (checked after every batch pyannote runs)."""
    folder = Path(folder)
    problem = _folder_problem(folder)
    if problem is not None:
        raise DiarizationUnavailable(
            f"Diarization is unavailable: {problem} (expected pyannote's "
            f"speaker-diarization-community-1 folder at {folder}); {FALLBACK}."
        )
    audio = np.ascontiguousarray(audio16k, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"diarize expects mono audio (one dimension), got shape {audio.shape}")
    hook = _Hook(progress, cancelled)
    hook.check()
    hook.report(0)
    length_ms = round(audio.size * 1000 / SAMPLE_RATE)
    if length_ms == 0:
        hook.report(_SCALE)
        return []

    import torch

    pipeline = _load(folder)
    hook.check()
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        pipeline.to(torch.device(device))
        if torch.device(device).type == "cpu":
            # Batches of 32 ten-second windows take a minute on a small CPU, which is
            # how long a cancel would wait; one at a time is no slower there (measured).
            pipeline.embedding_batch_size = 1
        file = {"waveform": torch.from_numpy(audio)[None], "sample_rate": SAMPLE_RATE}
        output = pipeline(file, num_speakers=num_speakers, hook=hook)
    finally:
        # pyannote switches TF32 off for the whole process: give the engines theirs back.
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
        del pipeline
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    annotation = getattr(output, "speaker_diarization", output)  # legacy pipelines
    turns = []
    for segment, _track, label in annotation.itertracks(yield_label=True):
        # The last window is padded to the model's 10 s: clip turns to the audio.
        start_ms = max(0, round(segment.start * 1000))
        end_ms = min(length_ms, round(segment.end * 1000))
        if end_ms > start_ms:
            turns.append(Turn(start_ms, end_ms, str(label)))
    hook.report(_SCALE)
    return sorted(turns, key=lambda t: (t.start_ms, t.end_ms, t.speaker))


def _folder_problem(folder: Path) -> str | None:
    """What keeps `folder` from loading offline, in words; None when nothing does."""
    config = folder / "config.yaml"
    if not config.is_file():
        return f"{config} is missing"
    try:
        content = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        return f"{config} cannot be read ({e})"
    pipeline = content.get("pipeline") if isinstance(content, dict) else None
    if not isinstance(pipeline, dict) or pipeline.get("name") not in _PIPELINE_NAMES:
        return f"{config} does not describe pyannote's SpeakerDiarization pipeline"
    params = pipeline.get("params") or {}
    missing, damaged = [], []
    for part, names in _PARTS.items():
        ref = params.get(part) if isinstance(params, dict) else None
        if not isinstance(ref, str) or not ref.startswith("$model/") or "@" in ref:
            # An absent entry means pyannote's default: a download from the hub.
            return (
                f"{config} names its {part} as {ref!r}, not as a folder beside it "
                f"('$model/{part}'), which would need the internet"
            )
        sub = ref.removeprefix("$model/").strip("/")
        for name in names:
            path = folder / sub / name
            if not path.is_file() or path.stat().st_size == 0:
                missing.append(f"{sub}/{name}")
            elif (damage := damage_of(path)) is not None:  # cut short: name it, not torch
                damaged.append(f"{sub}/{name} is damaged ({damage})")
    if missing:
        return f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing in {folder}"
    if damaged:
        return f"{'; '.join(damaged)} in {folder}; download it again"
    return None


def folder_problem(model_dir: Path) -> str | None:
    """Why `<model_dir>/pyannote/` cannot be used, when it is there at all; else None."""
    folder = Path(model_dir) / FOLDER_NAME
    return _folder_problem(folder) if folder.exists() else None


def _load(folder: Path) -> Any:
    """The pipeline of `folder`, loaded from disk only."""
    os.environ["PYANNOTE_METRICS_ENABLED"] = "0"  # in case anything flipped it since import
    try:
        from pyannote.audio import Pipeline
    except ImportError as e:
        raise DiarizationUnavailable(
            f"Diarization is unavailable: pyannote.audio is not installed ({e}); {FALLBACK}."
        ) from e
    with _neutral_path(folder) as path, hub_offline():  # a local folder never reaches the hub
        try:
            pipeline = Pipeline.from_pretrained(path)
        except Exception as e:  # damaged or foreign files: say which folder and why
            raise DiarizationUnavailable(
                f"Diarization is unavailable: the pyannote folder {folder} cannot be loaded "
                f"({type(e).__name__}: {e}); {FALLBACK}."
            ) from e
    if pipeline is None:
        raise DiarizationUnavailable(
            f"Diarization is unavailable: {folder} holds no pipeline; {FALLBACK}."
        )
    return pipeline


@contextlib.contextmanager
def _neutral_path(folder: Path) -> Iterator[Path]:
    """`folder`, or a link to it (a copy where links are not allowed) under a temporary path
    free of the words pyannote routes to other back ends. Everything is read while loading,
    so the link only has to outlive `Pipeline.from_pretrained`."""
    if not any(word in str(folder).lower() for word in _ROUTING_WORDS):
        yield folder
        return
    tmp = Path(tempfile.mkdtemp(prefix="dubsmith-diarization-"))
    link = tmp / "pipeline"
    try:
        try:
            link.symlink_to(folder.resolve(), target_is_directory=True)
        except OSError:  # Windows without developer mode: copy (community-1 is ~33 MB)
            shutil.copytree(folder, link, ignore=shutil.ignore_patterns(".git*"))
        yield link
    finally:
        # ignore_errors: on Windows numpy may still hold the copied .npz files open.
        shutil.rmtree(tmp, ignore_errors=True)


class _Hook:
    """pyannote's hook: hook(step_name, artifact, file=..., total=..., completed=...),
    called after every batch of the slow steps and once after each step."""

    def __init__(
        self,
        progress: Callable[[int, int], None] | None,
        cancelled: Callable[[], bool] | None,
    ) -> None:
        self.progress = progress
        self.cancelled = cancelled
        self.done = -1

    def __call__(
        self,
        step_name: str,
        step_artifact: Any = None,
        file: Any = None,
        total: int | None = None,
        completed: int | None = None,
    ) -> None:
        self.check()
        share = _SHARES.get(step_name)
        if share is not None and total and completed is not None:
            low, high = share
            self.report(int(low + (high - low) * min(completed, total) // total))

    def check(self) -> None:
        if self.cancelled is not None and self.cancelled():
            raise Cancelled("diarization cancelled")

    def report(self, done: int) -> None:
        if self.progress is not None and done > self.done:
            self.done = done
            self.progress(done, _SCALE)
