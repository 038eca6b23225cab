"""The extract stage: the original's audio into the work folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.audio.original_audio import ExtractedAudio, extract_audio
from core.disk_space import writing_to
from core.job.runner import Tick
from core.notices import Notice


def extract(
    video: Path, work: Path, warn: Callable[[Notice], None], tick: Tick | None = None
) -> ExtractedAudio | None:
    """The original's audio (None, said, when the video has none); ``tick`` follows
    ffmpeg's own progress (s of film: a two-hour 5.1 film takes minutes)."""
    with writing_to(work, "the extracted audio"):
        work.mkdir(parents=True, exist_ok=True)
        extracted = extract_audio(video, work / "audio", progress=tick)
    if extracted is None:
        warn(
            Notice(
                None,
                "no-audio",
                "the video has no audio track: voices come from the sample files, "
                "emotion from the voices",
            )
        )
    return extracted
