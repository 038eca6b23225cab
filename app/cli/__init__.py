"""`dubsmith` command line: dub a video, or inspect what Dubsmith reads from one.

Exit codes (also in README.md):
  0 success; 1 the job failed (batch: some job failed); 2 bad command line; 3 input
  unreadable (video or subtitles); 4 model files missing; 5 some lines could not be
  rendered (the dub was written, those lines are silent); 130 cancelled (Ctrl-C).

The package: `parser` (the flags), `terminal` (bars, notices, stdout's reader leaving),
`ctrl_c` (the one Ctrl-C wrapper), `failures` (exception -> exit code), one module per
command (`dub`, `batch`, `analyze`, `inspect`, `models`, `demo`) and `cluster` (--cluster).
"""

from __future__ import annotations

from app.cli.analyze import cmd_analyze
from app.cli.batch import cmd_batch
from app.cli.cluster import run_on_cluster
from app.cli.codes import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_MODELS,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
)
from app.cli.demo import cmd_demo
from app.cli.dub import cmd_dub
from app.cli.inspect import cmd_inspect
from app.cli.models import cmd_models
from app.cli.parser import SETTING_FLAGS, setting_changes
from app.cli.parser import build_parser as _parser
from app.cli.terminal import INFO_KINDS, until_reader_leaves
from models.quiet import quiet_transformers

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_INPUT",
    "EXIT_MODELS",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "INFO_KINDS",
    "SETTING_FLAGS",
    "_parser",
    "main",
    "setting_changes",
]


def main(argv: list[str] | None = None, *, engine_factory=None) -> int:
    """Entry point. `engine_factory` lets tests substitute the engine (never the product)."""
    quiet_transformers()
    ap = _parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_USAGE
    return until_reader_leaves(lambda: _run(args, engine_factory))


def _run(args, engine_factory) -> int:
    if getattr(args, "cluster", None) and engine_factory is None:  # --cluster: Ray workers
        return run_on_cluster(args, lambda factory: _run(args, factory))
    if args.command == "dub":
        return cmd_dub(args, engine_factory)
    if args.command == "analyze":
        return cmd_analyze(args)
    if args.command == "batch":
        return cmd_batch(args, engine_factory)
    if args.command == "models":
        return cmd_models(args)
    if args.command == "demo":
        return cmd_demo(args, engine_factory)
    return cmd_inspect(args)
