"""Opening a video for editing, Qt-free: its inputs, its subtitles' cues and speakers, its
project file merged with them, the lines' timing plan and the waveforms the timeline draws.
The desk runs this off its GUI thread; the tests and the CLI reach it without a window."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from core import project as proj
from core.audio.samples import read_any_audio
from core.desk import status as desk
from core.job.pipeline import Inputs, read_inputs
from core.job.project_keeper import project_file_for
from core.lines.timing import Timing, plan_lines
from core.project.line_matching import CueMerge, merge_cues
from core.speakers.voices import assign_speakers, speaker_names
from core.subtitles.read import Cue

PEAKS_PER_S = 100  # waveform peaks per second of audio (the timeline draws at this rate)


@dataclass
class Opened:
    """Everything the window shows of a video, computed off the GUI thread."""

    inputs: Inputs
    cues: list[Cue]  # usable cues, playback order
    speakers: dict[int, str]  # cue number -> speaker id
    names: dict[str, str]  # speaker id -> name
    timings: list[Timing]  # per cue, same order
    project: proj.Project
    merge: CueMerge
    project_error: str | None = None  # the project file was unreadable: started fresh

    def replan(self) -> None:
        """The cues changed (retimed, reworded, split, merged): their timing follows."""
        end_ms = round(self.inputs.media.duration_s * 1000)
        self.timings = plan_lines(self.cues, video_end_ms=end_ms)


def sync_project(project: proj.Project, opened: Opened) -> CueMerge:
    """The project's lines as the subtitles have them (a line the subtitles lost is kept
    detached while it has editor settings), and where its video and subtitles are."""
    merge = merge_cues(project, opened.cues, opened.speakers, opened.names)
    if project.video_path is None:
        project.video_path = opened.inputs.video.resolve()
    project.subtitle_path = opened.inputs.subtitles.path.resolve()
    return merge


def read_for_editing(video: Path, subtitles: Path | None) -> Opened:
    """Read the video, its subtitles and its project file, and plan the lines' timing: the
    slow part of opening (seconds for 10,000 cues). Raises InputError (NewerProjectError
    for a project file a newer Dubsmith wrote: the desk must not start it afresh)."""
    project, error = proj.Project(), None
    path = project_file_for(Path(video))
    if path.exists():
        try:
            project = proj.load_project(path)
        except proj.NewerProjectError:  # a newer Dubsmith's file: neither read nor replaced
            raise
        except proj.ProjectError as exc:  # the unreadable file was kept as a backup copy
            error = str(exc)
    edited = desk.edited_subtitles(project)
    if subtitles is None:  # the editor's retimed/reworded lines, when the desk made some
        subtitles = edited
    elif edited is None or Path(subtitles).resolve() != edited.resolve():
        project.extra.pop(desk.EDITED_SUBTITLES, None)  # subtitles chosen anew win
    inputs = read_inputs(video, subtitles)
    cues = inputs.subtitles.usable_cues()
    opened = Opened(
        inputs=inputs,
        cues=cues,
        speakers=assign_speakers(cues),
        names=speaker_names(cues),
        timings=[],
        project=project,
        merge=CueMerge({}),
        project_error=error,
    )
    opened.replan()
    opened.merge = sync_project(project, opened)
    desk.adopt_takes(project.lines)  # takes rendered by the CLI count as current
    return opened


def read_and_lay_out(
    video: Path, subtitles: Path | None
) -> tuple[Opened, np.ndarray, dict[int, np.ndarray]]:
    """The whole slow part of an open, for the reading thread: the files, the original's
    waveform, and the waveform of every cached take (the dub lane of the timeline)."""
    opened = read_for_editing(video, subtitles)
    original = np.zeros(0, np.float32)
    if opened.inputs.media.has_audio:
        try:
            audio, rate = read_any_audio(opened.inputs.video, rate=8000)
            original = desk.peaks(audio, rate, PEAKS_PER_S)
            original = original / max(1e-6, float(original.max(initial=0.0)))
        except Exception:  # noqa: BLE001 - a waveform is a nicety: the open goes on without
            pass
    dub: dict[int, np.ndarray] = {}
    for index, line in opened.merge.lines.items():
        take = desk.usable_take(line)
        if take is not None:
            try:
                audio, rate = sf.read(take.cache_path, dtype="float32")
                dub[index] = desk.peaks(audio, rate, PEAKS_PER_S)
            except Exception:  # noqa: BLE001 - a damaged take is re-rendered later
                pass
    return opened, original, dub
