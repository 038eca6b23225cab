"""Many dubs in one run: the engine loaded once, a failed job reported while the rest go on,
`resume` skipping what is finished.

A job is a function of its spec and the model folder (`run_job`), with no hidden process
state, so a catalogue too big for one machine can later be spread over several.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.batch.settings import check_job_settings
from core.batch.state import BatchState, job_fingerprint, outputs_written_in, run_fingerprint
from core.deliver.dub_report import DubReport
from core.errors import InputError
from core.job.options import DubOptions
from core.job.pipeline import JobEvents, dub
from core.job.run_lock import RunLocked, claim_run
from core.lines.render import Cancelled, CancelToken
from core.models.engines import EngineCache, EngineFactory, default_engine_factory
from core.project import atomic_write_bytes
from core.subtitles.read import find_subtitles_for

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".m4v", ".webm", ".avi")


@dataclass
class JobSpec:
    video: Path
    output: Path
    subtitles: Path | None = None
    changes: dict[str, Any] = field(default_factory=dict)  # per-job settings
    voices: dict[str, Path] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.video.name


@dataclass
class JobResult:
    spec: JobSpec
    # "done", "partial" (written, some lines silent), "failed", "skipped" (finished before;
    # with an `error`: another run held it), "cancelled"
    status: str
    report: DubReport | None = None
    error: str | None = None
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        report = self.report.to_json() if self.report else None
        return {
            "video": str(self.spec.video),
            "subtitles": str(self.spec.subtitles) if self.spec.subtitles else None,
            "output": str(self.spec.output),
            "status": self.status,
            "error": self.error,
            "wall_s": round(self.wall_s, 3),
            "lines": report["totals"]["lines"] if report else None,
            "audio_s": report["totals"]["audio_s"] if report else None,
            "failed_lines": report["totals"]["failed"] if report else None,
            "report": report,
        }


# --- the job list ------------------------------------------------------------------------------


def _output_for(video: Path, outdir: Path) -> Path:
    suffix = video.suffix.lower() if video.suffix.lower() in (".mp4", ".mkv") else ".mp4"
    return outdir / f"{video.stem}.dubbed{suffix}"


def _path(value: Any, base: Path, what: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"a job's {what} must be a file path, got {value!r}")
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _spec_from(
    entry: dict[str, Any], base: Path, outdir: Path, where: str, label: str = "setting"
) -> JobSpec:
    if not isinstance(entry, dict) or "video" not in entry:
        raise InputError(f"{where}: each job needs at least a 'video'")
    video = _path(entry["video"], base, "video")
    subs = entry.get("subtitles") or None
    out = entry.get("output") or None
    settings = entry.get("settings") or {}
    if not isinstance(settings, dict):
        raise InputError(f"{where}: 'settings' must be an object of dub settings")
    check_job_settings(settings, where, label)
    voices = entry.get("voices") or {}
    if not isinstance(voices, dict):
        raise InputError(f"{where}: 'voices' must map speaker names to sample files")
    return JobSpec(
        video=video,
        # A named output is a path like the others, from the list's folder (README);
        # only the default name goes to the output folder.
        output=_path(out, base, "output") if out else _output_for(video, outdir),
        subtitles=_path(subs, base, "subtitles") if subs else None,
        changes=dict(settings),
        voices={str(k): _path(v, base, "voice file") for k, v in voices.items()},
    )


# CSV columns that are not settings; every other non-empty column is one (e.g. duck_db).
_CSV_FIELDS = {"video", "subtitles", "output"}


def _csv_value(text: str) -> Any:
    """Settings in a CSV are text: read numbers and booleans back as such."""
    low = text.strip().lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def _own_outputs(videos: list[Path], folder: Path) -> set[Path]:
    """Files in a folder that a dub of this tool wrote there: those a batch recorded, and
    NAME.dubbed.mp4 beside NAME's video (the name a batch gives it, written before any
    record was kept or by `dub -o`)."""
    named = {_output_for(v, folder).resolve() for v in videos}
    return (named | outputs_written_in(folder)) & {v.resolve() for v in videos}


def find_jobs(source: Path, outdir: Path, skipped: list[Path] | None = None) -> list[JobSpec]:
    """The jobs of a folder (every video in it, its subtitles beside it) or of a JSON list
    (`[{"video": ..., "subtitles": ..., "output": ..., "settings": {...}}]`) or a CSV with
    the columns video, subtitles, output and any dub settings. Relative paths are taken
    from the list's own folder. A folder's videos that are dubs this tool wrote there
    (`batch vids -o vids` run twice) are not dubbed again: they go to `skipped`."""
    source, outdir = Path(source), Path(outdir)
    if source.is_dir():
        found = sorted(
            p for p in source.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
        )
        own = _own_outputs(found, source)
        videos = [v for v in found if v.resolve() not in own]
        if skipped is not None:
            skipped.extend(v for v in found if v.resolve() in own)
        if not videos:
            dubs = f" (only dubs written by Dubsmith: {len(own)})" if own else ""
            raise InputError(f"no videos in {source} ({', '.join(VIDEO_EXTENSIONS)}){dubs}")
        return [JobSpec(v, _output_for(v, outdir), find_subtitles_for(v)) for v in videos]
    if not source.is_file():
        raise InputError(f"job list not found: {source}")
    base = source.parent
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the job list {source}: {exc}") from exc
    if source.suffix.lower() == ".json":
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{source.name} is not valid JSON (line {exc.lineno}, column {exc.colno})"
            ) from None
        if isinstance(entries, dict):
            entries = entries.get("jobs")
        if not isinstance(entries, list) or not entries:
            raise InputError(f"{source.name} holds no jobs: expected a list of objects")
        return [
            _spec_from(e, base, outdir, f"{source.name}, job {n}")
            for n, e in enumerate(entries, start=1)
        ]
    if source.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if not rows or "video" not in (rows[0].keys()):
            raise InputError(f"{source.name} needs a header row with a 'video' column")
        specs = []
        for n, row in enumerate(rows, start=2):
            entry: dict[str, Any] = {k: (row.get(k) or None) for k in _CSV_FIELDS}
            entry["settings"] = {
                k: _csv_value(v)
                for k, v in row.items()
                if k and k not in _CSV_FIELDS and v not in (None, "")
            }
            where = f"{source.name}, row {n}"
            specs.append(_spec_from(entry, base, outdir, where, label="column"))
        return specs
    raise InputError(f"{source.name}: a job list is a folder, a .json or a .csv file")


# --- running -----------------------------------------------------------------------------------


class BatchEvents(JobEvents):
    """A job's events, plus where the batch stands."""

    def job_started(self, number: int, total: int, spec: JobSpec) -> None:
        pass

    def job_finished(self, number: int, total: int, result: JobResult) -> None:
        pass


