"""The speech engine a dub loads (through models/registry), and what it is known to honour
before it loads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.errors import EngineUnavailable
from models.contract import EmotionSource, Engine
from models.registry import DEFAULT_ENGINE, default_model_dir, engine_entry

EngineFactory = Callable[[Path | None, str], Engine]

TEXT_EMOTION_MISSING = engine_entry(DEFAULT_ENGINE).missing_emotion[EmotionSource.TEXT]


def resolve_device(device: str) -> str:
    """ "auto" is a CUDA GPU when torch sees one, else Apple's MPS, else the CPU; anything
    else as given."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


class RegistryFactory:
    """Loads a registered engine from a model directory, and tells before loading which
    emotion inputs it will honour there."""

    def __init__(self, name: str = DEFAULT_ENGINE) -> None:
        self.entry = engine_entry(name)

    def __call__(self, model_dir: Path | None, device: str) -> Engine:
        """The engine on the model directory (clear errors when it is incomplete)."""
        model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.entry.check(model_dir)  # ModelFilesMissing / Damaged say what to fetch
        device = resolve_device(device)
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise EngineUnavailable(
                    "a CUDA GPU was asked for, but there is no CUDA GPU here; "
                    "use the CPU (slower) or check the GPU driver"
                )
        try:
            return self.entry.load(model_dir, device)
        except ImportError as exc:
            raise EngineUnavailable(f"{self.entry.title} cannot be loaded: {exc}") from exc

    def emotion_sources(self, model_dir: Path | None) -> frozenset[EmotionSource]:
        folder = Path(model_dir) if model_dir else default_model_dir()
        return self.entry.capabilities(folder).emotion_inputs


default_engine_factory = RegistryFactory()


class EngineCache:
    """An engine factory that loads each engine once (per model folder and device): a
    batch's jobs and the window's dubs after the first start rendering at once."""

    def __init__(self, factory: EngineFactory | None = None) -> None:
        self.factory = factory or default_engine_factory
        self.engines: dict[tuple[str, str], Engine] = {}

    def __call__(self, model_dir: Path | None, device: str) -> Engine:
        key = (str(model_dir), device)
        if key not in self.engines:
            self.engines[key] = self.factory(model_dir, device)
        return self.engines[key]

    def emotion_sources(self, model_dir: Path | None) -> frozenset[EmotionSource] | None:
        honours = getattr(self.factory, "emotion_sources", None)
        return honours(model_dir) if honours else None


def text_emotion_available(model_dir: Path | None) -> bool:
    """Whether emotion from a text description can be had (its optional model installed)."""
    return EmotionSource.TEXT in default_engine_factory.emotion_sources(model_dir)
