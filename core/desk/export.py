"""What the desk's Export and queue decide about files, Qt-free: a queued job's output that
never lands on a file already there (the dub just exported), what an export wrote
beside the video (stems, report, the delivery) for the message that ends it, and the
delivery the Export asks for (loudness preset, deliverables folder and parts) with the
plain values it is remembered by between sessions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.audio.loudness_presets import DEFAULT_PRESET, PRESETS, preset_named
from core.deliver.parts import ALL_PARTS, TIMELINE_PARTS, DeliverPart, DeliverParts
from core.errors import OptionError

MAX_TRIES = 1000


def unused_output(path: Path) -> Path:
    """`path`, or the first free `NAME (2).mp4`, `NAME (3).mp4`… beside it: a job added to
    the queue must not default to overwriting a dub the editor has just exported."""
    path = Path(path)
    if not path.exists():
        return path
    for n in range(2, MAX_TRIES):
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(f"no free name beside {path}")


def written_extras(
    stems_dir: Path | None,
    report_path: Path | None,
    delivery: DeskDelivery | None = None,
    name: str = "",
) -> list[str]:
    """One sentence per extra output an export wrote: "Stems: 10 WAV files in …",
    "Report: …", "Delivered to …: OTIO, 5 stems" (``name``: the output's stem, which the
    delivery's files are named after). Only what is on disk is named."""
    said = []
    if stems_dir is not None and Path(stems_dir).is_dir():
        n = sum(1 for _ in Path(stems_dir).glob("*.wav"))
        said.append(f"Stems: {n} WAV file{'s' if n != 1 else ''} in {stems_dir}")
    if report_path is not None and Path(report_path).is_file():
        said.append(f"Report: {report_path}")
    if delivery is not None and (sentence := delivered(delivery.folder, name)):
        said.append(sentence)
    return said


# --- the delivery the Export asks for (loudness, deliverables), and its memory ----------------

MEMORY_LOUDNESS = "export/loudness"
MEMORY_FOLDER = "export/deliver_folder"
MEMORY_PARTS = "export/deliver_parts"
PART_LABELS = {
    DeliverPart.OTIO: "OTIO",
    DeliverPart.FCP_XML: "FCP XML",
    DeliverPart.AAF: "AAF",
    DeliverPart.STEMS: "Stems",
    DeliverPart.QC_REPORT: "QC report",
}


@dataclass(frozen=True)
class DeskDelivery:
    """What the Export dialog asks of the mix (its loudness preset, always) and of the
    delivery (a folder, and the parts ticked; no folder: no delivery)."""

    loudness: str = DEFAULT_PRESET
    folder: Path | None = None
    parts: DeliverParts = ALL_PARTS

    def __post_init__(self) -> None:
        preset_named(self.loudness)  # an unknown preset fails here, not in the dub

    def options(self) -> dict[str, Any]:
        """The DubOptions fields this sets: ``DubOptions(..., **delivery.options())``."""
        return {"loudness": self.loudness, "deliver_dir": self.folder, "deliver_parts": self.parts}

    def to_memory(self) -> dict[str, Any]:
        """Settings keys and plain values (a list of part names: see ``from_memory``)."""
        return {
            MEMORY_LOUDNESS: self.loudness,
            MEMORY_FOLDER: str(self.folder) if self.folder else "",
            MEMORY_PARTS: [p.value for p in self.parts.chosen],
        }

    @classmethod
    def from_memory(cls, read: Callable[[str], Any]) -> DeskDelivery:
        """The delivery last asked for, from ``read(key)`` (QSettings.value). What cannot
        be read (a preset since renamed, no parts, a hand-edited file) falls back to the
        defaults rather than stopping the Export."""
        loudness = str(read(MEMORY_LOUDNESS) or DEFAULT_PRESET)
        if loudness not in PRESETS:
            loudness = DEFAULT_PRESET
        folder = str(read(MEMORY_FOLDER) or "").strip()
        return cls(
            loudness, Path(folder) if folder else None, _parts_from_memory(read(MEMORY_PARTS))
        )


def _parts_from_memory(value: Any) -> DeliverParts:
    # QSettings reads a one-item list back as a plain string, and an INI file may hold
    # "otio, stems": every spelling becomes a list of names.
    if value is None or value == "":
        return ALL_PARTS
    names = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    try:
        return DeliverParts.of(n.strip() for n in names if n.strip())
    except OptionError:
        return ALL_PARTS


def delivery_problem(folder: str, ticked: Sequence[DeliverPart]) -> str | None:
    """Why the Export cannot deliver into ``folder`` with the parts ``ticked`` (None: it
    can, or no folder was given and nothing is delivered)."""
    folder = folder.strip()
    if not folder:
        return None
    if not ticked:
        return "Tick at least one deliverable, or clear the deliverables folder."
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        return f"{path} is a file, not a folder for the deliverables."
    return None


def delivered(folder: Path | None, name: str) -> str | None:
    """A sentence for what an export delivered into ``folder`` (the files named after the
    video, NAME.*): "Delivered to DIR: OTIO, FCP XML, 5 stems, QC report". Only what is on
    disk is named."""
    if folder is None or not Path(folder).is_dir():
        return None
    folder = Path(folder)
    said = [
        PART_LABELS[part] for part in TIMELINE_PARTS if (folder / f"{name}.{part.value}").is_file()
    ]
    n = sum(1 for _ in folder.glob(f"{name}.*.wav"))
    if n:
        said.append(f"{n} stem{'s' if n != 1 else ''}")
    if (folder / f"{name}.qc.html").is_file():
        said.append(PART_LABELS[DeliverPart.QC_REPORT])
    return f"Delivered to {folder}: {', '.join(said)}" if said else None
