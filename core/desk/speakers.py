"""Who speaks, as the desk decides it: a Preview keeps the speakers the editor sees (the
first one ran the speaker analysis and put 8 lines the editor had under "Host" under
"Speaker 1"), and "Find speakers" runs the analysis only when the editor asks for it.
Qt-free; the window runs both on its job worker and puts Find speakers on its undo stack."""

from __future__ import annotations

from pathlib import Path

from core import project as proj
from core.desk.line_preview import LinePreview, LinePreviewJob, preview_lines
from core.job.options import DubOptions
from core.job.pipeline import DubJob, JobEvents
from core.lines.render import CancelToken
from core.models.engines import EngineFactory, default_engine_factory

ANALYSIS_STAGES = DubJob.ANALYSIS_STAGES  # what Find speakers runs, for its progress bar


def has_speakers(project: proj.Project | None) -> bool:
    """The editor already sees who speaks each line (the subtitles' speakers, a rename, a
    merge, an analysis): only a project with none at all is analysed by itself."""
    if project is None:
        return False
    return bool(project.speakers) or any(ln.speaker_id for ln in project.lines)


class KeepSpeakersPreview(LinePreviewJob):
    """A preview that renders each line with the speaker the project gives it."""

    def _analyze(self, tick) -> None:
        project = self.keeper.project if self.keeper else None
        if not has_speakers(project):
            super()._analyze(tick)
            return
        self._separate(tick)
        for plan in self.lines:
            line = self.keeper.line(plan.index)
            plan.speaker = (line.speaker_id if line is not None else None) or plan.speaker
        self.others = {}
        self._listen_to_original()  # word times are not kept: the spans need them again


def preview_keeping_speakers(
    video: Path,
    options: DubOptions,
    indices: list[int],
    *,
    seed: int | None = None,
    engine_factory: EngineFactory = default_engine_factory,
    events: JobEvents | None = None,
    cancel: CancelToken | None = None,
    project: proj.Project | None = None,
) -> list[LinePreview]:
    """core.desk.line_preview.preview_lines, but the project's speakers stay as they are."""
    return preview_lines(
        video, options, indices, seed=seed, engine_factory=engine_factory, events=events,
        cancel=cancel, project=project, job_type=KeepSpeakersPreview,
    )  # fmt: skip


def find_speakers(
    video: Path,
    options: DubOptions,
    *,
    engine_factory: EngineFactory = default_engine_factory,
    events: JobEvents | None = None,
    cancel: CancelToken | None = None,
    project: proj.Project | None = None,
) -> str:
    """Run the speaker analysis on the project (lines the editor assigned by hand keep
    their speaker) and choose each speaker's prompt; returns what the analysis found."""
    job = DubJob(
        video,
        options,
        engine_factory=engine_factory,
        events=events,
        cancel=cancel,
        project=project,
    )
    job.analyze()
    analysis = job.keeper.project.analysis if job.keeper else None
    return str((analysis or {}).get("detail", "done"))
