"""A dub's settings, typed once and used from the project file to the mixer.

They live in the project (`Project.settings`), so what one run used is what the next run
reads back; the CLI overrides them with the flags it is given, the window edits them.
Every choice is one enum, spelled the same in the file, on the command line and in code.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from core.errors import OptionError
from core.language import to_iso639_2
from models.contract import DurationMode

EXTEND_AUTO = "auto"  # extend_into_silence_ms: borrow only what a too-fast line needs


def extend_into_silence(text: str) -> int | str:
    """The setting as typed (command line, job list): auto, off (0) or a whole number of ms."""
    low = text.strip().lower()
    if low in (EXTEND_AUTO, "off"):
        return EXTEND_AUTO if low == EXTEND_AUTO else 0
    ms = int(low)  # ValueError: argparse says "invalid extend_into_silence value"
    if ms < 0:
        raise ValueError(f"negative extension {ms}")
    return ms


class BackgroundMode(StrEnum):
    # Not chosen: `separate` when a separation model is installed (core/audio/separation.py),
    # else `duck`; the job decides once it has looked in the model directory.
    AUTO = "auto"
    DUCK = "duck"  # keep the original track under the dub, lowered by duck_db
    REPLACE = "replace"  # drop the original dialogue track altogether
    SEPARATE = "separate"  # the original's music and effects (its background stem) kept


class QualityPreset(StrEnum):
    """How much work the flow model does per line (measured in the README, "Performance")."""

    FINAL = "final"  # the official 25 flow steps over the whole voice prompt: export
    DRAFT = "draft"  # fewer steps over the prompt's first seconds, unguided: line previews


# What each preset asks of the engine: flow steps, seconds of the voice prompt the flow
# model sees (None: all of it), classifier-free guidance rate (0: one pass per step instead
# of the doubled batch; the draft: README, "Performance").
PRESET_SAMPLING: dict[QualityPreset, tuple[int, float | None, float]] = {
    QualityPreset.FINAL: (25, None, 0.7),
    QualityPreset.DRAFT: (10, 3.0, 0.0),
}


class DefaultEmotion(StrEnum):
    ORIGINAL = "original"  # each line carries the original actor's delivery of that line
    VOICE = "voice"  # the timbre prompt's own delivery


@dataclass
class DubSettings:
    background: BackgroundMode = BackgroundMode.AUTO
    duck_db: float = -12.0  # how far the original is lowered under the dub
    keep_original_track: bool = False  # also mux the original audio as a second track
    subtitle_track: bool = False  # also mux the subtitles as a text track
    emotion: DefaultEmotion = DefaultEmotion.ORIGINAL
    duration_mode: DurationMode = DurationMode.GUIDED  # README, "Duration control"
    # Guided mode: the decoder may stop from (1 - w) T codes on and is stopped at (1 + w) T.
    stop_window: float = 0.15
    language: str | None = None  # ISO 639 tag of the dub track; None: from the subtitles
    # The speech engine (models/registry.py name); None: chosen by the dub's language.
    engine: str | None = None
    seed: int = 0
    flow_steps: int | None = None  # diffusion steps of the flow model; None: the preset's
    preset: QualityPreset = QualityPreset.FINAL  # flow model work per line (export: final)
    # The desk's one-line Preview: draft by default (several times faster, README
    # "Performance"); Regenerate and the export render at `preset`.
    preview_preset: QualityPreset = QualityPreset.DRAFT
    merge_split_sentences: bool = False  # join cues that split one sentence
    # A line may run this far (ms; 0: off) into the silence after it, or EXTEND_AUTO: as far
    # as a line too fast for its speaker needs (core/lines/borrow_silence.py). Projects written
    # before "auto" existed hold 0, so they keep their spans.
    extend_into_silence_ms: int | str = EXTEND_AUTO
    speakers: int | None = None  # how many speakers the video has; None: estimated
    # Silhouette a split into voices must reach to beat "one voice" (estimating speakers);
    # None: core/speaker_clustering.MIN_SILHOUETTE, a guess for CAMPPlus embeddings.
    min_silhouette: float | None = None
    span: str = "cue"  # "cue": the subtitle's span; "speech": tightened to the speech in it
    retakes: int = 0  # lines failing the listening check are rendered again this many times
    max_error_rate: float = 0.4  # a take whose transcript differs more than this is flagged
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise OptionError for what would fail late (in ffmpeg, after the render)."""
        if not math.isfinite(self.duck_db) or self.duck_db > 0:
            raise OptionError(
                f"the duck level must be a number of dB at or below 0 (e.g. -12), "
                f"got {self.duck_db}",
                "duck_db",
            )
        if self.language is not None and to_iso639_2(self.language) is None:
            raise OptionError(
                f"the dub language must be a code such as eng, fra or de, got '{self.language}'",
                "language",
            )
        if self.engine is not None:
            from models.registry import ENGINES

            if self.engine not in ENGINES:
                raise OptionError(
                    f"unknown speech engine '{self.engine}' (known: {', '.join(ENGINES)})",
                    "engine",
                )
        ext = self.extend_into_silence_ms
        if ext != EXTEND_AUTO and (isinstance(ext, str) or ext < 0):
            raise OptionError(
                f"the extension into silence is auto, off or a whole number of ms, 0 or "
                f"more, got {ext!r}",
                "extend_into_silence_ms",
            )
        if self.span not in ("cue", "speech"):
            raise OptionError(f"the span is 'cue' or 'speech', got '{self.span}'", "span")
        if not 0 <= self.retakes <= 10:
            raise OptionError(f"retakes must be between 0 and 10, got {self.retakes}", "retakes")
        if not 0.0 < self.max_error_rate <= 1.0:
            raise OptionError(
                f"the error-rate limit must be in (0, 1], got {self.max_error_rate}",
                "max_error_rate",
            )
        if self.speakers is not None and not 1 <= self.speakers <= 50:
            raise OptionError(
                f"the number of speakers must be between 1 and 50, got {self.speakers}",
                "speakers",
            )
        if self.min_silhouette is not None and not -1.0 <= self.min_silhouette <= 1.0:
            raise OptionError(
                f"the silhouette bar must be in [-1, 1] (higher: fewer voices), "
                f"got {self.min_silhouette}",
                "min_silhouette",
            )
        if not 0.0 <= self.stop_window <= 0.5:
            raise OptionError(
                f"the stop window must be in [0, 0.5] (0.15: stop within 0.85-1.15x the "
                f"target), got {self.stop_window}",
                "stop_window",
            )
        if self.flow_steps is not None and not 1 <= self.flow_steps <= 200:
            raise OptionError(
                f"flow steps must be between 1 and 200, got {self.flow_steps}", "flow_steps"
            )

    def with_changes(self, **changes: Any) -> DubSettings:
        """A copy with the given settings replaced; None values leave a setting as it is
        (how command-line flags that were not given override nothing)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise OptionError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        given = {k: v for k, v in changes.items() if v is not None}
        try:
            return replace(self, **_typed(given))
        except ValueError as exc:
            raise OptionError(str(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        out = copy.deepcopy(self.extra)
        for f in fields(self):
            if f.name != "extra":
                value = getattr(self, f.name)
                out[f.name] = value.value if isinstance(value, StrEnum) else value
        return out

    @classmethod
    def from_dict(cls, data: Any) -> DubSettings:
        if not isinstance(data, dict):
            raise TypeError(f"settings must be an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)} - {"extra"}
        extra = {k: copy.deepcopy(v) for k, v in data.items() if k not in known}
        settings = cls(**_typed({k: v for k, v in data.items() if k in known}), extra=extra)
        _check_types(settings)
        return settings


_ENUMS = {
    "background": BackgroundMode,
    "emotion": DefaultEmotion,
    "duration_mode": DurationMode,
    "preset": QualityPreset,
    "preview_preset": QualityPreset,
}


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    out = {k: (_ENUMS[k](v) if k in _ENUMS else v) for k, v in values.items()}
    if out.get("extend_into_silence_ms") == "off":  # job lists may spell 0 as off
        out["extend_into_silence_ms"] = 0
    return out


def _check_types(s: DubSettings) -> None:
    for name in ("keep_original_track", "subtitle_track", "merge_split_sentences"):
        if not isinstance(getattr(s, name), bool):
            raise TypeError(f"setting {name} must be true or false")
    for name in ("seed", "flow_steps", "extend_into_silence_ms", "speakers", "retakes"):
        v = getattr(s, name)
        if name in ("flow_steps", "speakers") and v is None:
            continue
        if name == "extend_into_silence_ms" and v == EXTEND_AUTO:
            continue
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"setting {name} must be a whole number")
    for name in ("duck_db", "max_error_rate", "stop_window", "min_silhouette"):
        v = getattr(s, name)
        if name == "min_silhouette" and v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TypeError(f"setting {name} must be a number")
        setattr(s, name, float(v))
    if s.language is not None and not isinstance(s.language, str):
        raise TypeError("setting language must be a language code")
    if s.engine is not None and not isinstance(s.engine, str):
        raise TypeError("setting engine must be an engine name")
