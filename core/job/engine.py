"""The engine stage's parts: the dub's language, the engine loaded for it, and the
language each line is spoken in."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from core.job.inputs import Inputs
from core.job.lines import LinePlan
from core.job.options import DubOptions
from core.language import detect_language, language_from_filename, language_name, to_iso639_1
from core.models.engines import EngineChoice, load_engine, resolve_device
from core.notices import Notice
from models.contract import Engine

_DEVICE_WORDS = {"cuda": "the CUDA GPU", "mps": "Apple's GPU (MPS)", "cpu": "the CPU (slow)"}


def normalizer_language(script_language: str) -> str | None:
    """The text normaliser's language for a line's script (it knows English and Chinese)."""
    return {"latin": "en", "zh": "zh"}.get(script_language)


def check_language(language: str | None, inputs: Inputs | None) -> str | None:
    """The dub's language for the recogniser (ISO 639-1), when it is known."""
    tag = language or (language_from_filename(inputs.subtitles.path) if inputs else None)
    return to_iso639_1(tag) if tag else None


def dub_language(language: str | None, inputs: Inputs | None, texts: list[str]) -> str | None:
    """The dub's language (ISO 639-1): --language, else the subtitle name
    (movie.de.srt), else what the lines' text is written in; None when unsure."""
    tagged = to_iso639_1(language)
    if tagged:
        return tagged
    if inputs is not None:
        named = to_iso639_1(language_from_filename(inputs.subtitles.path))
        if named:
            return named
    return detect_language(texts)


def spoken_language(
    line: LinePlan, choice: EngineChoice | None, engine: Engine | None
) -> str | None:
    """The language the engine is to speak a line in: the dub's own when it is not
    Chinese or English and the engine speaks it (IndexTTS-2.5 speaks Spanish lines as
    Spanish, not as the English its Latin script suggests); for zh/en each line's script
    decides, so a Chinese line in an English or Spanish dub is still read as Chinese
    (in a Japanese dub a line of kanji alone is Japanese)."""
    assert line.timing is not None
    dub = choice.language if choice else None
    speaks = engine.capabilities.languages if engine else ()
    script = normalizer_language(line.timing.language)
    if dub and dub not in ("zh", "en") and dub in speaks:
        return "zh" if script == "zh" and dub != "ja" and "zh" in speaks else dub
    return script


def load_dub_engine(
    choice: EngineChoice, options: DubOptions, warn: Callable[[Notice], None]
) -> tuple[Engine, EngineChoice]:
    """The chosen engine loaded on the dub's device, and the choice as the dub reports it
    (a caller's own engine goes by its own name)."""
    device = resolve_device(options.device)
    if options.device == "auto":  # say which: a CPU dub is hours, a GPU's minutes
        warn(Notice(None, "device", f"rendering on {_DEVICE_WORDS.get(device, device)}"))
    engine = load_engine(choice.factory, options.model_dir, device, options.precision)
    use_precision = getattr(engine, "use_precision", None)
    if use_precision is not None:  # engines that keep their weights in a chosen format
        said = use_precision(options.precision)
        if said:
            warn(Notice(None, "precision", said))
    speaks = engine.capabilities.languages
    if choice.name == "given":  # the caller's engine: its name, and a word if it is mute
        title = getattr(engine, "name", "the given engine")
        choice = dataclasses.replace(choice, name=title, title=title)
        if choice.language and choice.language not in speaks:
            warn(
                Notice(
                    None,
                    "engine-language",
                    f"{title} does not list {language_name(choice.language)} among "
                    f"its languages ({', '.join(speaks)})",
                )
            )
    warn(Notice(None, "engine", f"engine: {choice.describe()}"))
    for note in getattr(engine, "load_notes", []):
        warn(Notice(None, "engine-note", note))
    return engine, choice
