"""`dubsmith analyze`: speakers and prompts into the project file, and a table of what
was found."""

from __future__ import annotations

from app.cli.codes import EXIT_OK, EXIT_USAGE
from app.cli.ctrl_c import CtrlC
from app.cli.parser import dub_options
from app.cli.terminal import INFO_KINDS, Bars, err, print_warnings


def cmd_analyze(args) -> int:
    """Speakers and prompts into the project file, and a table of what was found."""
    from dataclasses import replace

    from core.job.pipeline import DubJob, ProgressEvents
    from core.job.run_lock import claim_run
    from core.speakers.voices import VoiceError

    try:
        options = replace(dub_options(args, args.video), subtitles=args.subs)
    except VoiceError as exc:
        err(str(exc))
        return EXIT_USAGE
    bars = Bars(not args.no_progress)
    # The job saved what it had when cancelled: say what.
    guard = CtrlC(bars, cancelled=lambda: cancelled_message(job))
    job = DubJob(args.video, options, events=ProgressEvents(bars), cancel=guard.token)
    with guard, claim_run(args.video, options, analysis_only=True):
        prompts = job.analyze()
    if guard.code is not None:
        return guard.code
    print_warnings([w for w in job.warnings if w.kind not in INFO_KINDS], keep_all_hint=False)
    project = job.keeper.project
    print((project.analysis or {}).get("detail", "speakers from the subtitles"))
    print(f"separation: {job.separation_detail}")
    rows = [("speaker", "name", "lines", "speech s", "prompt s", "score")]
    for sid, prompt in sorted(prompts.items()):
        own = [ln for ln in job.lines if ln.speaker == sid]
        speaker = project.speaker(sid)
        rows.append(
            (
                sid,
                speaker.name if speaker else sid,
                str(len(own)),
                f"{sum(ln.cue.duration_ms for ln in own) / 1000:.1f}",
                f"{prompt.duration_s:.1f}",
                "file" if prompt.score is None else f"{prompt.score:.2f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(f"wrote {job.keeper.path}")
    return EXIT_OK


def cancelled_message(job) -> str:
    """What a cancelled analyze kept, in one line for the terminal: whether the project
    file was written, and with what. The job saves the project on cancel as on success
    (DubJob.analyze): what is in it depends on how far it got."""
    keeper = getattr(job, "keeper", None)
    if keeper is None or not keeper.started:
        return "cancelled before anything was saved; the project file is as it was"
    project = keeper.project
    kept = [f"{len(project.lines)} lines with their speakers"]
    analysis = project.analysis or {}
    if analysis:
        kept.append(f"who speaks ({analysis.get('method', 'found')})")
    prompts = sum(1 for s in project.speakers if s.prompt_parts)
    left = (
        f"voice prompts chosen for {prompts} of {len(project.speakers)} speakers"
        if prompts
        else "no voice prompts chosen yet"
    )
    return (
        f"cancelled; saved {keeper.path}: {', '.join(kept)}; {left} (run analyze again to finish)"
    )
