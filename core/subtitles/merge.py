"""Joining cues that split one sentence, so that it is synthesised with its natural prosody.

Subtitlers break a long sentence over two cues for reading speed; a voice reading the
halves apart would drop its pitch at the break as if the sentence ended there.
"""

from __future__ import annotations

from core.subtitles.cue_types import Cue

__all__ = ["MERGE_MAX_GAP_MS", "ends_sentence", "merge_split_sentences"]

MERGE_MAX_GAP_MS = 300

_SENTENCE_END = frozenset(".!?…。！？‼⁇⁈⁉؟۔।॥։።｡")
_CLOSERS = "\"'”’»›」』）)]}】〕〉》♪ "


def ends_sentence(text: str) -> bool:
    """Whether the text ends a sentence, closing quotes and brackets aside, in any script."""
    stripped = text.rstrip().rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _SENTENCE_END


def merge_split_sentences(cues: list[Cue]) -> list[Cue]:
    """Join a cue that stops mid-sentence with the next one of the same speaker when the
    gap is at most MERGE_MAX_GAP_MS, so the line is synthesised with its natural prosody.

    Unusable cues stay as they are; the result is in the file's order."""
    merged = [group[0] if len(group) == 1 else _joined(group) for group in _sentence_groups(cues)]
    merged += [c for c in cues if not c.usable]
    return sorted(merged, key=lambda c: c.index)


def _sentence_groups(cues: list[Cue]) -> list[list[Cue]]:
    """The usable cues in playback order, in runs that continue one sentence."""
    groups: list[list[Cue]] = []
    for cue in sorted((c for c in cues if c.usable), key=lambda c: (c.start_ms, c.index)):
        if groups:
            last = groups[-1]
            end = max(c.end_ms for c in last)
            if (
                last[-1].speaker_hint == cue.speaker_hint
                and not ends_sentence(last[-1].text)
                and cue.start_ms - end <= MERGE_MAX_GAP_MS
            ):
                last.append(cue)
                continue
        groups.append([cue])
    return groups


def _joined(group: list[Cue]) -> Cue:
    first = group[0]
    return Cue(
        index=first.index,
        start_ms=first.start_ms,
        end_ms=max(c.end_ms for c in group),
        text=" ".join(c.text for c in group),
        speaker_hint=first.speaker_hint,
        raw="\n".join(c.raw for c in group),
        usable=True,
        sources=tuple(c.index for c in group),
        line=first.line,
    )
