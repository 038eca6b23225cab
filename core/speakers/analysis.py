"""Who speaks each line: the subtitles' own hints, else pyannote's diarization run offline,
else a clustering of the lines' own voices, else one voice for all. Which method ran, and
why, is said in one sentence for the editor.

Precedence per line: the editor's assignment (kept through every re-analysis), then the
subtitles' hint (ASS Name, VTT <v>), then what the audio says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.speakers.assignment import assign_turns
from core.speakers.prompt_choice import Span
from core.speakers.voices import DEFAULT_SPEAKER, speaker_id
from core.subtitles.read import Cue

HINTS, DIARIZATION, CLUSTERING, SINGLE = "hint", "diarization", "clustering", "single"
CPU_DIARIZATION_MAX_MIN = 15.0  # longer audio on a CPU: clustering instead (hours otherwise)


@dataclass
class SpeakerAnalysis:
    method: str  # HINTS, DIARIZATION, CLUSTERING or SINGLE
    detail: str  # which method ran and why, for the editor
    speakers: dict[int, str]  # cue number -> speaker id
    sources: dict[int, str]  # cue number -> what decided it (hint, diarization, ...)
    names: dict[str, str]  # speaker id -> display name
    flags: dict[int, str] = field(default_factory=dict)  # cue number -> what to check
    others: dict[str, list[Span]] = field(default_factory=dict)  # speech of everyone else

    def to_dict(self) -> dict[str, object]:
        return {"method": self.method, "detail": self.detail, "speakers": len(self.names)}


Progress = Callable[[int, int], None]
EmbedderFactory = Callable[[Path, str], object]


def _numbered(labels: Sequence[str | int | None]) -> dict[str | int, str]:
    """Raw labels (SPEAKER_00, cluster 2...) -> s1, s2... in order of first appearance
    (lower case, as every speaker id: `--voice S1=...` names s1)."""
    ids: dict[str | int, str] = {}
    for label in labels:
        if label is not None and label not in ids:
            ids[label] = f"s{len(ids) + 1}"
    return ids


def _others_from_turns(turns) -> dict[str, list[Span]]:
    """For each speaker, everyone else's turns (a prompt must not hold another voice)."""
    by: dict[str, list[Span]] = {}
    everyone = {t.speaker for t in turns}
    for sid in everyone:
        by[sid] = [Span(t.start_ms, t.end_ms) for t in turns if t.speaker != sid]
    return by


def analyze_speakers(
    cues: Sequence[Cue],
    audio16k: np.ndarray | None,
    model_dir: Path | None,
    *,
    device: str = "cpu",
    num_speakers: int | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    embedder_factory: EmbedderFactory | None = None,
    min_silhouette: float | None = None,
) -> SpeakerAnalysis:
    """`embedder_factory(model_dir, device)` gives the line embedder for the clustering
    fallback (default: the engine folder's own, through the registry); `min_silhouette`
    the clustering's bar for more than one voice (None: its own, a guess for CAMPPlus)."""
    hinted = {c.index: speaker_id(c.speaker_hint) for c in cues if c.speaker_hint}
    hint_names = {
        speaker_id(c.speaker_hint): c.speaker_hint.strip() for c in cues if c.speaker_hint
    }
    if cues and len(hinted) == len(cues):
        return SpeakerAnalysis(
            HINTS,
            f"the subtitles name the speaker of every line ({len(hint_names)} speakers)",
            dict(hinted),
            {i: HINTS for i in hinted},
            hint_names,
        )
    if audio16k is None:
        return _single(cues, hinted, hint_names, "the video has no audio to tell voices apart")

    result = _from_audio(
        cues, audio16k, model_dir, device, num_speakers, progress, cancelled, embedder_factory,
        min_silhouette,
    )  # fmt: skip
    # The subtitles' hints win over what the audio says.
    for index, sid in hinted.items():
        result.speakers[index] = sid
        result.sources[index] = HINTS
        result.flags.pop(index, None)
    result.names.update(hint_names)
    used = set(result.speakers.values())
    result.names = {sid: name for sid, name in result.names.items() if sid in used}
    return result


def _single(cues, hinted, hint_names, why: str) -> SpeakerAnalysis:
    speakers = {c.index: hinted.get(c.index, DEFAULT_SPEAKER) for c in cues}
    names = {DEFAULT_SPEAKER: "Speaker", **hint_names}
    names = {sid: n for sid, n in names.items() if sid in set(speakers.values())}
    sources = {c.index: HINTS if c.index in hinted else SINGLE for c in cues}
    return SpeakerAnalysis(SINGLE, f"one voice for every line: {why}", speakers, sources, names)


