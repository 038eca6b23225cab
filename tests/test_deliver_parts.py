"""Issue 23, the desk's Export: a delivery of only the parts chosen (core/deliver/parts.py),
the Export's choices as DubOptions (core/desk_export.DeskDelivery) and as the plain values
the window's settings keep them by, and per-speaker track names that survive FCP 7 XML."""

from __future__ import annotations

import dataclasses
import json

import opentimelineio as otio
import pytest

from core.audio.loudness_presets import DEFAULT_PRESET
from core.deliver.parts import ALL_PARTS, DeliverPart, DeliverParts
from core.deliver.takes import write_takes
from core.deliver.timeline import ORIGINAL_TRACK, build_timeline, write_timelines
from core.desk.export import (
    MEMORY_PARTS,
    DeskDelivery,
    delivered,
    delivery_problem,
    written_extras,
)
from core.errors import OptionError
from core.job.options import DubOptions
from tests import mediagen
from tests.test_deliver_stems import make_delivery

LINES = (
    (0.5, "Where have you been?", "en-us"),
    (3.0, "Waiting for the train.", "en-gb+f3"),
    (5.2, "It never came.", "en-us"),
)


def test_a_choice_of_parts_keeps_one_order_and_refuses_none_or_an_unknown_part():
    picked = DeliverParts.of(["stems", DeliverPart.OTIO])
    assert picked.chosen == (DeliverPart.OTIO, DeliverPart.STEMS)
    assert picked == DeliverParts.parse(" stems , otio ")  # the order ticked does not matter
    assert picked.timelines == ("otio",) and picked.stems and not picked.qc_report
    assert ALL_PARTS.timelines == ("otio", "xml", "aaf") and ALL_PARTS.qc_report
    assert DeliverParts.parse(ALL_PARTS.to_text()) == ALL_PARTS
    with pytest.raises(OptionError, match="unknown delivery part 'edl'"):
        DeliverParts.parse("otio,edl")
    with pytest.raises(OptionError, match="at least one part"):
        DeliverParts.of([])


def test_a_timeline_without_the_stems_still_gets_its_music_and_effects_bed():
    speakers = ["Ann", "Bob"]
    every = ("mix", "dialogue", "music-effects", "dialogue.Ann", "dialogue.Bob")
    assert DeliverParts.of(["stems"]).stem_roles(speakers) == every
    assert DeliverParts.of(["aaf"]).stem_roles(speakers) == ("music-effects",)
    assert DeliverParts.of(["qc-report"]).stem_roles(speakers) == ()


def test_the_exports_choices_reach_the_dub_options(tmp_path):
    ask = DeskDelivery("ebu-r128", tmp_path / "delivery", DeliverParts.of(["otio", "stems"]))
    options = DubOptions(output=tmp_path / "film.mp4", **ask.options())
    assert options.loudness == "ebu-r128"
    assert options.deliver_dir == tmp_path / "delivery"
    assert options.deliver_parts.chosen == (DeliverPart.OTIO, DeliverPart.STEMS)
    plain = DubOptions(output=tmp_path / "film.mp4")  # the CLI's: every part
    assert plain.deliver_parts == ALL_PARTS and plain.loudness == DEFAULT_PRESET
    # A batch fingerprints its options as JSON: the choice must be plain enough for that.
    assert json.loads(json.dumps(dataclasses.asdict(options.deliver_parts))) == {
        "chosen": ["otio", "stems"]
    }
    with pytest.raises(OptionError):
        DeskDelivery("loud-as-possible")


def test_the_delivery_is_remembered_by_plain_values_a_one_item_list_included(tmp_path):
    ask = DeskDelivery("netflix", tmp_path / "d", DeliverParts.of(["aaf", "qc-report"]))
    kept = ask.to_memory()
    assert kept[MEMORY_PARTS] == ["aaf", "qc-report"]
    assert DeskDelivery.from_memory(kept.get) == ask
    # QSettings reads ["otio"] back as "otio"; an INI file edited by hand as "otio, aaf".
    for stored, expected in (("otio", ["otio"]), ("otio, aaf", ["otio", "aaf"])):
        back = DeskDelivery.from_memory({**kept, MEMORY_PARTS: stored}.get)
        assert back.parts == DeliverParts.of(expected)
    # Nothing kept yet, or what can no longer be read: the defaults, not an error.
    assert DeskDelivery.from_memory({}.get) == DeskDelivery()
    odd = {**kept, MEMORY_PARTS: ["edl"], "export/loudness": "gone"}
    assert DeskDelivery.from_memory(odd.get) == DeskDelivery(folder=tmp_path / "d")


