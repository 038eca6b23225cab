"""Parity of models/emotion.py (8-weight mixing through feat1/feat2) with the reference
emotion/ folder, and with e2e run 2 (emo_vector, alpha 0.6) where its arrays are present."""

from __future__ import annotations

from pathlib import Path

import torch

from models.emotion import (
    EmotionMatrices,
    group_similarities,
    nearest_rows,
    scale_weights,
    vector_to_emovec,
)
from models.parity import Check, compare, load_arrays

STAGE = "emotion"


def run(root: Path) -> list[Check]:
    a = load_arrays(Path(root), "emotion")
    mats = EmotionMatrices.from_tensors(
        torch.from_numpy(a["spk_matrix"]), torch.from_numpy(a["emo_matrix"]), a["emo_num"].tolist()
    )
    style = torch.from_numpy(a["style"])
    weights = a["emo_vector"].tolist()
    alpha = float(a["emo_alpha"])
    base = torch.from_numpy(a["base_emovec"])
    scaled = scale_weights(weights, alpha)
    index = nearest_rows(style, mats)
    rows = torch.stack([g[i] for g, i in zip(mats.emo, index, strict=True)])
    w = torch.tensor(scaled, dtype=torch.float32)
    checks = [
        compare(
            STAGE,
            "emo_vector_scaled",
            torch.tensor(scaled, dtype=torch.float32),
            a["emo_vector_scaled"],
        ),
        compare(STAGE, "weight_vector", w, a["weight_vector"]),
        compare(
            STAGE,
            "cosine_similarities",
            torch.cat(group_similarities(style, mats)),
            a["cosine_similarities"],
        ),
        compare(STAGE, "random_index", torch.tensor(index), a["random_index"]),
        compare(STAGE, "selected_emo_rows", rows, a["selected_emo_rows"]),
        compare(STAGE, "emovec_mat", (w[:, None] * rows).sum(0, keepdim=True), a["emovec_mat"]),
        compare(
            STAGE,
            "final_emovec",
            vector_to_emovec(weights, style, mats, base, alpha),
            a["final_emovec"],
        ),
    ]
    return checks