def run_job(
    spec: JobSpec,
    template: DubOptions,
    *,
    engine_factory: EngineFactory = default_engine_factory,
    events: JobEvents | None = None,
    cancel: CancelToken | None = None,
) -> DubReport:
    """One job: the template's options (model folder, device, dub settings given for the
    whole batch) with the job's own inputs, output and settings on top. The job holds the
    run lock of its project and outputs, as `dub` does (core/job/run_lock.py): RunLocked at
    once when another run (a second batch over the same folder) dubs that video now."""
    if spec.subtitles is None and spec.video.is_file() and find_subtitles_for(spec.video) is None:
        # The dub's own advice ("pass the subtitle file after the video") is for `dub`.
        raise InputError(
            f"no subtitles found next to {spec.video.name} (looked for {spec.video.stem}.srt, "
            f".ass, .vtt, ...); put them beside the video, or name them in a job list's "
            f"'subtitles'"
        )
    options = replace(
        template,
        output=spec.output,
        subtitles=spec.subtitles,
        changes={**template.changes, **spec.changes},
        voices={**template.voices, **spec.voices},
        report_path=None,
        work_dir=None if template.work_dir is None else Path(template.work_dir) / spec.video.stem,
    )
    with claim_run(spec.video, options, cancel=cancel):
        return dub(spec.video, options, engine_factory=engine_factory, events=events, cancel=cancel)


