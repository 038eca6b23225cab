"""Which parts of a delivery a run writes: the timelines (each format on its own), the
stems, the QC report. The command line's ``--deliver`` writes every part; the desk's
Export lets the editor tick only the ones the post house asked for.

A timeline needs its media: the take files it cuts (always written beside it) and the
music-and-effects stem it lays under the lines, which is written even when the stems as
a whole are not chosen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from core.errors import OptionError


class DeliverPart(StrEnum):
    OTIO = "otio"
    FCP_XML = "xml"  # FCP 7 XML: Premiere, Resolve
    AAF = "aaf"  # Avid, Pro Tools
    STEMS = "stems"
    QC_REPORT = "qc-report"


TIMELINE_PARTS = (DeliverPart.OTIO, DeliverPart.FCP_XML, DeliverPart.AAF)
PART_ORDER = tuple(DeliverPart)  # the order parts are offered, stored and named in


@dataclass(frozen=True)
class DeliverParts:
    """A non-empty choice of parts, kept in PART_ORDER (so two equal choices compare and
    fingerprint alike whatever order they were ticked in)."""

    chosen: tuple[DeliverPart, ...] = PART_ORDER

    def __post_init__(self) -> None:
        chosen = set()
        for part in self.chosen:
            try:
                chosen.add(DeliverPart(part))
            except ValueError:
                raise OptionError(
                    f"unknown delivery part {part!r}; choose from {', '.join(PART_ORDER)}",
                    "deliver_parts",
                ) from None
        if not chosen:
            raise OptionError("a delivery needs at least one part", "deliver_parts")
        object.__setattr__(self, "chosen", tuple(p for p in PART_ORDER if p in chosen))

    @classmethod
    def of(cls, parts: Iterable[DeliverPart | str]) -> DeliverParts:
        return cls(tuple(parts))

    @classmethod
    def parse(cls, text: str) -> DeliverParts:
        """``"otio,stems"`` (a command line's or a settings file's spelling)."""
        return cls(tuple(p.strip() for p in str(text).split(",") if p.strip()))

    def __contains__(self, part: object) -> bool:
        return part in self.chosen

    @property
    def timelines(self) -> tuple[str, ...]:
        """The timeline formats chosen, as file extensions."""
        return tuple(p.value for p in TIMELINE_PARTS if p in self.chosen)

    @property
    def stems(self) -> bool:
        return DeliverPart.STEMS in self.chosen

    @property
    def qc_report(self) -> bool:
        return DeliverPart.QC_REPORT in self.chosen

    def stem_roles(self, speakers: Iterable[str]) -> tuple[str, ...]:
        """The stems to write (core.deliver.spec.stem_paths' roles): all of them, or only
        the music-and-effects bed a timeline lays under its lines, or none."""
        if self.stems:
            return ("mix", "dialogue", "music-effects", *(f"dialogue.{s}" for s in speakers))
        return ("music-effects",) if self.timelines else ()

    def to_text(self) -> str:
        return ",".join(p.value for p in self.chosen)


ALL_PARTS = DeliverParts()
