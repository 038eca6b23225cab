"""Reading a dub's inputs: the video probed, its subtitles found and parsed."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError
from core.media.probe import MediaError, MediaInfo, check_integrity, probe, require_video
from core.subtitles.read import SubtitleDoc, SubtitleError, find_subtitles_for, load_subtitles

# Far above any real subtitle file (a feature's SRT is ~100 KB, a karaoke ASS a few MB)
# and far below what would fill the memory.
SUBTITLE_SIZE_LIMIT = 50 * 1024 * 1024
# A voice sample or an emotion reference is seconds long; an hour of 48 kHz 7.1 WAV fits.
AUDIO_SIZE_LIMIT = 2 * 1024 * 1024 * 1024


def _size(n: int) -> str:
    return f"{n / 1024**3:.0f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def check_input_file(path: Path, what: str, limit: int | None = None) -> None:
    """InputError unless ``path`` is a regular file (a FIFO, a device such as /dev/zero
    or a folder is refused without being opened: opening a FIFO blocks, reading a device
    never ends) of at most ``limit`` bytes."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{what} was not found: {path}") from None
    except OSError as exc:
        raise InputError(f"{what} {path} cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{what} {path} is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            kind = "a device"
        raise InputError(f"{what} {path} is {kind}; Dubsmith reads only regular files")
    if limit is not None and st.st_size > limit:
        raise InputError(
            f"{what} {path} is {_size(st.st_size)}, over the limit of {_size(limit)} "
            f"for {what}; is it the right file?"
        )


@dataclass
class Inputs:
    video: Path
    media: MediaInfo
    subtitles: SubtitleDoc


def read_inputs(
    video: Path, subtitles: Path | None = None, *, merge_split_sentences: bool = False
) -> Inputs:
    """Probe the video and read its subtitles (found next to it when not given)."""
    video = Path(video)
    check_input_file(video, "the video")
    try:
        media = probe(video)
        require_video(media)
        check_integrity(media)  # a cut-short file is refused before any long work
    except MediaError as exc:
        raise InputError(str(exc)) from exc
    if subtitles is None:
        subtitles = find_subtitles_for(video)
        if subtitles is None:
            raise InputError(
                f"no subtitles found next to {video.name} (looked for {video.stem}.srt, "
                f".ass, .vtt, ...); pass the subtitle file after the video"
            )
    check_input_file(Path(subtitles), "the subtitles", SUBTITLE_SIZE_LIMIT)
    try:
        doc = load_subtitles(
            Path(subtitles),
            fps=media.fps,
            video_duration_ms=round(media.duration_s * 1000) if media.duration_s else None,
            merge_split_sentences=merge_split_sentences,
        )
    except SubtitleError as exc:
        raise InputError(str(exc)) from exc
    return Inputs(video, media, doc)
