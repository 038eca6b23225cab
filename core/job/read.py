"""The read stage's parts: the cues a dub can use, and one `LinePlan` per cue."""

from __future__ import annotations

from pathlib import Path

from core import project as proj
from core.desk.status import seed_for
from core.errors import InputError
from core.job.inputs import Inputs
from core.job.lines import LinePlan
from core.job.options import DubOptions
from core.job.project_keeper import ProjectKeeper
from core.lines.limits import line_problem
from core.lines.timing import plan_lines
from core.settings import DubSettings
from core.subtitles.read import Cue


def dubbable_cues(inputs: Inputs) -> list[Cue]:
    """The usable cues that lie within the picture; InputError when none can be dubbed."""
    cues = inputs.subtitles.usable_cues()
    if not cues:
        raise InputError(f"{inputs.subtitles.path.name} has no usable lines to dub")
    # Cues past the end of the picture cannot be dubbed (growing into silence cannot help).
    video_end_ms = round(inputs.media.duration_s * 1000)
    planned = plan_lines(cues, video_end_ms=video_end_ms)
    cues = [c for c, t in zip(cues, planned, strict=True) if t.samples_22k > 0]
    if not cues:
        raise InputError(
            f"no line of {inputs.subtitles.path.name} lies within the video "
            f"({inputs.media.duration_s:.1f} s): wrong subtitles, or a wrong frame rate?"
        )
    if all(line_problem(c.text, 0.0) for c in cues):  # text no engine is given, alone
        raise InputError(f"{inputs.subtitles.path.name}: cue {cues[0].index} is not "
                         f"dubbed: {line_problem(cues[0].text, 0.0)}")  # fmt: skip
    return cues


def keep_inputs(
    keeper: ProjectKeeper,
    video: Path,
    inputs: Inputs,
    output: Path | None,
    settings: DubSettings,
    options: DubOptions,
) -> None:
    """The project's paths and settings; `output` None (analysis) leaves its output as is."""
    paths = {"video_path": video.resolve(), "subtitle_path": inputs.subtitles.path.resolve()}
    if output is not None:
        paths["output_path"] = output.resolve()
    keeper.set_settings(
        **paths,
        settings=settings,
        model={"device": options.device, "model_dir": options.model_dir},
    )


def line_plans(
    cues: list[Cue],
    speakers: dict[int, str],
    keeper: ProjectKeeper | None,
    settings: DubSettings,
) -> list[LinePlan]:
    return [
        LinePlan(
            c,
            speakers[c.index],
            # The seed follows the line, not its cue number: an inserted cue must not
            # re-render every later line. A take the editor chose (the desk) keeps its seed.
            seed_for(
                keeper.line(c.index) if keeper else None,
                settings.seed + (keeper.line_number(c.index) if keeper else c.index),
            ),
            proj.effective_mode(keeper.line(c.index) if keeper else None, settings.duration_mode),
        )
        for c in cues
    ]
