"""The dub's own failures, each with a message written for the editor (CLI or window)."""

from __future__ import annotations


class InputError(Exception):
    """The video or subtitles cannot be used; the message says which and why."""


class OptionError(ValueError):
    """A dub setting is out of range or unknown; the message names it and what is allowed."""


class EngineUnavailable(Exception):
    """No speech engine can be loaded (model files missing, engine not installed)."""
