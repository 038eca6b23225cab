"""Warnings meant for the editor, with a kind so that a flood can be told in a few lines.

A 10,000-cue file with a systematic problem would otherwise print 20,000 lines; grouped,
the editor reads one count per kind and the first few examples, and the report keeps all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

SHOWN_PER_KIND = 3


@dataclass(frozen=True)
class Notice:
    cue: int | None  # cue number, or None for the whole file / the whole dub
    kind: str  # "empty", "overlap", "past-end", "encoding", "emotion", "render", ...
    message: str

    def __str__(self) -> str:
        return self.message if self.cue is None else f"cue {self.cue}: {self.message}"


def group_notices(notices: list[Notice], shown_per_kind: int = SHOWN_PER_KIND) -> list[str]:
    """Lines to print: every notice when a kind has few, else the first `shown_per_kind`
    of that kind and one line with how many more there are (in the order kinds first came)."""
    counts = Counter(n.kind for n in notices)
    shown: Counter[str] = Counter()
    lines: list[str] = []
    for n in notices:
        total = counts[n.kind]
        if total <= shown_per_kind + 1 or shown[n.kind] < shown_per_kind:
            lines.append(str(n))
        elif shown[n.kind] == shown_per_kind:
            more = total - shown_per_kind
            lines.append(f"… and {more} more '{n.kind}' warning(s) like these")
        shown[n.kind] += 1
    return lines
