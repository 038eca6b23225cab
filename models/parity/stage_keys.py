"""Stage `keys`: our modules, built from the full-size config, have exactly the real
checkpoints' keys and shapes (DIR/keys/*.json). Each model family has its own module."""

from __future__ import annotations

import importlib
from pathlib import Path

from models.parity import Check

FAMILIES = ("keys_gpt", "keys_semantic", "keys_s2m")


def run(root: Path) -> list[Check]:
    checks: list[Check] = []
    for fam in FAMILIES:
        try:
            module = importlib.import_module(f"models.parity.{fam}")
        except ModuleNotFoundError as exc:
            checks.append(Check("keys", fam, float("inf"), 0.0, False, f"not implemented: {exc}"))
            continue
        checks.extend(module.checks(Path(root)))
    return checks
