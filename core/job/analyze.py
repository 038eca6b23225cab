"""The analyze stage's parts: the master split into dialogue and background, and each
line's speaker taken from the analysis (core/speakers/analysis.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.audio.original_audio import ExtractedAudio
from core.audio.separation import (
    SeparationNotInstalled,
    SeparationUnavailable,
    Stems,
    find_model,
    separate_master,
)
from core.disk_space import writing_to
from core.job.lines import LinePlan
from core.job.options import DubOptions
from core.job.project_keeper import ProjectKeeper
from core.lines.render import CancelToken
from core.models.engines import resolve_device
from core.notices import Notice
from core.settings import BackgroundMode
from core.speakers.analysis import SpeakerAnalysis
from models.registry import default_model_dir


@dataclass(frozen=True)
class Separation:
    """What the separation gave the mix: its background mode, the stems, and why."""

    background: BackgroundMode
    stems: Stems | None
    detail: str
    dialogue22k: np.ndarray | None = None  # the dialogue stem, for prompts and emotions


def separate(
    mode: BackgroundMode,
    extracted: ExtractedAudio | None,
    options: DubOptions,
    work: Path,
    tick: Callable[[int, int], None],
    cancel: CancelToken,
    warn: Callable[[Notice], None],
) -> Separation:
    """The dialogue and background stems of the master (core/audio/separation.py) when the
    background is `separate`, or `auto` with a separation model installed; cached in
    the work folder. Without a model, `separate` says so and the mix ducks."""
    wanted = mode in (BackgroundMode.AUTO, BackgroundMode.SEPARATE)
    if not wanted:
        return Separation(mode, None, f"not run (background {mode.value})")
    if extracted is None:
        return Separation(BackgroundMode.DUCK, None, "not run (the video has no audio)")
    try:
        model = find_model(options.model_dir or default_model_dir())
        with writing_to(work, "the separated stems"):
            stems = separate_master(
                extracted.master_path,
                model,
                work / "stems",
                device=resolve_device(options.device),
                layout=extracted.channel_layout,
                progress=tick,
                cancelled=lambda: cancel.cancelled,
            )
    except SeparationUnavailable as exc:
        # Not asked for (auto) and nothing installed: ducking is simply the default.
        if mode is BackgroundMode.SEPARATE or not isinstance(exc, SeparationNotInstalled):
            warn(
                Notice(
                    None,
                    "separation-off",
                    f"the original is ducked under the dub, not separated: {exc}",
                )
            )
        return Separation(BackgroundMode.DUCK, None, f"not run: {exc}")
    # Prompts, emotion references, speakers and word times: from the dialogue alone.
    dialogue22k = stems.load_dialogue_mono22k()
    detail = f"dialogue and background split by {stems.model}" + (
        " (stems from the cache)" if stems.cached else ""
    )
    warn(Notice(None, "separation", f"separation: {detail}"))
    return Separation(BackgroundMode.SEPARATE, stems, detail, dialogue22k)


def take_speakers(
    plans: list[LinePlan],
    keeper: ProjectKeeper | None,
    analysis: SpeakerAnalysis,
    warn: Callable[[Notice], None],
) -> None:
    """Each line's speaker from the analysis, except where the editor chose it; the
    analysis and its choices go into the project."""
    lines = {ln.index: keeper.line(ln.index) for ln in plans} if keeper else {}
    warn(Notice(None, "speakers", f"speakers: {analysis.detail}"))
    for plan in plans:
        line = lines.get(plan.index)
        if line is not None and line.speaker_source == "user":
            plan.speaker = line.speaker_id or plan.speaker
            continue
        plan.speaker = analysis.speakers[plan.index]
        flag = analysis.flags.get(plan.index)
        if flag:
            warn(Notice(plan.index, "speaker", flag))
        if line is not None:
            line.speaker_id = plan.speaker
            line.speaker_source = analysis.sources[plan.index]
            line.speaker_flag = flag
    if keeper:
        keeper.record_analysis(analysis.to_dict(), analysis.names)
