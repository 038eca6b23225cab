"""`dubsmith dub`: one video."""

from __future__ import annotations

from app.cli.codes import EXIT_CANCELLED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from app.cli.ctrl_c import CtrlC
from app.cli.failures import report_failure
from app.cli.parser import dub_options
from app.cli.terminal import Bars, err, print_warnings


def cmd_dub(args, engine_factory=None) -> int:
    from dataclasses import replace

    from core.job.pipeline import dub
    from core.job.run_lock import claim_run
    from core.speakers.voices import VoiceError

    try:
        options = dub_options(args, args.output)
    except VoiceError as exc:
        err(str(exc))
        return EXIT_USAGE
    options = replace(
        options,
        subtitles=args.subs,
        stems_dir=args.stems,
        dub_wav=args.dub_wav,
        report_path=args.report,
    )
    bars = Bars(not args.no_progress)
    kwargs = {"progress": bars}
    if engine_factory is not None:
        kwargs["engine_factory"] = engine_factory

    def failed(exc: Exception) -> int:
        if guard.token.cancelled:  # Ctrl-C also reaches ffmpeg, which then fails
            err(f"cancelled; {args.output} was not written")
            return EXIT_CANCELLED
        return report_failure(exc)

    guard = CtrlC(
        bars,
        cancelled=f"cancelled; {args.output} was not written (rendered lines stay cached)",
        failed=failed,
    )
    with guard, claim_run(args.video, options, wait=args.wait, on_wait=err, cancel=guard.token):
        report = dub(args.video, options, cancel=guard.token, **kwargs)
    if guard.code is not None:
        return guard.code
    print_warnings(report.warnings, keep_all_hint=not args.report)
    n = len(report.lines)
    print(f"wrote {report.output} ({n} lines, {len(report.failed)} failed, {report.wall_s:.1f} s)")
    for line in engine_summary(report):
        print(line)
    return EXIT_PARTIAL if report.failed else EXIT_OK


def engine_summary(report) -> list[str]:
    """Which engine rendered how many lines, and for a fitted engine how the lines were
    landed in their spans (methods, the largest stretch, candidates rendered)."""
    from collections import Counter

    by_engine: dict[str, list] = {}
    for r in report.lines:
        if r.rendered_samples is not None and r.engine:
            by_engine.setdefault(r.engine, []).append(r)
    out = []
    for engine, lines in by_engine.items():
        text = f"rendered by {engine}: {len(lines)} line(s) at {lines[0].sample_rate} Hz"
        fitted = [r for r in lines if r.fit_method]
        if fitted:
            methods = Counter(r.fit_method for r in fitted)
            stretch = max(abs(r.fit_stretch or 0.0) for r in fitted)
            tried = sum(r.fit_candidates or 0 for r in fitted)
            text += (
                f"; fitted to their spans: {', '.join(f'{n} {m}' for m, n in methods.items())}"
                f", stretch at most {stretch:.1%}"
            )
            text += f", {tried} candidate(s) rendered" if tried else ""
            forced = [r for r in fitted if r.stop == "forced"]
            cuts = sum(r.suspected_cut for r in forced)
            text += f", {len(forced)} forced stop(s), {cuts} suspected cut(s)" if forced else ""
        out.append(text)
    return out
