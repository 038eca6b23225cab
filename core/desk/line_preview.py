"""Render one line of a dub, alone: the desk's Preview and Regenerate.

The line is rendered exactly as the whole dub would render it (same inputs, analysis,
speaker prompt cut from all of that speaker's lines, emotion, seed), at the preview's quality
preset (`DubSettings.preview_preset`, draft by default: fewer flow steps over a shorter prompt,
several times faster); the takes land in the same take cache, and a preview at the export's
preset is the very take the export will use. Only the mix and the export are skipped.
Regenerate is the same with a new seed: a new take, kept beside the others; the export
renders the chosen seed at its own preset.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from core import project as proj
from core.errors import InputError
from core.job.options import DubOptions, default_work_dir
from core.job.pipeline import DubJob, JobEvents
from core.lines.listening import TakeCheck
from core.lines.render import CancelToken, Take
from core.models.engines import EngineFactory, default_engine_factory
from core.settings import DubSettings

# The stages a preview needs before its one line renders (no mix, no export).
PREVIEW_STAGES = ("read", "engine", "extract", "analyze", "plan", "voices")


@dataclass
class LinePreview:
    index: int  # the cue number
    take: Take
    wav: Path  # the take's file in the cache, to play
    seed: int
    check: TakeCheck | None = None
    similarity: float | None = None


class LinePreviewJob(DubJob):
    """A DubJob that stops after the voices and renders only the lines asked for."""

    def __init__(
        self,
        video: Path,
        options: DubOptions,
        indices: list[int],
        *,
        seed: int | None = None,
        engine_factory: EngineFactory = default_engine_factory,
        events: JobEvents | None = None,
        cancel: CancelToken | None = None,
        project: proj.Project | None = None,
    ) -> None:
        work = Path(options.work_dir) if options.work_dir else default_work_dir(Path(video))
        # The output checks run on a name in the work folder: a preview writes no video.
        options = dataclasses.replace(options, output=work / "preview.mp4", work_dir=work,
                                      report_path=None, stems_dir=None, dub_wav=None)  # fmt: skip
        super().__init__(
            video,
            options,
            engine_factory=engine_factory,
            events=events,
            cancel=cancel,
            project=project,
        )
        self.indices, self.seed = list(indices), seed
        if seed is not None and len(self.indices) != 1:
            raise ValueError("a new take's seed is for one line")

    def _read(self, tick) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        kept = self.project.output_path if self.project else None
        super()._read(tick)
        if self.keeper:  # the dub's own output stays the project's, not the preview's
            self.keeper.project.output_path = kept
        known = {ln.index for ln in self.lines}
        missing = [i for i in self.indices if i not in known]
        if missing:
            raise InputError(f"line {missing[0]} is not a line this video can dub")

    def preview(self) -> list[LinePreview]:
        """The lines' takes (a line that failed to render is left out, with a warning)."""
        try:
            for name in PREVIEW_STAGES:
                self.runner.run(name, getattr(self, f"_{name}"))
            # Only now: every speaker's prompt was cut from all of their lines, as in a dub.
            wanted = set(self.indices)
            self.lines = [ln for ln in self.lines if ln.index in wanted]
            if self.seed is not None:
                self.lines[0].seed = self.seed
            self.settings = preview_settings(self.settings)
            self.runner.run("render", self._render)
        finally:
            if self.keeper:
                self.keeper.save()
        done = [ln for ln in self.lines if ln.take is not None]
        if not done:
            errors = "; ".join(f"line {ln.index}: {ln.error}" for ln in self.lines)
            raise InputError(f"nothing could be rendered ({errors})")
        return [
            LinePreview(
                index=ln.index,
                take=ln.take,
                wav=self.work / "takes" / f"{ln.take.key}.wav",
                seed=ln.seed,
                check=ln.check,
                similarity=ln.similarity,
            )
            for ln in done
        ]


def preview_settings(settings: DubSettings) -> DubSettings:
    """The dub's settings at the preview's quality preset (draft unless the editor chose
    otherwise); a flow-step count set for the export is the export's, not the draft's."""
    if settings.preview_preset is settings.preset:
        return settings
    return dataclasses.replace(settings, preset=settings.preview_preset, flow_steps=None)


def preview_lines(
    video: Path,
    options: DubOptions,
    indices: list[int],
    *,
    seed: int | None = None,
    engine_factory: EngineFactory = default_engine_factory,
    events: JobEvents | None = None,
    cancel: CancelToken | None = None,
    project: proj.Project | None = None,
    job_type: type[LinePreviewJob] | None = None,
) -> list[LinePreview]:
    """Render (or fetch from the cache) these lines of the dub; `seed`: a new take of one;
    `job_type`: a LinePreviewJob that decides speakers its own way."""
    job = (job_type or LinePreviewJob)(
        video,
        options,
        indices,
        seed=seed,
        engine_factory=engine_factory,
        events=events,
        cancel=cancel,
        project=project,
    )
    return job.preview()
