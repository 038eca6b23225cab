"""`dubsmith demo`: a short two-speaker sample video, dubbed with the installed models."""

from __future__ import annotations

from app.cli.codes import EXIT_FAILED, EXIT_MODELS, EXIT_OK, EXIT_PARTIAL
from app.cli.ctrl_c import CtrlC
from app.cli.failures import report_failure
from app.cli.terminal import Bars, err


def cmd_demo(args, engine_factory=None) -> int:
    """Make the two-speaker sample in -o DIR and dub it with the installed models."""
    from core.job.demo import run_demo

    out_dir = args.output_dir.expanduser()

    def said(sample) -> None:
        print(f"sample video: {sample.video}")
        print(f"subtitles:    {sample.subtitles} (two speakers: Ada and Ben)")

    def failed(exc: Exception) -> int:
        from core.media.sample_media import SampleMediaError

        if isinstance(exc, SampleMediaError):
            err(str(exc))
            return EXIT_FAILED
        code = report_failure(exc)
        if code == EXIT_MODELS:
            err("fetch the models with: dubsmith models download")
        return code

    bars = Bars(not args.no_progress)
    guard = CtrlC(bars, cancelled="demo cancelled", failed=failed)
    with guard:
        result = run_demo(
            out_dir, args.model_dir, args.device, flow_steps=args.flow_steps,
            progress=bars, cancel=guard.token, work_dir=args.work_dir,
            engine_factory=engine_factory, on_sample=said,
        )  # fmt: skip
    if guard.code is not None:
        return guard.code
    report = result.report
    print(f"dubbed video: {result.dubbed} ({len(report.lines)} lines, {report.wall_s:.1f} s)")
    print(f"report:       {result.report_path}")
    return EXIT_PARTIAL if report.failed else EXIT_OK
