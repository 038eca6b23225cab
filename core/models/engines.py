"""The speech engine a dub loads (through models/registry), and what it is known to honour
before it loads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import EngineUnavailable, OptionError
from core.language import language_name
from models.contract import EmotionSource, Engine, ModelFilesMissing
from models.registry import DEFAULT_ENGINE, ENGINES, default_model_dir, engine_entry

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

    def __call__(self, model_dir: Path | None, device: str, precision: str | None = None) -> Engine:
        """The engine on the model directory (clear errors when it is incomplete), its
        weights loaded straight into `precision`'s formats (None: the engine's default)."""
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
            return self.entry.load(model_dir, device, precision)
        except ImportError as exc:
            raise EngineUnavailable(f"{self.entry.title} cannot be loaded: {exc}") from exc

    def emotion_sources(self, model_dir: Path | None) -> frozenset[EmotionSource]:
        folder = Path(model_dir) if model_dir else default_model_dir()
        return self.entry.capabilities(folder).emotion_inputs

    def named(self, name: str) -> RegistryFactory:
        """The factory of another registered engine (language routing picks one)."""
        return RegistryFactory(name)


default_engine_factory = RegistryFactory()


def load_engine(
    factory: EngineFactory, model_dir: Path | None, device: str, precision: str | None
) -> Engine:
    """`factory`'s engine. Ours load straight into the precision's number formats, so the
    fp32 weights are never all in memory at once; a caller's own factory is called with
    (model folder, device) and the precision is applied after loading."""
    if isinstance(factory, (RegistryFactory, EngineCache)):
        return factory(model_dir, device, precision=precision)
    return factory(model_dir, device)


class EngineCache:
    """An engine factory that loads each engine once (per model folder and device): a
    batch's jobs and the window's dubs after the first start rendering at once."""

    def __init__(self, factory: EngineFactory | None = None) -> None:
        self.factory = factory or default_engine_factory
        self.engines: dict[tuple[str, str], Engine] = {}
        self.views: dict[str, EngineCache] = {}  # per engine name (language routing)

    def __call__(self, model_dir: Path | None, device: str, precision: str | None = None) -> Engine:
        # One engine per folder and device whatever the precision: a second precision would
        # hold the models twice; the engine says when it cannot switch (use_precision).
        key = (str(model_dir), device)
        if key not in self.engines:
            self.engines[key] = load_engine(self.factory, model_dir, device, precision)
        return self.engines[key]

    def emotion_sources(self, model_dir: Path | None) -> frozenset[EmotionSource] | None:
        honours = getattr(self.factory, "emotion_sources", None)
        return honours(model_dir) if honours else None

    @property
    def entry(self):
        """The registry entry of the engine it loads (None for a caller's own factory)."""
        return getattr(self.factory, "entry", None)

    def named(self, name: str) -> EngineFactory:
        """Another registered engine, loaded once too (a single-engine factory: itself)."""
        inner = getattr(self.factory, "named", None)
        if inner is None:
            return self
        if name not in self.views:
            self.views[name] = EngineCache(inner(name))
        return self.views[name]


def text_emotion_available(model_dir: Path | None) -> bool:
    """Whether emotion from a text description can be had (its optional model installed)."""
    return EmotionSource.TEXT in default_engine_factory.emotion_sources(model_dir)


# --- language routing ---------------------------------------------------------------------------

# Which engine a language goes to when several installed ones speak it: IndexTTS2 for
# Chinese and English (the product's own, exact durations), then IndexTTS-2.5 (ours, exact
# too: zh/en/ja/es/ar), then VoxCPM2 (30 languages, fitted durations); engines the
# registry lists beyond these come last, in its order.
ROUTING_ORDER = ("indextts2", "indextts25", "voxcpm2")


@dataclass(frozen=True)
class EngineChoice:
    """The engine a dub renders with, and why (said to the user)."""

    name: str
    title: str
    language: str | None  # ISO 639-1; None: not known
    reason: str
    factory: EngineFactory

    def describe(self) -> str:
        return f"{self.title} renders the lines in {language_name(self.language)}: {self.reason}"


def _router(factory: EngineFactory) -> Callable[[str], EngineFactory] | None:
    """How to get the factory of a named engine from `factory`, or None when it loads one
    engine only (a caller's own, or a cache around one)."""
    if isinstance(factory, EngineCache):
        return factory.named if getattr(factory.factory, "named", None) else None
    return getattr(factory, "named", None)


def _routing_names() -> list[str]:
    ordered = [n for n in ROUTING_ORDER if n in ENGINES]
    return ordered + [n for n in ENGINES if n not in ordered]


def installed_engines(model_dir: Path | None) -> dict[str, str | None]:
    """Each registered engine and what keeps it from loading (None: installed)."""
    folder = Path(model_dir) if model_dir else default_model_dir()
    out: dict[str, str | None] = {}
    for name in _routing_names():
        try:
            ENGINES[name].check(folder)
            out[name] = None
        except ModelFilesMissing as exc:  # damaged files too
            out[name] = str(exc).splitlines()[0]
    return out


def _speaks(name: str, folder: Path) -> tuple[str, ...]:
    return ENGINES[name].capabilities(folder).languages


def _languages_said(names: list[str], folder: Path) -> str:
    return "; ".join(f"{ENGINES[n].title} speaks {', '.join(_speaks(n, folder))}" for n in names)


def choose_engine(
    language: str | None,
    model_dir: Path | None,
    requested: str | None = None,
    factory: EngineFactory | None = None,
) -> EngineChoice:
    """The engine for a dub in `language` (ISO 639-1): `requested` (--engine) when given
    (it must speak the language), else the first installed engine of ROUTING_ORDER that
    speaks it. A language no installed engine speaks is refused here, before any model
    loads, naming what each installed engine speaks and what would speak it."""
    factory = factory or default_engine_factory
    folder = Path(model_dir) if model_dir else default_model_dir()
    named = _router(factory)
    if named is None:  # one engine given by the caller (a test double): used as it is
        return EngineChoice("given", "the given engine", language, "chosen by the caller", factory)
    if requested:
        try:
            entry = engine_entry(requested)
        except ValueError as exc:
            raise OptionError(str(exc), "engine") from None
        speaks = entry.capabilities(folder).languages
        if language and language not in speaks:
            others = [
                n for n in _routing_names() if n != requested and language in _speaks(n, folder)
            ]
            hint = f"; {ENGINES[others[0]].title} does (--engine {others[0]})" if others else ""
            raise OptionError(
                f"{entry.title} does not speak {language_name(language)}: it speaks "
                f"{', '.join(speaks)}{hint}",
                "engine",
            )
        return EngineChoice(
            entry.name, entry.title, language, "asked for (--engine)", named(entry.name)
        )
    if language is None:
        entry = engine_entry(DEFAULT_ENGINE)
        return EngineChoice(
            entry.name,
            entry.title,
            None,
            "the default (the dub's language is not known)",
            named(entry.name),
        )
    status = installed_engines(folder)
    installed = [n for n, problem in status.items() if problem is None]
    for name in installed:
        if language in _speaks(name, folder):
            preferred = [n for n in _routing_names() if language in _speaks(n, folder)]
            # Say when a preferred engine was passed over for want of its files.
            skipped = [ENGINES[n].title for n in preferred[: preferred.index(name)]]
            reason = (
                f"the first installed engine that speaks it ({', '.join(skipped)} not installed)"
                if skipped
                else "the preferred engine for it"
            )
            return EngineChoice(name, ENGINES[name].title, language, reason, named(name))
    speakers = [n for n in _routing_names() if language in _speaks(n, folder)]
    if DEFAULT_ENGINE in speakers:
        # Nothing installed speaks it, the default engine would: loading it says which
        # of its files to fetch (the message every missing-model error gives).
        entry = engine_entry(DEFAULT_ENGINE)
        return EngineChoice(entry.name, entry.title, language, "the default", named(entry.name))
    said = _languages_said(installed, folder) if installed else "no engine is installed"
    fetch = (
        "; "
        + ", ".join(
            f"{ENGINES[n].title} speaks it (dubsmith models download {n})" for n in speakers
        )
        if speakers
        else ""
    )
    raise EngineUnavailable(
        f"no installed engine speaks {language_name(language)}: {said}{fetch}; "
        "or give the dub's language with --language if it is another"
    )
