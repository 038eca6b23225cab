"""Reading a project file's values: each checked as it is read, and a bad one dropped
with a note that names the line and field, so one bad value never costs the rest.

`Reading` collects those notes; without one (`None`, content built in memory: undo
snapshots, tests) a bad value raises as before. Every number read is finite, so a
project that was read can always be saved again (JSON has no inf or NaN).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from core.notices import Notice
from core.settings import DubSettings
from models.contract import EMOTION_NAMES

T = TypeVar("T")
READ_ERRORS = (KeyError, TypeError, ValueError)


def why(exc: BaseException) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc)


@dataclass
class Reading:
    """The notes of one read: what was dropped, where (a line's cue number, if any)."""

    notices: list[Notice] = field(default_factory=list)

    def drop(self, cue: int | None, where: str, exc: BaseException | str) -> None:
        reason = exc if isinstance(exc, str) else why(exc)
        self.notices.append(
            Notice(cue, "project", f"the project file's {where} was dropped ({reason})")
        )


def lenient(
    reading: Reading | None, cue: int | None, where: str, read: Callable[[], T], default: T
) -> T:
    """`read()`, or with a `reading`, `default` and a note when the value is bad."""
    if reading is None:
        return read()
    try:
        return read()
    except READ_ERRORS as exc:
        reading.drop(cue, where, exc)
        return default


def finite_json(value: Any, reading: Reading | None, cue: int | None, where: str) -> Any:
    """A deep copy of free-form JSON (an object's unknown keys, the analysis) without the
    numbers JSON cannot hold (inf, NaN): each one dropped, and named. Without a reading
    (content from memory), a plain deep copy."""
    if reading is None:
        return copy.deepcopy(value)
    if isinstance(value, float) and not math.isfinite(value):
        reading.drop(cue, where, f"not a finite number: {value}")
        return _GONE
    if isinstance(value, dict):
        kept = {k: finite_json(v, reading, cue, f"{where} '{k}'") for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not _GONE}
    if isinstance(value, list):
        kept_items = [finite_json(v, reading, cue, f"{where}[{i}]") for i, v in enumerate(value)]
        return [v for v in kept_items if v is not _GONE]
    return copy.deepcopy(value)


_GONE = object()


# --- typed values ---------------------------------------------------------------------------


def path_out(p: Path | None, base: Path | None) -> str | None:
    """Relative (POSIX separators) when inside `base`, else absolute."""
    if p is None:
        return None
    if base is None:
        return str(p)
    absolute = Path(os.path.abspath(p))
    try:
        return absolute.relative_to(Path(os.path.abspath(base))).as_posix()
    except ValueError:
        return str(absolute)


def path_in(s: Any, base: Path | None) -> Path | None:
    if s is None:
        return None
    if not isinstance(s, str):
        raise TypeError(f"expected a path string, got {type(s).__name__}")
    p = Path(s)
    if base is not None and not p.is_absolute():
        p = Path(os.path.abspath(base)) / p
    return p


def split(
    data: Any, known: set[str], what: str, reading: Reading | None = None, cue: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The object and its unknown keys (kept, written back), free of non-finite numbers."""
    if not isinstance(data, dict):
        raise TypeError(f"{what} must be an object, got {type(data).__name__}")
    extra = {k: v for k, v in data.items() if k not in known}
    return data, finite_json(extra, reading, cue, what)


def opt_int(v: Any) -> int | None:
    return None if v is None else int_(v)


def int_(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"expected an integer, got {_shown(v)}")
    return v


def float_(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError(f"expected a number, got {_shown(v)}")
    if not math.isfinite(v):
        raise ValueError(f"not a finite number: {v}")
    return float(v)


def unit(v: Any) -> float:
    """A number from 0 to 1 (an emotion's weight, its strength)."""
    x = float_(v)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {x:g}")
    return x


def str_(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected a string, got {_shown(v)}")
    return v


def opt_str(v: Any) -> str | None:
    return None if v is None else str_(v)


def opt_dict(v: Any, reading: Reading | None = None, where: str = "analysis") -> Any:
    if v is not None and not isinstance(v, dict):
        raise TypeError(f"expected an object, got {_shown(v)}")
    return finite_json(v, reading, None, where)


def vector(raw: Any) -> tuple[float, ...]:
    if not isinstance(raw, list) or len(raw) != len(EMOTION_NAMES):
        raise ValueError(f"expected {len(EMOTION_NAMES)} numbers ({', '.join(EMOTION_NAMES)})")
    return tuple(unit(v) for v in raw)


def listed(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise TypeError(f"expected a list, got {type(v).__name__}")
    return v


def opt_float(v: Any) -> float | None:
    return None if v is None else float_(v)


def cue_of(item: Any) -> str:
    """How a dropped line or speaker is named: its cue number or id, if it has one."""
    if isinstance(item, dict):
        for key, word in (("index", "cue"), ("id", "id")):
            if isinstance(item.get(key), int | str) and not isinstance(item.get(key), bool):
                return f"{word} {item[key]}"
    return "unnamed"


def dub_settings(raw: Any, reading: Reading | None) -> DubSettings:
    """The dub's settings; with a `reading`, each setting that is bad (wrong type, out of
    range, inf) is dropped and named, the others kept."""
    if reading is None:
        return DubSettings.from_dict(raw)
    if not isinstance(raw, dict):
        reading.drop(None, "settings", f"expected an object, got {type(raw).__name__}")
        return DubSettings()
    kept: dict[str, Any] = {}
    for key, value in finite_json(raw, reading, None, "setting").items():
        try:
            DubSettings.from_dict({key: value}).validate()
        except READ_ERRORS as exc:
            reading.drop(None, f"setting '{key}'", exc)
        else:
            kept[key] = value
    try:
        return DubSettings.from_dict(kept)
    except READ_ERRORS as exc:
        reading.drop(None, "settings", exc)
        return DubSettings()


def _shown(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
