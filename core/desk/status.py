"""What the editor's desk asks of a project, Qt-free: each line's status and fit, span edits
that never run into a neighbour, speakers renamed and merged, takes kept and one chosen,
and the editor's retimed or reworded lines as subtitles a dub reads.

The window only shows and edits; every rule about lines lives here, where the CLI and the
tests reach it too.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from core import project as proj
from core.lines.timing import Timing
from core.subtitles.cue_types import Cue
from core.subtitles.files import write_clean_srt
from models.contract import DurationMode

RATE_22K = 22050
MIN_SPAN_MS = 200  # a line shorter than this cannot be spoken: edges stop there
RENDERED_AS = "rendered_as"  # Line.extra: the fingerprint of what the latest take rendered
SEED_KEY = "seed"  # Line.extra: the seed the editor chose (a take's), else the dub's own
EDITED_SUBTITLES = "edited_subtitles"  # Project.extra: the editor's lines as an SRT
RETAKE_SEED_STEP = 7919  # a regenerated take's seed: far from every line's own (a prime step)


class LineStatus(StrEnum):
    NOT_RENDERED = "not rendered"
    RENDERING = "rendering"
    RENDERED = "rendered"
    STALE = "stale"  # edited since its take was rendered
    FAILED = "failed"
    FLAGGED = "flagged"  # rendered, but the engine or the listening check flagged it


# --- status ---------------------------------------------------------------------------------


def line_fingerprint(line: proj.Line, mode: DurationMode | None) -> str:
    """What shapes a line's take from the editor's side: a change makes the take stale.
    `mode` is the line's duration mode: the one its take was rendered in when marking it
    rendered, the effective one (its own, else the dub's) when checking it. So a project
    from before lines had their own mode (every line stamped with the dub's) keeps its
    fingerprints, and a line that follows the dub goes stale when the dub's mode changes."""
    blob = {
        "text": line.text,
        "span": [line.start_ms, line.end_ms],
        "speaker": line.speaker_id,
        "emotion": line.emotion.to_dict(None),
        "mode": None if mode is None else mode.value,
        "seed": line.extra.get(SEED_KEY),
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def _rendered_mode(line: proj.Line) -> DurationMode | None:
    """The mode of the take the line uses (the dub's of that moment, or the line's own)."""
    take = usable_take(line)
    return line.duration_mode if take is None else take.duration_mode


def mark_rendered(line: proj.Line) -> None:
    """The latest take renders the line as it now is."""
    line.extra[RENDERED_AS] = line_fingerprint(line, _rendered_mode(line))


def adopt_takes(lines: list[proj.Line]) -> None:
    """Lines rendered elsewhere (the CLI) carry no fingerprint: their takes are taken as
    current, so a reopen shows them rendered, not stale."""
    for line in lines:
        if line.takes and RENDERED_AS not in line.extra:
            mark_rendered(line)


def mode_text(line: proj.Line, dub_mode: DurationMode) -> str:
    """The table's Mode cell: the mode the line renders in, marked when it is the line's
    own choice rather than the dub's."""
    mode = proj.effective_mode(line, dub_mode).value
    return mode if line.duration_mode is None else f"{mode} (own)"


def usable_take(line: proj.Line) -> proj.Take | None:
    """The take the line would use: the chosen seed's, else the latest, if its file is there."""
    seed = line.extra.get(SEED_KEY)
    takes = [t for t in line.takes if seed is None or t.seed == seed] or line.takes
    take = takes[-1] if takes else None
    return take if take is not None and Path(take.cache_path).exists() else None


def line_status(
    line: proj.Line,
    *,
    rendering: bool = False,
    error: str | None = None,
    max_error_rate: float = 0.4,
    dub_mode: DurationMode | None = None,
) -> tuple[LineStatus, str | None]:
    """(status, reason) of a line: the reason says why it failed or is flagged. With the
    dub's mode, a take rendered in another mode than the line's effective one is stale."""
    if rendering:
        return LineStatus.RENDERING, None
    if error:
        return LineStatus.FAILED, error
    take = usable_take(line)
    if take is None:
        return LineStatus.NOT_RENDERED, None
    rendered_as = line.extra.get(RENDERED_AS)
    # Without the dub's mode at hand, a line that follows the dub wants what its take has.
    wanted = proj.effective_mode(line, dub_mode or take.duration_mode)
    if rendered_as is not None and rendered_as != line_fingerprint(line, wanted):
        if rendered_as == line_fingerprint(line, take.duration_mode):  # only the mode moved
            return LineStatus.STALE, f"rendered {take.duration_mode.value}, now {wanted.value}"
        return LineStatus.STALE, "edited since this take was rendered"
    if take.flag:
        return LineStatus.FLAGGED, take.flag
    rate = take.extra.get("error_rate")
    if isinstance(rate, int | float) and rate > max_error_rate:
        return LineStatus.FLAGGED, f"{rate:.0%} off its text"
    return LineStatus.RENDERED, None


# --- fit and check --------------------------------------------------------------------------


def pace_text(pace: float) -> str:
    """The pace a line needs, for the table: never "infx" for a cue past the video end."""
    if not math.isfinite(pace):
        return "past end"
    return f"{pace:.2f}x"


@dataclass(frozen=True)
class Fit:
    target_s: float
    rendered_s: float | None  # None: not rendered
    pace: float  # natural / target: > 1 must be spoken faster than natural
    flag: str | None

    @property
    def text(self) -> str:
        rendered = "—" if self.rendered_s is None else f"{self.rendered_s:.2f}"
        return f"{rendered} / {self.target_s:.2f} s · {pace_text(self.pace)}"

    @property
    def level(self) -> str:
        """ "ok", "warn" or "bad": how the window colours it."""
        if not math.isfinite(self.pace) or (self.flag and self.pace > 1):
            return "bad"  # past the end, or too much text for the span
        if self.flag or (
            self.rendered_s is not None and abs(self.rendered_s - self.target_s) > 0.05
        ):
            return "warn"  # spoken slowly, or not the length asked for (natural mode)
        return "ok"


def line_fit(line: proj.Line, timing: Timing) -> Fit:
    take = usable_take(line)
    rendered = None if take is None else take.rendered_samples / RATE_22K
    return Fit(timing.duration_s, rendered, timing.pace, timing.flag)


def check_text(line: proj.Line) -> str:
    """The listening check of the usable take: "WER 12% · sim 0.81", or "" when none ran."""
    take = usable_take(line)
    if take is None:
        return ""
    parts = []
    rate = take.extra.get("error_rate")
    if isinstance(rate, int | float):
        parts.append(f"err {rate:.0%}")
    sim = take.extra.get("voice_similarity")
    if isinstance(sim, int | float):
        parts.append(f"sim {sim:.2f}")
    return " · ".join(parts)


# --- span edits -----------------------------------------------------------------------------


def span_limits(lines: list[proj.Line], line: proj.Line, video_end_ms: int) -> tuple[int, int]:
    """How far a line's start may move back and its end forward: to its neighbours' edges
    (never into them) and the video's bounds."""
    ordered = sorted(lines, key=lambda ln: (ln.start_ms, ln.index))
    pos = next(i for i, ln in enumerate(ordered) if ln is line)
    lo = ordered[pos - 1].end_ms if pos > 0 else 0
    hi = ordered[pos + 1].start_ms if pos + 1 < len(ordered) else video_end_ms
    return max(0, lo), max(lo, hi)


def clamp_span(
    lines: list[proj.Line], line: proj.Line, start_ms: int, end_ms: int, video_end_ms: int
) -> tuple[int, int]:
    """The span asked for, kept within the neighbours and at least MIN_SPAN_MS long."""
    lo, hi = span_limits(lines, line, video_end_ms)
    start = min(max(int(start_ms), lo), max(lo, hi - MIN_SPAN_MS))
    end = max(min(int(end_ms), hi), min(hi, start + MIN_SPAN_MS))
    return start, end


def edited_cues(lines: list[proj.Line]) -> list[Cue]:
    return [
        Cue(
            index=ln.index,
            start_ms=ln.start_ms,
            end_ms=ln.end_ms,
            text=ln.text,
            speaker_hint=None,
            raw=ln.text,
        )  # fmt: skip
        for ln in sorted(lines, key=lambda ln: (ln.start_ms, ln.index))
    ]


def write_edited_subtitles(project: proj.Project, work_dir: Path) -> Path:
    """The editor's retimed and reworded lines as an SRT in the video's work folder (never
    beside the input), which the next dub reads instead of the original subtitles. Lines
    keep their identity through it: the project matches them by span and text."""
    work_dir.mkdir(parents=True, exist_ok=True)
    # Under their own cue numbers: a read of it gives each line the number it had.
    path = write_clean_srt(edited_cues(project.lines), work_dir / "edited.srt", keep_numbers=True)
    project.extra[EDITED_SUBTITLES] = str(path)
    return path


def edited_subtitles(project: proj.Project) -> Path | None:
    value = project.extra.get(EDITED_SUBTITLES)
    path = Path(value) if isinstance(value, str) else None
    return path if path is not None and path.exists() else None


# --- speakers -------------------------------------------------------------------------------


def line_counts(project: proj.Project) -> dict[str, int]:
    counts = {s.id: 0 for s in project.speakers}
    for line in project.lines:
        if line.speaker_id is not None:
            counts[line.speaker_id] = counts.get(line.speaker_id, 0) + 1
    return counts


def rename_speaker(project: proj.Project, speaker_id: str, name: str) -> None:
    name = name.strip()
    if not name:
        raise ValueError("a speaker needs a name")
    speaker = project.speaker(speaker_id)
    if speaker is None:
        raise ValueError(f"no speaker '{speaker_id}'")
    speaker.name = name


def merge_speakers(project: proj.Project, keep_id: str, gone_id: str) -> list[proj.Line]:
    """Every line of `gone_id` becomes `keep_id`'s (the editor's decision, kept through
    re-analysis), and `gone_id` leaves the project. Returns the lines that moved."""
    if keep_id == gone_id:
        raise ValueError("choose two different speakers to merge")
    if project.speaker(keep_id) is None or project.speaker(gone_id) is None:
        raise ValueError("both speakers must be in the project")
    moved = [ln for ln in project.lines if ln.speaker_id == gone_id]
    for line in moved:
        line.speaker_id, line.speaker_source = keep_id, "user"
    project.speakers = [s for s in project.speakers if s.id != gone_id]
    return moved


def assign_speaker(line: proj.Line, speaker_id: str) -> None:
    line.speaker_id, line.speaker_source = speaker_id, "user"


def prompt_from_lines(project: proj.Project, speaker_id: str, lines: list[proj.Line]) -> None:
    """The speaker's prompt is cut from these lines only (its file, if any, is dropped)."""
    speaker = project.speaker(speaker_id)
    if speaker is None:
        raise ValueError(f"no speaker '{speaker_id}'")
    ids = [ln.id for ln in lines if ln.speaker_id == speaker_id]
    if not ids:
        raise ValueError(f"none of the selected lines is spoken by {speaker.name}")
    speaker.prompt_lines, speaker.prompt_path = ids, None


def prompt_from_file(project: proj.Project, speaker_id: str, path: Path) -> None:
    speaker = project.speaker(speaker_id)
    if speaker is None:
        raise ValueError(f"no speaker '{speaker_id}'")
    if not Path(path).is_file():
        raise ValueError(f"{path} is not a file; choose a WAV, FLAC or MP3 of the voice")
    speaker.prompt_path = Path(path).resolve()


# --- takes ----------------------------------------------------------------------------------


def chosen_seed(line: proj.Line) -> int | None:
    seed = line.extra.get(SEED_KEY)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def next_take_seed(line: proj.Line, own_seed: int) -> int:
    """A seed no take of this line used yet: Regenerate's new take."""
    used = {t.seed for t in line.takes}
    seed = own_seed + RETAKE_SEED_STEP
    while seed in used:
        seed += RETAKE_SEED_STEP
    return seed


def choose_take(line: proj.Line, take: proj.Take) -> None:
    """The dub uses this take (its seed) from now on; the other takes stay kept."""
    line.extra[SEED_KEY] = take.seed
    line.extra[RENDERED_AS] = line_fingerprint(line, _rendered_mode(line))


def seed_for(line: proj.Line | None, default: int) -> int:
    """The seed a dub renders a line with: the chosen take's, else the dub's own."""
    chosen = None if line is None else chosen_seed(line)
    return default if chosen is None else chosen


# --- waveforms ------------------------------------------------------------------------------


def peaks(audio: np.ndarray, rate: int, per_s: int = 100) -> np.ndarray:
    """Peak amplitude per 1/per_s seconds: a waveform a timeline draws at any zoom."""
    audio = np.abs(np.asarray(audio, dtype=np.float32).reshape(-1))
    step = max(1, rate // per_s)
    n = len(audio) // step
    if n == 0:
        return np.zeros(0, np.float32)
    return audio[: n * step].reshape(n, step).max(axis=1)


# --- the model folder -----------------------------------------------------------------------


@dataclass(frozen=True)
class FolderCheck:
    ok: bool  # the speech engine can load from it
    rows: list[str]  # per model: installed, or what is missing and the command that fetches it


def check_model_folder(model_dir: Path) -> FolderCheck:
    """What the settings page shows before it keeps a model folder: the engine's own check
    (the files it loads, cheap header checks) and the optional models' state."""
    from core.models.installed import status
    from models.registry import DEFAULT_ENGINE, engine_entry

    model_dir = Path(model_dir).expanduser()
    if not model_dir.is_dir():
        return FolderCheck(
            False, [f"{model_dir} is not a folder: choose the folder holding indextts2/"]
        )
    rows: list[str] = []
    entry = engine_entry(DEFAULT_ENGINE)
    try:
        entry.check(model_dir)
        ok = True
        rows.append(f"✓ {entry.title}: ready")
    except Exception as exc:  # noqa: BLE001 - ModelFilesMissing / Damaged name what to fetch
        ok = False
        rows.append(f"✗ {entry.title}: {exc}")
    for model in status(model_dir):
        if model.placeholder or model.required:
            continue
        if model.state == "installed":
            rows.append(f"✓ {model.title} ({model.feature})")
        else:
            rows.append(
                f"– {model.title} ({model.feature}): {model.state}; get it with: {model.fetch}"
            )
    return FolderCheck(ok, rows)
