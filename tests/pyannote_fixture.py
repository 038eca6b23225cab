"""A pyannote speaker-diarization folder with random weights, in the official layout.

Public API::

    build_pipeline_folder(folder, seed=0) -> Path

Writes what pyannote's `speaker-diarization-community-1` holds, with the same
architectures and file formats, so `Pipeline.from_pretrained(folder)` loads it for real::

    config.yaml                       the community-1 config ($model/segmentation, ...)
    segmentation/pytorch_model.bin    PyanNet (segmentation-3.0: SincNet stride 10, 4 BiLSTM
                                      layers of 128, 2 linear of 128), powerset of 3 speakers
                                      at most 2 at once (7 classes), 10 s windows
    embedding/pytorch_model.bin       WeSpeakerResNet34 (256-dim), saved as pyannote's own
                                      wespeaker/convert.py saves it
    plda/xvec_transform.npz           mean1 (256,), mean2 (128,), lda (256, 128)
    plda/plda.npz                     mu (128,), tr (128, 128) invertible, psi (128,) > 0

The checkpoints are Lightning checkpoints the way pyannote's Model.on_save_checkpoint
writes them (state_dict, hyper_parameters, pytorch-lightning_version, and "pyannote.audio"
with versions, architecture and specifications). Random weights diarize arbitrarily:
tests may check shapes and times, never who speaks.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import yaml

os.environ["PYANNOTE_METRICS_ENABLED"] = "0"

EMBEDDING_DIM = 256
LDA_DIM = 128

COMMUNITY_1_CONFIG = {
    "dependencies": {"pyannote.audio": "4.0.0"},
    "pipeline": {
        "name": "pyannote.audio.pipelines.SpeakerDiarization",
        "params": {
            "clustering": "VBxClustering",
            "segmentation": "$model/segmentation",
            "segmentation_batch_size": 32,
            "embedding": "$model/embedding",
            "embedding_batch_size": 32,
            "embedding_exclude_overlap": True,
            "plda": "$model/plda",
        },
    },
    "params": {
        "clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8},
        "segmentation": {"min_duration_off": 0.0},
    },
}


def _save_checkpoint(model, path: Path, with_hparams: bool) -> None:
    import lightning
    import torch

    checkpoint = {"state_dict": model.state_dict()}
    if with_hparams:
        checkpoint["hyper_parameters"] = dict(model.hparams)
    model.on_save_checkpoint(checkpoint)
    checkpoint["pytorch-lightning_version"] = lightning.__version__
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


def _segmentation(path: Path) -> None:
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.segmentation import PyanNet

    model = PyanNet(
        sincnet={"stride": 10},
        lstm={
            "hidden_size": 128,
            "num_layers": 4,
            "bidirectional": True,
            "monolithic": True,
            "dropout": 0.5,
        },
        linear={"hidden_size": 128, "num_layers": 2},
    )
    model.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION,
        resolution=Resolution.FRAME,
        duration=10.0,
        warm_up=(0.0, 0.0),
        classes=["speaker#1", "speaker#2", "speaker#3"],
        powerset_max_classes=2,
        permutation_invariant=True,
    )
    model.build()  # the powerset classifier, as Model.setup() adds it
    _save_checkpoint(model, path, with_hparams=True)


def _embedding(path: Path) -> None:
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34

    model = WeSpeakerResNet34()
    model.specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=5.0
    )
    _save_checkpoint(model, path, with_hparams=False)


def _plda(folder: Path, rng: np.random.Generator) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lda = np.linalg.qr(rng.standard_normal((EMBEDDING_DIM, EMBEDDING_DIM)))[0][:, :LDA_DIM]
    np.savez(
        folder / "xvec_transform.npz",
        mean1=0.01 * rng.standard_normal(EMBEDDING_DIM),
        mean2=0.01 * rng.standard_normal(LDA_DIM),
        lda=lda,
    )
    # vbx_setup inverts tr.T @ tr and (tr.T / psi) @ tr: tr well conditioned, psi > 0.
    tr = np.eye(LDA_DIM) + 0.05 * rng.standard_normal((LDA_DIM, LDA_DIM))
    np.savez(
        folder / "plda.npz",
        mu=0.01 * rng.standard_normal(LDA_DIM),
        tr=tr,
        psi=np.sort(rng.uniform(0.5, 50.0, LDA_DIM))[::-1].copy(),
    )


def build_pipeline_folder(folder: Path, seed: int = 0) -> Path:
    """Write a random-weight community-1 folder at `folder`; returns it."""
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    _segmentation(folder / "segmentation" / "pytorch_model.bin")
    _embedding(folder / "embedding" / "pytorch_model.bin")
    _plda(folder / "plda", np.random.default_rng(seed))
    (folder / "config.yaml").write_text(
        yaml.safe_dump(COMMUNITY_1_CONFIG, sort_keys=False), encoding="utf-8"
    )
    return folder
