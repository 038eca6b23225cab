"""One line identity everywhere (issue 20, defect 3): once an empty cue is dropped, the
table, the edited subtitles the next dub reads, the stems, the report, the warnings and
the reopened project all still name each line by its cue number in the subtitle file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import project as proj
from core.desk import status as desk
from core.job.pipeline import DubOptions, dub
from core.job.project_keeper import project_file_for
from core.project.line_matching import merge_cues
from core.speakers.voices import assign_speakers, speaker_names
from core.subtitles.read import load_subtitles
from tests import mediagen
from tests.tone_engine import ToneEngine

# Cue 3 is empty once its markup is gone: it is dropped, and must not renumber 4, 5, 6.
SRT = """1
00:00:01,000 --> 00:00:03,000
Where have you been all this time?

2
00:00:05,000 --> 00:00:07,500
I was waiting for the morning train.

3
00:00:08,000 --> 00:00:08,500
<i></i>

4
00:00:10,000 --> 00:00:12,500
The train never came, did it?

5
00:00:15,000 --> 00:00:17,500
No. So I walked the whole way home.
"""
NUMBERS = [1, 2, 4, 5]


def _merged(project: proj.Project, subtitles: Path) -> dict[int, proj.Line]:
    cues = load_subtitles(subtitles).usable_cues()
    return merge_cues(project, cues, assign_speakers(cues), speaker_names(cues)).lines


def test_the_edited_subtitles_keep_each_lines_cue_number(tmp_path):
    srt = tmp_path / "film.srt"
    srt.write_text(SRT, encoding="utf-8")
    project = proj.Project()
    assert sorted(_merged(project, srt)) == NUMBERS
    assert [ln.id for ln in project.lines] == ["L1", "L2", "L4", "L5"]  # id = cue number
    project.lines[2].text = "The train never came, did it now?"  # an edit on the desk
    edited = desk.write_edited_subtitles(project, tmp_path / "work")
    assert [c.index for c in load_subtitles(edited).usable_cues()] == NUMBERS
    lines = _merged(project, edited)  # the reopen, and the next dub, read the edited file
    assert sorted(lines) == NUMBERS
    assert [ln.index for ln in project.lines] == NUMBERS
    assert lines[4].text == "The train never came, did it now?"
    again = proj.load_project(project.save(tmp_path / "film.dubsmith.json"))
    assert [(ln.index, ln.id) for ln in again.lines] == [(n, f"L{n}") for n in NUMBERS]


def test_an_srt_is_numbered_as_its_file_says_and_warnings_say_the_same_number(tmp_path):
    srt = tmp_path / "gaps.srt"
    srt.write_text(SRT.replace("00:00:10,000 --> 00:00:12,500", "0:0:10.0 -> 0:0:12.5"))
    doc = load_subtitles(srt)
    assert [c.index for c in doc.cues] == [1, 2, 3, 4, 5]
    assert {w.cue for w in doc.warnings if w.kind == "lenient-timing"} == {4}
    # A file with its own gaps (cue 3 deleted by hand) keeps them.
    gappy = tmp_path / "gappy.srt"
    gappy.write_text(SRT.replace("3\n00:00:08,000 --> 00:00:08,500\n<i></i>\n\n", ""))
    assert [c.index for c in load_subtitles(gappy).cues] == [1, 2, 4, 5]
    # Numbers that cannot name a cue each (repeated) fall back to the position.
    repeated = tmp_path / "repeated.srt"
    repeated.write_text(SRT.replace("\n4\n", "\n2\n"))
    assert [c.index for c in load_subtitles(repeated).cues] == [1, 2, 3, 4, 5]


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("identity")
    video = folder / "film.mp4"
    mediagen.make_test_video(video, duration_s=18, lines=mediagen.DEFAULT_LINES[:4])
    video.with_suffix(".srt").write_text(SRT, encoding="utf-8")
    return video


def test_stems_report_warnings_and_project_name_the_same_line_after_an_edit(
    film, tmp_path, monkeypatch
):
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    video = mediagen.private_copy(film, tmp_path)
    engine = ToneEngine(fail_texts=["No. So I walked the whole way home."])
    factory = lambda d, dev: engine  # noqa: E731
    dub(video, DubOptions(output=tmp_path / "a.mp4"), engine_factory=factory)
    project = proj.load_project(project_file_for(video))
    edited = desk.write_edited_subtitles(project, tmp_path / "work")  # the desk's edit
    project.save()
    report = dub(
        video,
        DubOptions(
            output=tmp_path / "b.mp4",
            subtitles=edited,
            stems_dir=tmp_path / "stems",
            report_path=tmp_path / "report.json",
        ),
        engine_factory=factory,
    )
    assert sorted(p.name for p in (tmp_path / "stems").glob("*.wav")) == [
        "cue0001.wav", "cue0002.wav", "cue0004.wav"
    ]  # fmt: skip
    assert [r["index"] for r in json.loads((tmp_path / "report.json").read_text())["lines"]] == (
        NUMBERS
    )
    assert [r.index for r in report.failed] == [5]
    assert any(str(w).startswith("cue 5: not rendered") for w in report.warnings)
    reopened = proj.load_project(project_file_for(video))
    assert [(ln.index, ln.id) for ln in reopened.lines] == [(n, f"L{n}") for n in NUMBERS]
    # Each line's takes are its own: the same text as rendered under its number.
    assert all(ln.takes for ln in reopened.lines[:3])
