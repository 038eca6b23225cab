"""The editor's review of the lines, Qt-free: a line approved (its take heard and kept),
and which lines still want a look ("next flagged", "next not approved")."""

from __future__ import annotations

from core import project as proj
from core.desk.status import LineStatus

APPROVED = "approved"  # Line.extra: True once the editor approved the line's take
NEEDS_A_LOOK = (LineStatus.FLAGGED, LineStatus.FAILED)


def is_approved(line: proj.Line) -> bool:
    return bool(line.extra.get(APPROVED))


def set_approved(line: proj.Line, value: bool) -> None:
    if value:
        line.extra[APPROVED] = True
    else:
        line.extra.pop(APPROVED, None)


def needs_a_look(status: LineStatus) -> bool:
    """A line "next flagged" stops at: flagged by the engine or the check, or failed."""
    return status in NEEDS_A_LOOK
