"""The dub as a timeline (core/deliver/timeline.py): written as .otio, FCP 7 XML and AAF,
read back with OpenTimelineIO, every line's take lands within 1 ms of its placement."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf

from core.deliver.stems import write_stems
from core.deliver.takes import write_takes
from core.deliver.timeline import ORIGINAL_TRACK, build_timeline, write_timelines
from tests.test_deliver_stems import make_delivery

RATE = 48000


def url_path(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def first_sound(path: Path) -> int:
    audio, _ = sf.read(path, dtype="float64")
    return int(np.flatnonzero(np.abs(audio) > 0)[0])


def check_timeline(tl: otio.schema.Timeline, placements: dict[int, int], fmt: str) -> None:
    """Every take clip's start plus the silence its file starts with is where the mix put
    the line, within 1 ms; each line appears once."""
    seen = {}
    for track in tl.audio_tracks():
        for clip in track.find_clips():
            path = url_path(clip.media_reference.target_url)
            if not path.name.startswith("cue"):
                continue
            line = int(path.stem[3:])
            start_s = clip.range_in_parent().start_time.to_seconds()
            seen[line] = start_s + first_sound(path) / RATE
    assert set(seen) == set(placements), fmt
    for line, at in seen.items():
        assert abs(at - placements[line] / RATE) <= 0.001, (fmt, line, at, placements[line])


@pytest.mark.parametrize("fps", [25.0, 30000 / 1001])
def test_every_format_reads_back_with_each_line_within_a_millisecond(tmp_path, fps):
    d = make_delivery(tmp_path, fps=fps)
    out = tmp_path / "out"
    stems = write_stems(d, out)
    takes = write_takes(d, out / "film.dubbed.takes")
    d.video.write_bytes(b"")  # the picture reference only needs a path here
    paths = write_timelines(build_timeline(d, takes, stems["music-effects"]), out, d.name)
    assert sorted(p.name for p in paths.values()) == [
        "film.dubbed.aaf", "film.dubbed.otio", "film.dubbed.xml",
    ]  # fmt: skip
    placements = {ln.clip.line_id: ln.placement.start_sample for ln in d.lines}
    for fmt, path in paths.items():
        tl = otio.adapters.read_from_file(str(path))
        check_timeline(tl, placements, fmt)
        assert len(tl.video_tracks()) == 1
        picture = tl.video_tracks()[0].find_clips()[0]
        assert url_path(picture.media_reference.target_url) == d.video.resolve()
        urls = {url_path(c.media_reference.target_url).name for c in tl.find_clips()}
        assert "film.dubbed.music-effects.wav" in urls


def test_the_otio_has_a_track_per_speaker_and_the_original_muted(tmp_path):
    d = make_delivery(tmp_path)
    takes = write_takes(d, tmp_path / "takes")
    tl = build_timeline(d, takes, tmp_path / "me.wav")
    names = [t.name for t in tl.audio_tracks()]
    assert names == ["Ann", "Bob", "Music & effects", ORIGINAL_TRACK]
    original = tl.audio_tracks()[-1]
    assert not original.enabled
    assert all(t.enabled for t in tl.audio_tracks()[:-1])
    # The FCP XML writer forgets the flag: the clip item is disabled by hand.
    paths = write_timelines(tl, tmp_path, "x")
    text = paths["xml"].read_text()
    assert text.count("<enabled>FALSE</enabled>") == 1


def test_two_overlapping_lines_of_one_speaker_get_two_lanes(tmp_path):
    d = make_delivery(tmp_path)
    takes = write_takes(d, tmp_path / "takes")
    from dataclasses import replace

    moved = [replace(t, speaker="Ann") for t in takes]
    moved[1] = replace(moved[1], frame=moved[0].frame + 1)  # starts inside line 1
    tl = build_timeline(replace(d, lines=[replace(ln, speaker="Ann") for ln in d.lines]),
                        moved, tmp_path / "me.wav")  # fmt: skip
    names = [t.name for t in tl.audio_tracks()]
    assert names[:2] == ["Ann", "Ann (2)"]
