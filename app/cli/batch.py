"""`dubsmith batch`: a folder of videos or a job list, one after another."""

from __future__ import annotations

import sys
from pathlib import Path

from app.cli.codes import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
)
from app.cli.ctrl_c import CtrlC
from app.cli.parser import dub_options
from app.cli.terminal import Bars, err, print_warnings


def cmd_batch(args, engine_factory=None) -> int:
    from core.batch.run import (
        BatchEvents,
        BatchState,
        find_jobs,
        run_batch,
        summary_rows,
        write_batch_report,
    )
    from core.errors import InputError
    from core.speakers.voices import VoiceError

    outdir: Path = args.outdir
    if outdir.exists() and not outdir.is_dir():
        err(f"-o {outdir} is a file; batch writes into a folder")
        return EXIT_USAGE
    own_dubs: list[Path] = []
    try:
        template = dub_options(args, outdir / "placeholder.mp4")
        specs = find_jobs(args.jobs, outdir, skipped=own_dubs)
    except VoiceError as exc:
        err(str(exc))
        return EXIT_USAGE
    except InputError as exc:
        err(str(exc))
        return EXIT_INPUT
    for path in own_dubs:
        print(f"{path.name}: a dub written by Dubsmith, not dubbed again", file=sys.stderr)
    outdir.mkdir(parents=True, exist_ok=True)
    bars = Bars(not args.no_progress)

    class Events(BatchEvents):
        def job_started(self, number, total, spec):
            bars.close()
            print(f"[{number}/{total}] {spec.name} -> {spec.output}", file=sys.stderr)

        def job_finished(self, number, total, result):
            bars.close()
            if result.status == "failed":
                err(f"[{number}/{total}] {result.spec.name} failed: {result.error}")
            elif result.status == "skipped":
                why = f"skipped, {result.error}" if result.error else "finished before, skipped"
                print(f"[{number}/{total}] {result.spec.name}: {why}", file=sys.stderr)
            elif result.report is not None:
                print_warnings(result.report.warnings, keep_all_hint=False)
            if result.status == "partial":
                err(f"[{number}/{total}] {result.spec.name}: {len(result.report.failed)} "
                    "line(s) could not be rendered (silent); --resume renders them")  # fmt: skip

        def stage(self, name, done, total):
            bars(name, done, total)

    kwargs = {} if engine_factory is None else {"engine_factory": engine_factory}
    results = []
    # A cancel says nothing here: the summary below ends with "(cancelled)". A failure
    # here (model files missing) is one every job would meet alike.
    guard = CtrlC(bars, cancelled=None)
    with guard:
        for result in run_batch(
            specs,
            template,
            events=Events(),
            cancel=guard.token,
            resume=args.resume,
            state=BatchState(outdir),
            **kwargs,
        ):
            results.append(result)
    code = EXIT_OK if guard.code is None else guard.code
    if any(r.status == "cancelled" for r in results):
        code = EXIT_CANCELLED
    elif code == EXIT_OK and any(r.status == "failed" for r in results):
        code = EXIT_FAILED
    elif code == EXIT_OK and any(r.status == "partial" for r in results):
        code = EXIT_PARTIAL
    rows = [("job", "lines", "audio s", "wall s", "result")] + summary_rows(results)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
    if args.report:
        write_batch_report(results, args.report)
    done = sum(r.status == "done" or (r.status == "skipped" and not r.error) for r in results)
    print(
        f"{done} of {len(specs)} jobs finished" + (" (cancelled)" if code == EXIT_CANCELLED else "")
    )
    return code
