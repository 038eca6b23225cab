"""Reading a dub's inputs: the video probed, its subtitles found and parsed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError
from core.media import MediaError, MediaInfo, check_integrity, probe, require_video
from core.subtitles import SubtitleDoc, SubtitleError, find_subtitles_for, load_subtitles


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
    if not video.exists():
        raise InputError(f"video not found: {video}")
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
