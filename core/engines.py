"""The speech engine a dub loads, and what it is known to honour before it loads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.errors import EngineUnavailable
from models.contract import EmotionSource, Engine

EngineFactory = Callable[[Path | None, str], Engine]


TEXT_EMOTION_MISSING = (
    "emotion from a text description needs the optional text-emotion model "
    "(indextts2/qwen0.6bemo4-merge/ in the model folder {model_dir}), which is not installed"
)


def text_emotion_available(model_dir: Path | None) -> bool:
    """Whether the optional text-to-emotion model is installed (known before any loading)."""
    from models.layout import default_model_dir, locate

    files = locate(Path(model_dir) if model_dir else default_model_dir())
    return (files.qwen_emotion / "config.json").is_file()


def resolve_device(device: str) -> str:
    """ "auto" is a CUDA GPU when torch sees one, else the CPU; anything else as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class IndexTTS2Factory:
    """Loads the IndexTTS2 engine from a model directory, and tells before loading which
    emotion inputs it will honour there (text needs the optional model)."""

    def __call__(self, model_dir: Path | None, device: str) -> Engine:
        """The engine on the model directory (clear errors when it is incomplete)."""
        from models.layout import default_model_dir, locate

        model_dir = Path(model_dir) if model_dir else default_model_dir()
        locate(model_dir).check(model_dir)  # ModelFilesMissing lists what to download
        device = resolve_device(device)
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise EngineUnavailable(
                    "a CUDA GPU was asked for, but there is no CUDA GPU here; "
                    "use the CPU (slower) or check the GPU driver"
                )
        try:
            from models.engine import IndexTTS2Engine
        except ImportError as exc:
            raise EngineUnavailable(f"the IndexTTS2 engine cannot be loaded: {exc}") from exc
        return IndexTTS2Engine.load(model_dir, device=device)

    def emotion_sources(self, model_dir: Path | None) -> frozenset[EmotionSource]:
        every = frozenset(EmotionSource)
        return every if text_emotion_available(model_dir) else every - {EmotionSource.TEXT}


default_engine_factory = IndexTTS2Factory()


# --- the dub -----------------------------------------------------------------------------------
