"""A job list's settings checked when the list is read: a bad value names its job (or CSV
row), its setting (or column) and what it may be, before any job runs."""

from __future__ import annotations

import enum
from dataclasses import fields
from typing import Any

from core.errors import InputError, OptionError
from core.settings import DubSettings

# What each setting may be, said when a value is of the wrong kind (validate() says the
# range of a value of the right kind).
_KINDS: dict[str, str] = {
    "duck_db": "a number of dB at or below 0 (e.g. -12)",
    "keep_original_track": "true or false",
    "subtitle_track": "true or false",
    "merge_split_sentences": "true or false",
    "language": "a language code such as eng, fra or de",
    "engine": "a speech engine name",
    "seed": "a whole number",
    "flow_steps": "a whole number from 1 to 200",
    "extend_into_silence_ms": "auto, off or a whole number of ms, 0 or more",
    "speakers": "a whole number from 1 to 50",
    "span": "cue or speech",
    "retakes": "a whole number from 0 to 10",
    "max_error_rate": "a number above 0, at most 1",
    "min_silhouette": "a number from -1 to 1",
    "stop_window": "a number from 0 to 0.5",
}


def _choices(name: str) -> list[str] | None:
    """The values of a setting that is a choice (background, emotion, ...), else None."""
    default = getattr(DubSettings(), name, None)
    return [m.value for m in type(default)] if isinstance(default, enum.Enum) else None


def check_job_settings(settings: dict[str, Any], where: str, label: str = "setting") -> None:
    """Raise InputError for an unknown setting or a value it cannot take. `where` names
    the job ("jobs.csv, row 3"), `label` what a setting is there ("column", "setting")."""
    known = sorted(f.name for f in fields(DubSettings) if f.name != "extra")
    for name, value in settings.items():
        if name not in known:
            raise InputError(
                f"{where}: unknown {label} '{name}' (dub settings: {', '.join(known)})"
            )
        choices = _choices(name)
        if choices is not None and value not in choices:
            raise InputError(
                f"{where}, {label} {name}: {value!r} is not one of {', '.join(choices)}"
            )
        try:
            DubSettings.from_dict({name: value}).validate()
        except TypeError:
            raise InputError(
                f"{where}, {label} {name}: {value!r} is not valid; it must be "
                f"{_KINDS.get(name, 'of the setting type')}"
            ) from None
        except OptionError as exc:
            raise InputError(f"{where}, {label} {name}: {exc}") from None
