"""python -m models.parity DIR [--stages a,b,...]: compare our stages with a fixture set."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from models.parity import STAGES, Check, run_stage, stages_for
from models.quiet import quiet_transformers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.parity", description=__doc__)
    ap.add_argument("dir", type=Path, help="fixture directory laid out like shared/reference")
    ap.add_argument(
        "--stages",
        default=None,
        help=f"comma-separated stage names (default all: {','.join(STAGES)})",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 = as the fixtures)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every check")
    args = ap.parse_args(argv)
    quiet_transformers()
    if not args.dir.is_dir():
        print(f"error: {args.dir} is not a directory", file=sys.stderr)
        return 2
    known = stages_for(args.dir)  # the 2.0 or the 2.5 set, from its layout
    stages = [s.strip() for s in (args.stages or ",".join(known)).split(",") if s.strip()]
    unknown = [s for s in stages if s not in known]
    if unknown:
        print(f"error: unknown stage(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return 2
    all_ok = True
    for stage in stages:
        try:
            checks = run_stage(args.dir, stage, args.threads)
        except Exception as exc:  # a stage that crashes fails, the others still run
            traceback.print_exc()
            checks = [Check(stage, "run", float("inf"), 0.0, False, f"{type(exc).__name__}: {exc}")]
        stage_ok = bool(checks) and all(c.passed for c in checks)
        all_ok &= stage_ok
        worst = max((c.max_abs_diff for c in checks), default=float("inf"))
        print(
            f"[{'PASS' if stage_ok else 'FAIL'}] {stage:9s} max|diff| {worst:.3g} ({len(checks)} checks)"
        )
        for c in checks:
            if not c.passed or args.verbose:
                print(
                    f"    {'ok ' if c.passed else 'BAD'} {c.name}: {c.max_abs_diff:.3g} (tol {c.tolerance:g}) {c.detail}"
                )
    print("all stages pass" if all_ok else "some stages FAIL")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
