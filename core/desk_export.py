"""What the desk's Export and queue decide about files, Qt-free: a queued job's output that
never lands on a file already there (the dub just exported), and what an export wrote
beside the video (stems, report) for the message that ends it."""

from __future__ import annotations

from pathlib import Path

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


def written_extras(stems_dir: Path | None, report_path: Path | None) -> list[str]:
    """One sentence per extra output an export wrote: "Stems: 10 WAV files in …",
    "Report: …". Only what is on disk is named."""
    said = []
    if stems_dir is not None and Path(stems_dir).is_dir():
        n = sum(1 for _ in Path(stems_dir).glob("*.wav"))
        said.append(f"Stems: {n} WAV file{'s' if n != 1 else ''} in {stems_dir}")
    if report_path is not None and Path(report_path).is_file():
        said.append(f"Report: {report_path}")
    return said
