"""`dubsmith models`: list the model folder, download what is not there, verify it."""

from __future__ import annotations

import sys
from pathlib import Path

from app.cli.codes import EXIT_FAILED, EXIT_MODELS, EXIT_OK, EXIT_USAGE
from app.cli.ctrl_c import CtrlC
from app.cli.models_verify import report_verify
from app.cli.terminal import DownloadBars, err


def cmd_models(args) -> int:
    """`models [list]`, `models download [NAME...]`, `models verify [--quick]`."""
    from models.layout import default_model_dir

    model_dir = Path(args.model_dir or default_model_dir()).expanduser()
    command = getattr(args, "models_command", None) or "list"
    if command == "download":
        return _models_download(args, model_dir)
    if command == "verify":
        return _models_verify(model_dir, args.quick, args.allow_custom)
    return _models_list(model_dir)


_MODEL_STATES = {
    "installed": "installed",
    "missing": "missing",
    "absent": "not installed",
    "incomplete": "partly installed",  # never the word "complete": that means all is well
    "damaged": "damaged",
    "unavailable": "nothing to download yet",
}


def _gb(n: int) -> str:
    return f"about {n / 1e9:.1f} GB" if n >= 1e8 else f"about {n / 1e6:.0f} MB"


def _models_list(model_dir: Path) -> int:
    from core.models import installed as model_manager

    print(f"model folder: {model_dir}")
    statuses = model_manager.status(model_dir)
    for s in statuses:
        about = ["required" if s.required else f"optional, for {s.feature}"]
        if s.state in ("missing", "absent") and s.approx_bytes:
            about.append(_gb(s.approx_bytes))
        print(f"[{s.name}] {s.title}: {_MODEL_STATES[s.state]} ({'; '.join(about)})")
        if not s.ok:
            print(f"  fetch with: {s.fetch}")
        elif s.state == "absent":
            print(f"  to add it: {s.fetch}")
        elif s.state == "unavailable" and s.note:
            print(f"  {s.note}")
        for f in s.files:
            shown = f.path + ("/" if f.folder else "")
            if f.state == "ok":
                print(f"  ok      {shown}  ({f.location})")
            elif not s.in_use:
                print(f"  absent  {shown}  ({f.location})")
            elif f.state == "missing":
                print(f"  MISSING {shown}  ({f.location})")
            else:
                print(f"  DAMAGED {shown}  ({f.location}): {f.detail}")
    broken = [s for s in statuses if s.in_use and not s.ok]
    if not broken:
        extra = [s.name for s in statuses if s.state == "absent"]
        print("complete" + (f" (optional, not installed: {', '.join(extra)})" if extra else ""))
        return EXIT_OK
    names = " ".join(s.name for s in broken)
    fetch = f"dubsmith models download {names} --model-dir {model_dir}"
    script = f".venv/bin/python installer/download_models.py {names} --model-dir {model_dir}"
    if any(f.state == "damaged" for s in broken for f in s.files):
        print(
            f"Delete the damaged files, or let the downloader replace them:\n  {fetch}\n"
            f"(from the Dubsmith folder: {script})"
        )
    else:
        print(
            f"Fetch what is missing with:\n  {fetch}\n(from the Dubsmith folder: {script})\n"
            "or point Dubsmith at an existing IndexTTS-2 checkpoints folder with --model-dir "
            "(or the DUBSMITH_MODEL_DIR environment variable)."
        )
    return EXIT_MODELS


def _models_verify(model_dir: Path, quick: bool, allow_custom: bool) -> int:
    return EXIT_OK if report_verify(model_dir, quick, allow_custom) else EXIT_MODELS


def _models_download(args, model_dir: Path) -> int:
    """Download, then a quick verify of what was asked for. 0 done, 1 failed (run again
    to resume), 2 unknown name or no token for a gated model, 4 something required still
    missing or damaged, 130 cancelled."""
    import getpass
    import os

    from core.models import download as model_download
    from core.models import installed as model_manager

    names = args.names or None
    try:
        wanted = model_manager.resolve(names)
    except KeyError as exc:
        err(f"models download: {exc.args[0]}")
        return EXIT_USAGE
    token = args.token or os.environ.get("HF_TOKEN") or None
    bars = DownloadBars(not args.no_progress)

    def failed(exc: Exception) -> int | None:
        if isinstance(exc, model_download.TokenRequired):
            err(f"models download: {exc}")
            return EXIT_USAGE
        if isinstance(exc, model_download.DownloadError | OSError):
            err(f"download failed: {exc}")
            return EXIT_FAILED
        return None  # not a download's failure: let it through

    guard = CtrlC(
        bars,
        cancelled="download cancelled; run the same command again to continue where it stopped",
        failed=failed,
        cancel_errors=(model_download.DownloadCancelled,),
    )
    with guard:
        try:
            written = model_download.download(
                names, model_dir, progress=bars, cancelled=lambda: guard.token.cancelled,
                token=token, endpoint=args.endpoint, force=args.force, log=print,
            )  # fmt: skip
        except model_download.TokenRequired as exc:
            if token or not sys.stdin.isatty():
                raise
            print(exc)
            token = getpass.getpass("Hugging Face token (input hidden): ").strip() or None
            if not token:
                raise
            written = model_download.download(
                names, model_dir, progress=bars, cancelled=lambda: guard.token.cancelled,
                token=token, endpoint=args.endpoint, force=args.force, log=print,
            )  # fmt: skip
    if guard.code is not None:
        return guard.code
    print(f"{len(written)} file(s) written to {model_dir}")
    for m in wanted:
        if not m.downloadable:
            print(f"{m.name}: nothing to download yet ({m.note})")
    chosen = {m.name for m in wanted if m.downloadable}
    problems = [p for p in model_manager.verify(model_dir, quick=True) if p.model in chosen]
    for p in problems:
        print(f"  {p.kind.upper():8s} {p.path}: {p.detail}")
    if any(p.required for p in problems):
        return EXIT_MODELS
    states = {s.name: s for s in model_manager.status(model_dir)}
    left = sorted(n for n in chosen if states[n].state != "installed")
    if left:
        print(f"not installed: {', '.join(left)}")
        return EXIT_MODELS if any(states[n].required for n in left) else EXIT_OK
    print(f"installed and checked: {', '.join(sorted(chosen))}")
    return EXIT_OK
