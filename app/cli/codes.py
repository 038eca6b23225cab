"""The command line's exit codes (also in README.md and in `dubsmith --help`)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_MODELS = 4
EXIT_PARTIAL = 5
EXIT_CANCELLED = 130
