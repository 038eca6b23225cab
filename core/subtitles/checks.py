"""Checks on read cues: which ones can be dubbed, and a warning for every oddity.

Nothing is dropped silently: a cue that is empty after cleaning, or of zero or negative
length, stays in the document marked unusable, with a warning naming it (and its line,
where the format has one) so that the editor can find and fix it.
"""

from __future__ import annotations

from core.subtitles.cue_types import Cue, SubtitleWarning
from core.subtitles.timing import fmt_ms

__all__ = ["check_cues"]


def check_cues(cues: list[Cue], video_duration_ms: int | None) -> list[SubtitleWarning]:
    """Mark each cue usable or not and return the warnings, file-wide ones first, then by cue.

    video_duration_ms, when known, enables the past-end check."""
    warnings: list[SubtitleWarning] = []
    for cue in cues:
        warnings += _cue_warnings(cue)
        cue.usable = bool(cue.text) and cue.duration_ms > 0
    usable = [c for c in cues if c.usable]
    warnings += _order_warning(usable)
    warnings += _overlap_warnings(usable)
    if video_duration_ms is not None:
        warnings += _past_end_warnings(usable, video_duration_ms)
    # Stable: a cue's own warnings keep the order they were found in.
    warnings.sort(key=lambda w: (w.cue is not None, w.cue or 0))
    return warnings


def _cue_warnings(cue: Cue) -> list[SubtitleWarning]:
    warnings: list[SubtitleWarning] = []
    # A skipped cue names its line too, so that the editor can find and fix it.
    at = f"line {cue.line}: " if cue.line is not None else ""
    if "\ufffd" in cue.raw:
        warnings.append(
            SubtitleWarning(
                cue.index,
                "encoding",
                "contains undecodable characters (U+FFFD); check the file's encoding",
            )
        )
    if not cue.text:
        what = "markup only" if cue.raw.strip() else "no text"
        warnings.append(SubtitleWarning(cue.index, "empty", f"{at}has {what}; it will be skipped"))
    if cue.duration_ms == 0:
        warnings.append(
            SubtitleWarning(
                cue.index,
                "zero-length",
                f"{at}starts and ends at {fmt_ms(cue.start_ms)}; it will be skipped",
            )
        )
    elif cue.duration_ms < 0:
        warnings.append(
            SubtitleWarning(
                cue.index,
                "negative",
                f"{at}ends ({fmt_ms(cue.end_ms)}) before it starts ({fmt_ms(cue.start_ms)});"
                " it will be skipped",
            )
        )
    return warnings


def _order_warning(usable: list[Cue]) -> list[SubtitleWarning]:
    """One warning for the whole file: the first cue that starts before the one before it."""
    for prev, cue in zip(usable, usable[1:], strict=False):
        if cue.start_ms < prev.start_ms:
            return [
                SubtitleWarning(
                    None,
                    "order",
                    f"cues are not in time order (cue {cue.index} starts before cue {prev.index});"
                    " they are used in time order",
                )
            ]
    return []


def _overlap_warnings(usable: list[Cue]) -> list[SubtitleWarning]:
    warnings: list[SubtitleWarning] = []
    latest: Cue | None = None  # the cue reaching furthest so far, in time order
    for cue in sorted(usable, key=lambda c: (c.start_ms, c.index)):
        if latest is not None and cue.start_ms < latest.end_ms:
            overlap = min(latest.end_ms, cue.end_ms) - cue.start_ms
            warnings.append(
                SubtitleWarning(
                    cue.index, "overlap", f"overlaps cue {latest.index} by {overlap} ms"
                )
            )
        if latest is None or cue.end_ms > latest.end_ms:
            latest = cue
    return warnings


def _past_end_warnings(usable: list[Cue], video_duration_ms: int) -> list[SubtitleWarning]:
    warnings: list[SubtitleWarning] = []
    end = fmt_ms(video_duration_ms)
    for cue in usable:
        if cue.start_ms >= video_duration_ms:
            warnings.append(
                SubtitleWarning(
                    cue.index,
                    "past-end",
                    f"starts at {fmt_ms(cue.start_ms)}, after the video ends ({end})",
                )
            )
        elif cue.end_ms > video_duration_ms:
            warnings.append(
                SubtitleWarning(
                    cue.index,
                    "past-end",
                    f"ends at {fmt_ms(cue.end_ms)}, {cue.end_ms - video_duration_ms} ms after"
                    f" the video ends ({end})",
                )
            )
    return warnings