def test_a_deliverables_folder_needs_a_part_and_must_be_a_folder(tmp_path):
    assert delivery_problem("", []) is None  # no folder: nothing delivered, nothing to tick
    assert "at least one" in delivery_problem(str(tmp_path), [])
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert "is a file" in delivery_problem(str(a_file), [DeliverPart.OTIO])
    assert delivery_problem(str(tmp_path / "new"), [DeliverPart.STEMS]) is None


def test_fcp_xml_keeps_each_speakers_track_name_when_read_back(tmp_path):
    d = make_delivery(tmp_path)
    takes = write_takes(d, tmp_path / "takes")
    tl = build_timeline(d, takes, tmp_path / "me.wav")
    paths = write_timelines(tl, tmp_path, "x", formats=("xml", "otio"))
    assert sorted(paths) == ["otio", "xml"] and not (tmp_path / "x.aaf").exists()
    back = otio.adapters.read_from_file(str(paths["xml"]))
    names = [t.name for t in back.audio_tracks()]
    assert names == ["Ann", "Bob", "Music & effects", ORIGINAL_TRACK]
    assert [t.name for t in back.video_tracks()] == ["Picture"]
    assert "fcp_xml" not in tl.tracks[1].metadata  # the names went into a copy only
    assert paths["xml"].read_text().count("<enabled>FALSE</enabled>") == 1  # still muted


def test_a_dub_delivers_only_the_parts_chosen(tmp_path, monkeypatch):
    from core.job.pipeline import dub
    from tests.tone_engine import ToneEngine

    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    video = tmp_path / "clip.mp4"
    mediagen.make_test_video(video, duration_s=7, lines=LINES, srt_path=tmp_path / "clip.srt")
    folder = tmp_path / "delivery"
    ask = DeskDelivery("ebu-r128", folder, DeliverParts.of(["xml", "qc-report"]))
    options = DubOptions(output=tmp_path / "film.mp4", work_dir=tmp_path / "w", **ask.options())
    report = dub(video, options, engine_factory=lambda m, d: ToneEngine())
    assert report.delivery["parts"] == ["xml", "qc-report"]
    # FCP XML, its take files and the M&E bed it lays under them, the QC report: no more.
    written = sorted(p.name for p in folder.iterdir())
    assert written == [
        "film.music-effects.wav",
        "film.qc.html",
        "film.takes",
        "film.xml",
    ]
    tl = otio.adapters.read_from_file(str(folder / "film.xml"))
    assert len(tl.find_clips()) >= len(LINES)
    html = (folder / "film.qc.html").read_text()
    assert "ebu-r128" in html and "film.xml" in html and "film.mix.wav" not in html
    said = delivered(folder, "film")
    assert said == f"Delivered to {folder}: FCP XML, 1 stem, QC report"
    assert written_extras(None, None, ask, "film") == [said]


def test_the_command_line_delivers_the_parts_named_and_refuses_an_unknown_one(
    tmp_path, monkeypatch, capsys
):
    from app.cli import EXIT_OK, EXIT_USAGE, main
    from tests.tone_engine import ToneEngine

    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    video = tmp_path / "clip.mp4"
    mediagen.make_test_video(video, duration_s=7, lines=LINES, srt_path=tmp_path / "clip.srt")
    folder = tmp_path / "delivery"
    args = ["dub", str(video), "-o", str(tmp_path / "film.mp4"), "--deliver", str(folder),
            "--no-progress", "--work-dir", str(tmp_path / "w")]  # fmt: skip
    assert main([*args, "--deliver-parts", "otio,edl"]) == EXIT_USAGE
    assert "unknown delivery part 'edl'" in capsys.readouterr().err
    code = main([*args, "--deliver-parts", "aaf"], engine_factory=lambda m, d: ToneEngine())
    assert code == EXIT_OK
    assert sorted(p.name for p in folder.iterdir()) == [
        "film.aaf",
        "film.music-effects.wav",
        "film.takes",
    ]
