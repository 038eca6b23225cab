"""The dub as an edit an editor can open: an OpenTimelineIO timeline written as .otio,
FCP 7 XML (.xml: Premiere, Resolve) and AAF (.aaf: Avid, Pro Tools).

Tracks, top down: the picture (the original video), one audio track per speaker (a
second lane when two of a speaker's lines would share a frame), each line a clip of its
take file (core/deliver/takes.py: frame-aligned, the take starting on its exact sample
inside), the music-and-effects stem, and the original sound as a disabled (muted)
reference. Everything counts in the video's frames. AAF needs a mob ID for each piece
of media: one per file, made here.
"""

from __future__ import annotations

import copy
import os
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import aaf2
import opentimelineio as otio

from core.deliver.parts import TIMELINE_PARTS
from core.deliver.spec import Delivery
from core.deliver.takes import TakeFile

FORMATS = tuple(p.value for p in TIMELINE_PARTS)  # otio, xml, aaf
FCP_XML_META = "fcp_xml"  # the FCP XML adapter writes this metadata as the item's elements
ORIGINAL_TRACK = "Original (reference)"


def _rt(frames: int, fps: float) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, fps)


def _range(start: int, frames: int, fps: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_rt(start, fps), _rt(frames, fps))


class _Media:
    """One ExternalReference per file, each with its own AAF mob ID."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.mob_ids: dict[Path, str] = {}

    def ref(self, path: Path, frames: int, **meta) -> otio.schema.ExternalReference:
        path = Path(path).resolve()
        mob = self.mob_ids.setdefault(path, str(aaf2.mobid.MobID.new()))
        ref = otio.schema.ExternalReference(
            target_url=path.as_uri(), available_range=_range(0, frames, self.fps)
        )
        ref.metadata["AAF"] = {"MobID": mob}
        if meta:
            ref.metadata["dubsmith"] = meta
        return ref


def _lanes(takes: Sequence[TakeFile]) -> list[list[TakeFile]]:
    """A speaker's takes in as few tracks as hold them without overlap."""
    lanes: list[list[TakeFile]] = []
    for t in sorted(takes, key=lambda t: (t.frame, t.line_id)):
        for lane in lanes:
            last = lane[-1]
            if last.frame + last.frames <= t.frame:
                lane.append(t)
                break
        else:
            lanes.append([t])
    return lanes


def build_timeline(
    delivery: Delivery, takes: Sequence[TakeFile], music_effects: Path
) -> otio.schema.Timeline:
    fps = delivery.fps
    media = _Media(fps)
    total = max(round(delivery.duration_s * fps), 1)
    tl = otio.schema.Timeline(name=delivery.name, global_start_time=_rt(0, fps))
    picture = otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video)
    picture.append(
        otio.schema.Clip(
            name=delivery.video.name,
            media_reference=media.ref(delivery.video, total),
            source_range=_range(0, total, fps),
        )
    )
    tl.tracks.append(picture)
    for speaker in delivery.speakers():
        own = [t for t in takes if t.speaker == speaker]
        for k, lane in enumerate(_lanes(own)):
            track = otio.schema.Track(
                name=speaker if k == 0 else f"{speaker} ({k + 1})", kind=otio.schema.TrackKind.Audio
            )
            at = 0
            for t in lane:
                if t.frame > at:
                    track.append(otio.schema.Gap(source_range=_range(0, t.frame - at, fps)))
                clip = otio.schema.Clip(
                    name=t.path.stem,
                    media_reference=media.ref(
                        t.path, t.frames, lead_samples=t.lead_samples, start_sample=t.start_sample
                    ),
                    source_range=_range(0, t.frames, fps),
                )
                clip.metadata["dubsmith"] = {
                    "line": t.line_id,
                    "speaker": speaker,
                    "placed_at_48k": t.start_sample,
                    "lead_samples": t.lead_samples,
                }
                track.append(clip)
                at = t.frame + t.frames
            tl.tracks.append(track)
    me = otio.schema.Track(name="Music & effects", kind=otio.schema.TrackKind.Audio)
    me.append(
        otio.schema.Clip(
            name=music_effects.name,
            media_reference=media.ref(music_effects, total),
            source_range=_range(0, total, fps),
        )
    )
    tl.tracks.append(me)
    original = otio.schema.Track(name=ORIGINAL_TRACK, kind=otio.schema.TrackKind.Audio)
    original.enabled = False
    clip = otio.schema.Clip(
        name=f"{delivery.video.name} (original sound)",
        media_reference=media.ref(delivery.video, total),
        source_range=_range(0, total, fps),
    )
    clip.enabled = False
    original.append(clip)
    tl.tracks.append(original)
    return tl


def _mute_original_in_fcp_xml(path: Path) -> None:
    """The FCP XML writer drops OTIO's enabled flag: disable the original's clip items."""
    tree = ET.parse(path)
    for item in tree.iter("clipitem"):
        name = item.find("name")
        if name is not None and (name.text or "").endswith("(original sound)"):
            enabled = item.find("enabled")
            if enabled is None:
                enabled = ET.SubElement(item, "enabled")
            enabled.text = "FALSE"
    tree.write(path, encoding="UTF-8", xml_declaration=True)


def _named_for_fcp_xml(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A copy whose tracks carry their names for the FCP XML writer. The adapter (otio-fcp-
    adapter 1.0) writes a <track> without its name but reads one back from a <name> child;
    it writes an item's "fcp_xml" metadata as child elements, so the name goes there."""
    named = copy.deepcopy(timeline)
    for track in named.tracks:
        if track.name:
            meta = dict(track.metadata.get(FCP_XML_META) or {})
            meta.setdefault("name", track.name)
            track.metadata[FCP_XML_META] = meta
    return named


def write_timelines(
    timeline: otio.schema.Timeline, folder: Path, name: str, formats: Sequence[str] = FORMATS
) -> dict[str, Path]:
    """The timeline as NAME.otio, NAME.xml and NAME.aaf in ``folder``, or only the
    ``formats`` chosen (each written under a temp name, then renamed)."""
    out = {}
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"no timeline format {fmt!r}; one of {', '.join(FORMATS)}")
        path = Path(folder) / f"{name}.{fmt}"
        # The adapters choose by the extension: the temp name keeps it.
        tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.{fmt}")
        try:
            written = _named_for_fcp_xml(timeline) if fmt == "xml" else timeline
            otio.adapters.write_to_file(written, str(tmp))
            if fmt == "xml":
                _mute_original_in_fcp_xml(tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        out[fmt] = path
    return out