def _from_audio(
    cues, audio16k, model_dir, device, num_speakers, progress, cancelled, embedder, min_silhouette
):
    def fallback(why: str) -> SpeakerAnalysis:
        return _cluster(
            cues, audio16k, model_dir, device, num_speakers, progress, cancelled, why, embedder,
            min_silhouette,
        )  # fmt: skip

    try:
        from core.speakers import diarization
    except ImportError as exc:  # pyannote.audio not installed: the fallback still works
        return fallback(f"pyannote.audio cannot be loaded ({exc})")
    folder = diarization.pyannote_folder(model_dir) if model_dir else None
    minutes = len(audio16k) / 16000 / 60
    if folder is not None and not device.startswith("cuda") and minutes > CPU_DIARIZATION_MAX_MIN:
        # Measured: ~4x the audio's length on a 2-core CPU, a 90-minute film 6 hours.
        return fallback(
            f"pyannote on the CPU would take about {4 * minutes / 60:.1f} h for "
            f"{minutes:.0f} min of audio (a GPU does it in minutes)"
        )
    if folder is not None:
        try:
            turns = diarization.diarize(
                audio16k,
                folder,
                device=device,
                num_speakers=num_speakers,
                progress=progress,
                cancelled=cancelled,
            )
        except diarization.DiarizationUnavailable as exc:  # damaged files, no pyannote
            return fallback(str(exc).split("; speakers will")[0])
        ids = _numbered([t.speaker for t in turns])
        named = [type(t)(t.start_ms, t.end_ms, ids[t.speaker]) for t in turns]
        got = assign_turns(cues, named)
        speakers = {c.index: got[c.index].speaker or _nearest(c, got, cues) for c in cues}
        flags = {i: s.flag for i, s in got.items() if s.flag}
        names = {sid: f"Speaker {sid[1:]}" for sid in ids.values()}
        detail = f"pyannote diarization (offline, {folder}) found {len(ids)} speaker(s)"
        return SpeakerAnalysis(
            DIARIZATION,
            detail,
            speakers,
            {c.index: DIARIZATION for c in cues},
            names,
            flags,
            _others_from_turns(named),
        )
    problem = diarization.folder_problem(model_dir) if model_dir else None
    if problem:
        return fallback(f"pyannote's folder cannot be used: {problem}")
    return fallback("pyannote's model folder (pyannote/) is not in the model directory")


def _nearest(cue, got, cues) -> str:
    """A line nobody speaks in goes to the speaker of the nearest line in time."""
    spoken = [c for c in cues if got[c.index].speaker is not None]
    if not spoken:
        return "s1"
    best = min(spoken, key=lambda c: abs(c.start_ms - cue.start_ms))
    return got[best.index].speaker


def _cluster(
    cues, audio16k, model_dir, device, num_speakers, progress, cancelled, why, embedder_factory,
    min_silhouette=None,
):  # fmt: skip
    from core.speakers.clustering import MIN_SILHOUETTE, cluster_speakers
    from core.speakers.embedding import embed_lines, load_line_embedder

    # Only what a model folder can do wrong falls back to one voice: files missing, damaged
    # or unreadable (OSError; ModelFilesMissing and ModelFilesDamaged are ones), weights that
    # do not fit the network or the device (RuntimeError from torch), a checkpoint of another
    # network (CheckpointMismatch, a ValueError). Anything else is a defect and is raised.
    try:
        embedder = (embedder_factory or load_line_embedder)(model_dir, device)
    except (OSError, RuntimeError, ValueError) as exc:
        missing = getattr(exc, "missing", None)  # ModelFilesMissing: name the files only
        damaged = getattr(exc, "damaged", None)  # ModelFilesDamaged: the files and why
        what = f"{', '.join(missing)} missing" if missing else _first_line(exc)
        if damaged:
            what = "; ".join(f"{name} damaged: {reason}" for name, reason in damaged)
        return _single(cues, {}, {}, f"{why}, and no speaker model to cluster voices ({what})")
    spans = [(c.start_ms, c.end_ms) for c in cues]
    embeddings = embed_lines(audio16k, spans, embedder, progress=progress, cancelled=cancelled)
    bar = MIN_SILHOUETTE if min_silhouette is None else min_silhouette
    result = cluster_speakers(embeddings, num_speakers, min_silhouette=bar)
    ids = _numbered([lab if lab >= 0 else None for lab in result.labels])
    speakers: dict[int, str] = {}
    flags: dict[int, str] = {}
    for c, label in zip(cues, result.labels, strict=True):
        if label >= 0:
            speakers[c.index] = ids[label]
    for c, label in zip(cues, result.labels, strict=True):
        if label < 0:  # too short to embed: the speaker of the nearest line in time
            known = [x for x in cues if x.index in speakers]
            near = min(known, key=lambda x: abs(x.start_ms - c.start_ms), default=None)
            speakers[c.index] = speakers[near.index] if near else "s1"
            flags[c.index] = "too short to tell its voice; given the nearest line's speaker"
    names = {sid: f"Speaker {sid[1:]}" for sid in sorted(set(speakers.values()))}
    others = {
        sid: [Span(c.start_ms, c.end_ms) for c in cues if speakers[c.index] != sid] for sid in names
    }
    return SpeakerAnalysis(
        CLUSTERING,
        f"{why}; {result.method}",
        speakers,
        {c.index: CLUSTERING for c in cues},
        names,
        flags,
        others,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
