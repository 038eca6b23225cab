"""The dub's own failures, each with a message written for the editor (CLI or window)."""

from __future__ import annotations


class InputError(Exception):
    """The video, subtitles or an output path cannot be used; the message says which and
    why. `field` names the DubOptions field at fault, when it is one (e.g. "dub_wav")."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class OptionError(ValueError):
    """A dub setting is out of range or unknown; the message says what is allowed.
    `setting` names it (DubSettings' field), so the CLI can name its flag, the window its
    control."""

    def __init__(self, message: str, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class EngineUnavailable(Exception):
    """No speech engine can be loaded (model files missing, engine not installed)."""
