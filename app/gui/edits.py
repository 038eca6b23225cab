"""Undoable edits of the desk. Each command holds the state before and after and a function
that puts a state in place; the window supplies that function (it also repaints)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand


class StateEdit(QUndoCommand):
    """`apply(after)` on redo, `apply(before)` on undo."""

    def __init__(self, text: str, apply: Callable[[Any], None], before: Any, after: Any):
        super().__init__(text)
        self.apply, self.before, self.after = apply, before, after

    def redo(self) -> None:
        self.apply(self.after)

    def undo(self) -> None:
        self.apply(self.before)
