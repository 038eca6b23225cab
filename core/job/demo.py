"""A first run that needs nothing of the user's: a ~10 s sample video in which two people
speak, its ASS subtitles naming them, and its dub with the installed models.

    make_sample(out_dir) -> Sample(video, subtitles, lines)
    run_demo(out_dir, model_dir=None, device="auto", *, flow_steps=None, progress=None,
             cancel=None, work_dir=None, engine_factory=None) -> DemoResult

The dub is an ordinary one (core.job.pipeline.dub): what it writes beside the sample (the
dubbed video, its report, the project file) is what a user's own video gets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.job.output_guard import OutputError
from core.media.sample_media import Line, make_sample_video, write_ass

DURATION_S = 10.0
LINES: tuple[Line, ...] = (
    Line(0.5, 2.8, "Ada", "en-us", "Did you hear the storm last night?"),
    Line(3.0, 5.3, "Ben", "en-gb+f3", "I did. It kept me awake for hours."),
    Line(5.6, 7.6, "Ada", "en-us", "The old tree by the river fell."),
    Line(7.8, 9.8, "Ben", "en-gb+f3", "Then we will plant a new one."),
)
VIDEO_NAME = "demo.mp4"
SUBTITLES_NAME = "demo.en.ass"  # ".en": the dub track is tagged English
DUBBED_NAME = "demo.dubbed.mp4"
REPORT_NAME = "demo.report.json"


@dataclass(frozen=True)
class Sample:
    video: Path
    subtitles: Path
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class DemoResult:
    sample: Sample
    dubbed: Path
    report_path: Path
    report: object  # core.deliver.dub_report.DubReport


def make_sample(out_dir: Path) -> Sample:
    """The sample video and its subtitles in out_dir (made again each time: seconds)."""
    out_dir = Path(out_dir).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(
            f"{out_dir} is a file, not a folder; the demo writes its sample, subtitles and "
            "dub into a folder: name a new or existing folder",
            "output",
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    video = make_sample_video(out_dir / VIDEO_NAME, LINES, DURATION_S)
    subtitles = write_ass(out_dir / SUBTITLES_NAME, LINES)
    return Sample(video, subtitles, LINES)


def run_demo(
    out_dir: Path,
    model_dir: Path | None = None,
    device: str = "auto",
    *,
    flow_steps: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    cancel=None,
    work_dir: Path | None = None,
    engine_factory=None,
    on_sample: Callable[[Sample], None] | None = None,
) -> DemoResult:
    """Make the sample in out_dir and dub it into out_dir/demo.dubbed.mp4. Raises what
    core.job.pipeline.dub raises (ModelFilesMissing first of all, before any long work)."""
    from core.job.pipeline import DubOptions, dub

    sample = make_sample(out_dir)
    if on_sample is not None:
        on_sample(sample)
    out_dir = sample.video.parent
    options = DubOptions(
        output=out_dir / DUBBED_NAME,
        subtitles=sample.subtitles,
        changes={"flow_steps": flow_steps} if flow_steps is not None else {},
        model_dir=model_dir,
        device=device,
        report_path=out_dir / REPORT_NAME,
        work_dir=work_dir,
    )
    kwargs = {"progress": progress, "cancel": cancel}
    if engine_factory is not None:
        kwargs["engine_factory"] = engine_factory
    report = dub(sample.video, options, **kwargs)
    return DemoResult(sample, Path(report.output), options.report_path, report)
