"""Subtitle files on disk: which extensions are subtitles, finding a video's, writing a clean SRT."""

from __future__ import annotations

from pathlib import Path

from core.subtitles.cue_types import Cue
from core.subtitles.encoding import detect_encoding
from core.subtitles.timing import srt_time
from core.subtitles.ttml import has_ttml_root

__all__ = ["EXTENSION_FORMAT", "SUBTITLE_EXTENSIONS", "find_subtitles_for", "write_clean_srt"]

# In order of preference when a video has several beside it.
SUBTITLE_EXTENSIONS: tuple[str, ...] = (
    ".srt",
    ".ass",
    ".ssa",
    ".vtt",
    ".sub",
    ".ttml",
    ".dfxp",
    ".xml",
)

# The format an extension promises, for content that does not tell.
EXTENSION_FORMAT = {
    ".srt": "srt",
    ".ass": "ass",
    ".ssa": "ssa",
    ".vtt": "vtt",
    ".webvtt": "vtt",
    ".sub": "microdvd",
    ".ttml": "ttml",
    ".dfxp": "ttml",
    ".xml": "ttml",
}

_Candidate = tuple[int, int, str, Path]  # (extension rank, case rank, name, path)


def find_subtitles_for(video: Path) -> Path | None:
    """The subtitle file beside a video: same stem (movie.srt) preferred over a
    language-tagged one (movie.en.srt); extensions ranked as SUBTITLE_EXTENSIONS."""
    video = Path(video)
    try:
        siblings = [p for p in video.parent.iterdir() if p.is_file() and p != video]
    except OSError:
        return None
    exact, tagged = _candidates(video, siblings)
    for group in (exact, tagged):
        for *_, p in sorted(group):
            if _looks_like_text_subtitle(p):
                return p
    return None


def _candidates(video: Path, siblings: list[Path]) -> tuple[list[_Candidate], list[_Candidate]]:
    """Siblings named like the video (movie.srt), then language-tagged (movie.en.srt)."""
    rank = {ext: i for i, ext in enumerate(SUBTITLE_EXTENSIONS)}
    exact: list[_Candidate] = []
    tagged: list[_Candidate] = []
    for p in siblings:
        ext = p.suffix.lower()
        if ext not in rank:
            continue
        stem = p.name[: -len(p.suffix)]
        # Editors on macOS and Windows do not see case; "Movie.SRT" belongs to "movie.mp4".
        # Among equals, the same case wins.
        case_rank = 0 if stem.startswith(video.stem) else 1
        if stem.casefold() == video.stem.casefold():
            exact.append((rank[ext], case_rank, p.name, p))
        elif stem.casefold().startswith(video.stem.casefold() + "."):
            tagged.append((rank[ext], case_rank, p.name, p))
    return exact, tagged


def _looks_like_text_subtitle(path: Path) -> bool:
    try:
        head = path.read_bytes()[:4096]
    except OSError:
        return False
    if path.suffix.lower() == ".xml":
        # .xml is any XML (a config, a manifest); only TTML is subtitles.
        try:
            sample, _, _ = detect_encoding(head)
        except (ValueError, UnicodeDecodeError):
            return False
        return has_ttml_root(sample)
    if path.suffix.lower() == ".sub":
        # VobSub .sub files are MPEG program streams: picture subtitles we cannot read.
        return b"\x00" not in head
    return True


def write_clean_srt(cues: list[Cue], path: Path, *, keep_numbers: bool = False) -> Path:
    """The cues as a plain UTF-8 SRT (cleaned text): what gets muxed as a subtitle track,
    whatever the source's format or encoding was. `keep_numbers`: each cue under its own
    number (unique), which a read gives back, instead of 1, 2, 3..."""
    blocks = [
        f"{c.index if keep_numbers else n}\n"
        f"{srt_time(c.start_ms)} --> {srt_time(c.end_ms)}\n{c.text}\n"
        for n, c in enumerate(cues, start=1)
    ]
    path = Path(path)
    # Written aside, then renamed: a reader never sees half a file.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(blocks), encoding="utf-8")
    tmp.replace(path)
    return path