def run_batch(
    specs: list[JobSpec],
    template: DubOptions,
    *,
    engine_factory: EngineFactory = default_engine_factory,
    events: BatchEvents | None = None,
    cancel: CancelToken | None = None,
    resume: bool = False,
    state: BatchState | None = None,
) -> Iterator[JobResult]:
    """Run the jobs in turn, yielding each result. A failed job is reported and the batch
    goes on; a cancel yields the cancelled job and stops. Model files missing stop the
    batch too (every job would fail the same way)."""
    from models.contract import ModelFilesMissing

    events = events or BatchEvents()
    cancel = cancel or CancelToken()
    factory = EngineCache(engine_factory)  # loaded once for all jobs
    shared = run_fingerprint(template, engine_factory) if state is not None else {}
    seen: set[Path] = set()
    for number, spec in enumerate(specs, start=1):
        if spec.output.resolve() in seen:
            result = JobResult(spec, "failed", error=f"another job already writes {spec.output}")
            events.job_finished(number, len(specs), result)
            yield result
            continue
        seen.add(spec.output.resolve())
        fingerprint = job_fingerprint(spec, template, shared) if state is not None else ""
        if resume and state is not None and state.is_finished(spec, fingerprint):
            result = JobResult(spec, "skipped")
            events.job_finished(number, len(specs), result)
            yield result
            continue
        events.job_started(number, len(specs), spec)
        t0 = time.perf_counter()
        try:
            report = run_job(spec, template, engine_factory=factory, events=events, cancel=cancel)
        except Cancelled:
            result = JobResult(spec, "cancelled", wall_s=time.perf_counter() - t0)
            events.job_finished(number, len(specs), result)
            yield result
            return
        except ModelFilesMissing:
            raise
        except RunLocked as exc:  # another run dubs it now: the batch goes on with the rest
            who = f"another Dubsmith run (pid {exc.pid})" if exc.pid else "another Dubsmith run"
            error = f"{who} is dubbing it now (--resume later picks it up if that run fails)"
            result = JobResult(spec, "skipped", error=error, wall_s=time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - one bad video must not stop the others
            if cancel.cancelled:
                result = JobResult(spec, "cancelled", wall_s=time.perf_counter() - t0)
                events.job_finished(number, len(specs), result)
                yield result
                return
            message = str(exc) or type(exc).__name__
            result = JobResult(spec, "failed", error=message, wall_s=time.perf_counter() - t0)
        else:
            # Silent lines: the video is written but not finished; resume renders them.
            status = "partial" if report.failed else "done"
            result = JobResult(spec, status, report=report, wall_s=time.perf_counter() - t0)
            if state is not None and status == "done":
                state.mark_finished(spec, fingerprint)
            elif state is not None:
                state.mark_unfinished(spec)
        events.job_finished(number, len(specs), result)
        yield result


def summary_rows(results: list[JobResult]) -> list[tuple[str, str, str, str, str]]:
    """(job, lines, audio s, wall s, output or error) for a table at the end."""
    rows = []
    for r in results:
        data = r.to_json()
        lines = "" if data["lines"] is None else str(data["lines"])
        audio = "" if data["audio_s"] is None else f"{data['audio_s']:.1f}"
        finished = r.status == "done" or (r.status == "skipped" and not r.error)
        outcome = str(r.spec.output) if finished else (r.error or r.status)
        if r.status == "partial":
            outcome = f"{r.spec.output} ({data['failed_lines']} line(s) silent)"
        rows.append((r.spec.name, lines, audio, f"{r.wall_s:.1f}", f"{r.status}: {outcome}"))
    return rows


def write_batch_report(results: list[JobResult], path: Path) -> Path:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    data = {"jobs": [r.to_json() for r in results], "totals": {"jobs": len(results), **counts}}
    atomic_write_bytes(Path(path), json.dumps(data, indent=2, ensure_ascii=False).encode())
    return Path(path)
