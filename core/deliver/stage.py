"""The job's ``deliver`` stage: measure what the mix came to, and with ``--deliver DIR``
write the delivery (stems, take files, timelines, QC report) beside the muxed video.

It reads the job through the few attributes ``DeliveringJob`` names, so the pipeline
only calls it (core/job/pipeline.py stays the job's outline).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.audio.loudness_presets import LoudnessFigures, measure_file, preset_named
from core.audio.mixdown import MixSettings
from core.deliver.parts import ALL_PARTS, DeliverParts
from core.deliver.qc_report import LoudnessSummary, QcInput, write_qc_report
from core.deliver.spec import Delivery, DeliveryLine
from core.deliver.stems import write_stems
from core.deliver.takes import write_takes
from core.deliver.timeline import build_timeline, write_timelines
from models.units import MIX_RATE

DEFAULT_FPS = 25.0  # a delivery of a video without a frame rate (never seen, but possible)


class DeliveringJob(Protocol):
    video: Path
    options: Any  # core.job.options.DubOptions: output, loudness, deliver_dir, deliver_parts
    inputs: Any  # media.duration_s, media.fps
    extracted: Any  # master_path, channel_layout (None: a video without sound)
    lines: list  # LinePlan: index, speaker
    mix_path: Path | None
    file_mix: Any  # core.audio.mix_stream.FileMix: placements, gain_db, num_samples
    mix_clips: list  # core.audio.mixdown.Clip, line_id = the line's index
    mix_settings: MixSettings
    mix_bed: Path | None
    settings: Any  # max_error_rate
    cancel: Any  # core.lines.render.CancelToken: checked between blocks

    def _line_report(self, line: Any) -> Any: ...


def _delivery(job: DeliveringJob) -> Delivery:
    speaker = {ln.index: str(ln.speaker) for ln in job.lines}
    placed = {p.line_id: p for p in job.file_mix.placements}
    lines = [
        DeliveryLine(clip, placed[clip.line_id], speaker.get(clip.line_id, "speaker"))
        for clip in job.mix_clips
        if clip.line_id in placed
    ]
    fps = getattr(job.inputs.media, "fps", None) or DEFAULT_FPS
    ms = job.mix_settings
    return Delivery(
        name=Path(job.options.output).stem,
        video=Path(job.video),
        num_samples=job.file_mix.num_samples,
        fps=float(fps),
        lines=lines,
        mix_path=Path(job.mix_path),
        bed_path=job.mix_bed,
        background=ms.background,
        duck_db=ms.duck_db,
        ramp_ms=ms.ramp_ms,
        layout=job.extracted.channel_layout if job.extracted else None,
        gain_db=job.file_mix.gain_db,
        output=Path(job.options.output),
    )


def chosen_parts(options: Any) -> DeliverParts:
    """The parts a run delivers: every one unless its options chose some (options made
    before DubOptions had the field, e.g. by a caller that builds its own, deliver all)."""
    parts = getattr(options, "deliver_parts", None)
    return parts if isinstance(parts, DeliverParts) else ALL_PARTS


def deliver_stage(job: DeliveringJob, tick) -> dict:
    """The loudness the mix came to (always), and the delivery (with ``deliver_dir``): the
    parts ``options.deliver_parts`` chose (core/deliver/parts.py); returns what the report
    carries under "delivery"."""
    preset = preset_named(job.options.loudness)
    layout = job.extracted.channel_layout if job.extracted else None
    fm = job.file_mix  # the mix measured itself on its way to disk: no second pass
    figures = LoudnessFigures(fm.loudness_lufs, fm.range_lu, fm.true_peak_dbtp)
    ms = job.mix_settings
    target = ms.target_lufs if ms.normalize else None
    out: dict = {
        "loudness": {
            "preset": preset.name,
            "target_lufs": target,
            "dialogue_gated": preset.dialogue_gated,
            "true_peak_limit_dbtp": preset.true_peak_dbtp,
            **figures.to_json(),
        }
    }
    folder = job.options.deliver_dir
    if not folder:
        return out
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    parts = chosen_parts(job.options)
    delivery = _delivery(job)
    roles = parts.stem_roles(delivery.speakers())
    n_blocks = -(-delivery.num_samples // (10 * MIX_RATE)) if roles else 0
    done = 0

    def step() -> None:
        nonlocal done
        job.cancel.check()  # a film's stems take a while: a cancel leaves no half file
        done += 1
        tick(done, n_blocks + 3)

    stems = write_stems(delivery, folder, tick=step, roles=roles) if roles else {}
    takes = []
    timelines: dict[str, Path] = {}
    if parts.timelines:  # a timeline cuts the take files and lays the M&E stem under them
        takes = write_takes(delivery, folder / f"{delivery.name}.takes")
        timeline = build_timeline(delivery, takes, stems["music-effects"])
        timelines = write_timelines(timeline, folder, delivery.name, parts.timelines)
    step()
    files = {**{f"{k} stem": v for k, v in stems.items()}, **timelines}
    if delivery.output is not None:
        files["video"] = delivery.output
    loudness = LoudnessSummary(preset, target, figures, np.asarray(fm.short_term_lufs).tolist())
    step()
    if parts.qc_report:
        original = None  # the original's loudness is drawn beside the mix's
        if job.extracted is not None:
            original = measure_file(Path(job.extracted.master_path), layout)
        if original is not None:
            loudness = replace(
                loudness,
                original=original.figures,
                original_curve=original.short_term_lufs.tolist(),
            )
        qc = QcInput(
            name=delivery.name,
            duration_s=delivery.duration_s,
            lines=[asdict(job._line_report(ln)) for ln in job.lines if ln.timing is not None],
            loudness=loudness,
            max_error_rate=job.settings.max_error_rate,
            files=files,
        )
        files = {**files, "qc report": write_qc_report(qc, folder / f"{delivery.name}.qc.html")}
    step()
    out["loudness"]["passes"] = loudness.passes()
    out["folder"] = str(folder)
    out["parts"] = [p.value for p in parts.chosen]
    out["files"] = {k: str(v) for k, v in files.items()}
    out["takes"] = [
        {
            "line": t.line_id,
            "speaker": t.speaker,
            "file": str(t.path),
            "placed_at_48k": t.start_sample,
            "frame": t.frame,
            "lead_samples": t.lead_samples,
        }
        for t in takes
    ]
    return out
