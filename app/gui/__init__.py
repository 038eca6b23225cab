"""`dubsmith-gui`: the editor's desk. One module per widget:

main_window     the window: opens, edits through the undo stack, runs jobs
lines_model     the lines table (model, filter, view)
line_panel      a line's emotion (mode, eight sliders, text, reference, strength)
inspector       the line inspector (emotion, presets, takes, Preview, Regenerate)
timeline        waveforms, line blocks by speaker, playhead, span edges
video_preview   QtMultimedia preview (original / dub / both, J/K/L, frame steps)
speakers_panel  speakers (prompt, rename, merge, line count, score)
export_dialog   the Export dialog
queue_panel     the batch queue
settings_dialog model folder check, device, precision, rendering, export defaults
shortcuts       the keyboard, and the help dialog listing it
palette         light and dark palettes
progress        the progress bar's figures and words (pure functions)
worker          the job worker thread, and the thread that opens a video (core/desk/opening.py)
window_menus    menus, shortcuts, Open recent, undo actions
window_open     opening a video; the table, timeline and filters it fills; the selection
window_layout   where the widgets sit
line_edits      line and speaker edits on the undo stack
render_control  renders: dub, preview, regenerate, progress, how they end
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

from app.gui.lines_model import COL_EMOTION, COL_RENDERED, COL_REQUESTED, COL_SPEAKER, COL_TEXT
from app.gui.main_window import MainWindow
from app.gui.progress import describe_left, overall_fraction, step_text, time_left_s

__all__ = [
    "COL_EMOTION",
    "COL_RENDERED",
    "COL_REQUESTED",
    "COL_SPEAKER",
    "COL_TEXT",
    "MainWindow",
    "describe_left",
    "main",
    "overall_fraction",
    "step_text",
    "time_left_s",
]


def _version() -> str:
    try:
        return metadata.version("dubsmith")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="dubsmith-gui",
        description="Open the Dubsmith desk, optionally with a video and its subtitles.",
    )
    ap.add_argument("video", type=Path, nargs="?", help="video to open")
    ap.add_argument(
        "subtitles", type=Path, nargs="?", help="its subtitles (default: found next to it)"
    )
    ap.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return ap


def load_native_libraries() -> None:
    """Load torch's compiler stack (and the LLVM inside triton) now, on the main thread,
    before the window draws. Seen under Xvfb with Mesa drawing the desk: the first dub's
    engine load in the job thread imported torch._dynamo -> triton, and the process died
    with a segmentation fault in the dlopen of triton's libtriton (2 of 2 runs); loaded
    before the window exists, the same dub ran to the end."""
    try:
        import torch._dynamo  # noqa: F401
    except ImportError:  # a torch without it loads nothing of the kind later either
        pass


def main(argv: list[str] | None = None) -> int:
    """`dubsmith-gui [video [subtitles]]`. argv without the program name (default:
    sys.argv[1:]). --help, --version and usage errors print and return before any window
    (usage errors: 2, as the CLI)."""
    try:
        args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse printed the help, the version or the usage error
        return exc.code if isinstance(exc.code, int) else 2
    from PySide6.QtWidgets import QApplication

    from app.gui.palette import apply_theme
    from models.quiet import quiet_transformers

    quiet_transformers()  # no library progress bars on the terminal that started the GUI
    load_native_libraries()
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "dubsmith-gui"])
    app.setApplicationName("Dubsmith")
    win = MainWindow()
    apply_theme(app, str(win.settings.value("theme", "light")))
    win.show()
    if args.video is not None:
        win.open_video(args.video, args.subtitles)
    return app.exec()
