"""The speech engines Dubsmith has, by name: how to check an engine's model files, what it
can do, and how to load it. core/ finds engines only here, so a second engine is one new
module plus one entry below, and core/ never learns an engine's file layout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.common import default_model_dir, indextts2_capabilities  # noqa: F401  (re-exported)
from models.contract import Capabilities, EmotionSource, Engine
from models.layout import damage_of as _damage_of
from models.layout import locate


def damage_of(path: Path) -> str | None:
    """What is wrong with a model file (cut short, empty, not its format), or None: the
    cheap check of headers and indexes, for any model folder (models/layout.py)."""
    return _damage_of(Path(path))


@dataclass(frozen=True)
class EngineEntry:
    name: str
    title: str
    # Capabilities in a model folder, without loading anything (optional parts may be absent).
    capabilities: Callable[[Path], Capabilities]
    check: Callable[[Path], None]  # raises ModelFilesMissing / ModelFilesDamaged
    # (model folder, device, precision: auto/fp32/bf16/fp16 or None = the engine's default);
    # engines without a choice of number format ignore the precision.
    load: Callable[[Path, str, str | None], Engine]
    # A speaker embedder of single lines (dim, embed(audio16k)), for telling voices apart.
    line_embedder: Callable[[Path, str], Any]
    # Said when an emotion input is missing from `capabilities` (formatted with model_dir).
    missing_emotion: dict[EmotionSource, str]


# --- IndexTTS2 ----------------------------------------------------------------------------------

INDEXTTS2_TEXT_EMOTION = (
    "emotion from a text description needs the optional text-emotion model "
    "(indextts2/qwen0.6bemo4-merge/ in the model folder {model_dir}), which is not installed"
)


def _indextts2_capabilities(model_dir: Path) -> Capabilities:
    return indextts2_capabilities(locate(model_dir).qwen_emotion, max_batch=4)


def _indextts2_check(model_dir: Path) -> None:
    locate(model_dir).check(model_dir)


def _indextts2_line_embedder(model_dir: Path, device: str):
    from models.line_embedder import CampPlusEmbedder

    return CampPlusEmbedder.load(model_dir, device=device)


def _indextts2_load(model_dir: Path, device: str, precision: str | None) -> Engine:
    from models.indextts2.engine import IndexTTS2Engine

    return IndexTTS2Engine.load(model_dir, device=device, precision=precision)


# --- VoxCPM2 (the voxcpm package) -------------------------------------------------------------


def _voxcpm2_capabilities(model_dir: Path) -> Capabilities:
    from models.voxcpm2.engine import voxcpm2_capabilities

    return voxcpm2_capabilities()


def _voxcpm2_check(model_dir: Path) -> None:
    from models.voxcpm2.files import locate

    locate(model_dir).check()


def _voxcpm2_load(model_dir: Path, device: str, precision: str | None) -> Engine:
    from models.voxcpm2.engine import VoxCPM2Engine

    return VoxCPM2Engine.load(model_dir, device=device)


# --- IndexTTS-2.5 (ours, models/indextts25) -----------------------------------------------------

INDEXTTS25_TEXT_EMOTION = (
    "emotion from a text description needs the optional text-emotion model "
    "(indextts25/qwen0.6bemo4-merge/ in the model folder {model_dir}), which is not installed"
)


def _indextts25_capabilities(model_dir: Path) -> Capabilities:
    """zh, en, ja, es, ar; exact durations (a forced code count at 25/s, the flow model's
    frames and the samples from the span); every emotion input (text with its model)."""
    from models.indextts25.engine import indextts25_capabilities
    from models.indextts25.files import locate25

    return indextts25_capabilities(locate25(model_dir).qwen_emotion, max_batch=4)


def _indextts25_check(model_dir: Path) -> None:
    from models.indextts25.files import locate25

    locate25(model_dir).check()


def _indextts25_line_embedder(model_dir: Path, device: str):
    from models.indextts25.campplus import load_speaker_style
    from models.indextts25.files import locate25
    from models.line_embedder import CampPlusEmbedder

    return CampPlusEmbedder(load_speaker_style(locate25(model_dir).campplus, device=device))


def _indextts25_load(model_dir: Path, device: str, precision: str | None) -> Engine:
    from models.indextts25.engine import IndexTTS25Engine

    return IndexTTS25Engine.load(model_dir, device=device)


VOXCPM2_REFERENCE_EMOTION = (
    "VoxCPM2 cannot copy a delivery from a reference clip (its style is a text "
    "instruction); those lines take the voice's own delivery"
)


ENGINES: dict[str, EngineEntry] = {
    "indextts2": EngineEntry(
        name="indextts2",
        title="IndexTTS2",
        capabilities=_indextts2_capabilities,
        check=_indextts2_check,
        load=_indextts2_load,
        line_embedder=_indextts2_line_embedder,
        missing_emotion={EmotionSource.TEXT: INDEXTTS2_TEXT_EMOTION},
    ),
    "voxcpm2": EngineEntry(
        name="voxcpm2",
        title="VoxCPM2",
        capabilities=_voxcpm2_capabilities,
        check=_voxcpm2_check,
        load=_voxcpm2_load,
        # VoxCPM2 has no speaker encoder of its own: voices are told apart with IndexTTS2's.
        line_embedder=_indextts2_line_embedder,
        missing_emotion={EmotionSource.REFERENCE: VOXCPM2_REFERENCE_EMOTION},
    ),
    "indextts25": EngineEntry(
        name="indextts25",
        title="IndexTTS-2.5",
        capabilities=_indextts25_capabilities,
        check=_indextts25_check,
        load=_indextts25_load,
        line_embedder=_indextts25_line_embedder,
        missing_emotion={EmotionSource.TEXT: INDEXTTS25_TEXT_EMOTION},
    ),
}
DEFAULT_ENGINE = "indextts2"


def engine_entry(name: str) -> EngineEntry:
    try:
        return ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINES))
        raise ValueError(f"unknown speech engine '{name}' (known: {known})") from None
