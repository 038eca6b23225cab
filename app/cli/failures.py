"""A failed command as one line and an exit code, never a traceback."""

from __future__ import annotations

from app.cli.codes import (
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_MODELS,
    EXIT_USAGE,
)
from app.cli.parser import SETTING_FLAGS
from app.cli.terminal import err

FIELD_FLAGS = {
    "output": "-o",
    "dub_wav": "--dub-wav",
    "report_path": "--report",
    "stems_dir": "--stems",
    "deliver_dir": "--deliver",
    "deliver_parts": "--deliver-parts",
}


def exit_code(exc: BaseException) -> tuple[int, str]:
    """Known failures map to exit codes; anything else (MediaError, ExportError, OSError
    such as a full disk) is still one clear line, never a traceback."""
    from core.errors import EngineUnavailable, InputError, OptionError
    from core.job.output_guard import OutputError
    from core.job.run_lock import RunLocked
    from core.media.probe import MediaError
    from core.speakers.voices import VoiceError
    from models.contract import ModelFilesMissing

    exit_codes = (
        (OptionError, EXIT_USAGE),
        (OutputError, EXIT_USAGE),  # an output-side mistake is the command line's
        (InputError, EXIT_INPUT),
        (VoiceError, EXIT_INPUT),
        (ModelFilesMissing, EXIT_MODELS),
        (EngineUnavailable, EXIT_MODELS),
    )
    code = next((c for kind, c in exit_codes if isinstance(exc, kind)), EXIT_FAILED)
    # core/ names settings and fields; the terminal user knows them by their flags.
    flag = {key: flag for flag, key in SETTING_FLAGS.items()}.get(getattr(exc, "setting", None))
    if isinstance(exc, OptionError) and flag:
        return code, f"--{flag.replace('_', '-')}: {exc}"
    if isinstance(exc, InputError) and exc.field in FIELD_FLAGS:
        return code, f"{FIELD_FLAGS[exc.field]}: {exc}"
    if isinstance(exc, VoiceError) and exc.speakers:
        flags = " ".join(f"--voice '{s}=sample.wav'" for s in exc.speakers)
        return code, f"{exc} ({flags})"
    # Our own errors carry a message written for the editor; others get their type.
    expected = code != EXIT_FAILED or isinstance(exc, MediaError | OSError | RunLocked)
    return code, (str(exc) if expected else f"{type(exc).__name__}: {exc}")


def report_failure(exc: Exception) -> int:
    """Say what failed on stderr; the exit code."""
    code, message = exit_code(exc)
    err(message)
    return code
