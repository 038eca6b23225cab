"""A project's speakers: who says a line, their colour, and the voice prompt cut for them.

The speaker reads and writes its part of the project file (core.project holds the file);
with a `Reading`, a bad value (but the id) is dropped and named.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.project.values import Reading, lenient
from core.project.values import float_ as _float
from core.project.values import int_ as _int
from core.project.values import listed as _listed
from core.project.values import opt_float as _opt_float
from core.project.values import opt_str as _opt_str
from core.project.values import path_in as _path_in
from core.project.values import path_out as _path_out
from core.project.values import split as _split
from core.project.values import str_ as _str

# Distinct, readable on dark and light timelines; speakers beyond these cycle.
SPEAKER_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)


@dataclass
class PromptPart:
    """A stretch of the original chosen for a speaker's timbre prompt, and why."""

    start_ms: int
    end_ms: int
    score: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "score": self.score,
                "reason": self.reason}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Any) -> PromptPart:
        if not isinstance(d, dict):
            raise TypeError("a prompt part must be an object")
        return cls(_int(d["start_ms"]), _int(d["end_ms"]), _float(d.get("score", 0.0)),
                   _str(d.get("reason", "")))  # fmt: skip


@dataclass
class Speaker:
    id: str
    name: str
    prompt_path: Path | None = None  # the editor's voice sample file; None: cut from the video
    colour: str = SPEAKER_COLOURS[0]
    extra: dict[str, Any] = field(default_factory=dict)
    prompt_parts: list[PromptPart] = field(default_factory=list)  # the cut prompt, with reasons
    prompt_score: float | None = None
    prompt_lines: list[str] = field(default_factory=list)  # line ids the editor chose instead
    prompt_text: str | None = None  # what the prompt says (whisper), for engines that use it
    prompt_text_key: str | None = None  # the prompt audio it was heard in (VoicePrompt.key)

    def to_dict(self, base: Path | None) -> dict[str, Any]:
        return {
            **copy.deepcopy(self.extra),
            "id": self.id,
            "name": self.name,
            "prompt_path": _path_out(self.prompt_path, base),
            "colour": self.colour,
            "prompt_parts": [p.to_dict() for p in self.prompt_parts],
            "prompt_score": self.prompt_score,
            "prompt_lines": list(self.prompt_lines),
            "prompt_text": self.prompt_text,
            "prompt_text_key": self.prompt_text_key,
        }

    @classmethod
    def from_dict(cls, data: Any, base: Path | None, reading: Reading | None = None) -> Speaker:
        """With a `reading`, a bad value (but the id) is dropped and named."""
        known = {"id", "name", "prompt_path", "colour", "prompt_parts", "prompt_score",
                 "prompt_lines", "prompt_text", "prompt_text_key"}  # fmt: skip
        d, extra = _split(data, known, "speaker", reading)
        sid = _str(d["id"])

        def read(name: str, fn: Callable[[], Any], default: Any) -> Any:
            return lenient(reading, None, f"speaker '{sid}' {name}", fn, default)

        parts = read("prompt parts", lambda: _listed(d.get("prompt_parts", [])), [])
        parts = [read("prompt part", lambda p=p: PromptPart.from_dict(p), None) for p in parts]
        return cls(
            id=sid,
            name=read("name", lambda: _str(d.get("name", sid)), sid),
            prompt_path=read("voice file", lambda: _path_in(d.get("prompt_path"), base), None),
            colour=read("colour", lambda: _str(d.get("colour", SPEAKER_COLOURS[0])),
                        SPEAKER_COLOURS[0]),  # fmt: skip
            extra=extra,
            prompt_parts=[p for p in parts if p is not None],
            prompt_score=read("prompt score", lambda: _opt_float(d.get("prompt_score")), None),
            prompt_lines=read("prompt lines",
                              lambda: [_str(x) for x in _listed(d.get("prompt_lines", []))], []),
            prompt_text=read("prompt text", lambda: _opt_str(d.get("prompt_text")), None),
            prompt_text_key=read("prompt text key",
                                 lambda: _opt_str(d.get("prompt_text_key")), None),
        )  # fmt: skip
