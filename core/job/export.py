"""The export stage: the video with the dub's track (and the original's, the subtitles)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.deliver.mux import ExportOptions, export_video
from core.job.inputs import Inputs
from core.job.lines import LinePlan
from core.job.runner import Tick
from core.language import language_from_filename, to_iso639_2
from core.notices import Notice
from core.settings import DubSettings
from core.subtitles.read import write_clean_srt


def export_dub(
    video: Path,
    mix_path: Path,
    output: Path,
    lines: list[LinePlan],
    inputs: Inputs,
    settings: DubSettings,
    has_original: bool,
    work: Path,
    warn: Callable[[Notice], None],
    spoken: str | None = None,
    tick: Tick | None = None,
) -> None:
    """Mux the output; ``tick`` follows ffmpeg's own progress (s of film)."""
    subtitles = None
    if settings.subtitle_track:
        subtitles = write_clean_srt([ln.cue for ln in lines], work / "subtitles.srt")
    export_video(
        video,
        mix_path,
        output,
        ExportOptions(
            dub_language=to_iso639_2(settings.language)
            or language_from_filename(inputs.subtitles.path)
            or to_iso639_2(spoken)  # what the lines are written in (a plain clip.srt)
            or "und",
            include_original=settings.keep_original_track and has_original,
            subtitles=subtitles,
            on_dropped=lambda what: warn(Notice(None, "export", what)),
        ),
        progress=tick,
    )
