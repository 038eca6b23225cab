"""A project file loses nothing to one bad value, and a newer Dubsmith's file is never
touched (issue 26: items 3, 4 and 5, and the empty default speaker); one rule for where
a project lives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import EXIT_INPUT, EXIT_OK, main
from core import project as proj
from core.errors import InputError
from core.job.project_keeper import ProjectKeeper, project_file_for
from core.notices import Notice
from core.subtitles.read import Cue
from tests import mediagen
from tests.tone_engine import ToneEngine


def backups(target: Path) -> list[Path]:
    return sorted(target.parent.glob(target.name + ".bak-*"))


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("safety")
    video = folder / "scene.mp4"
    mediagen.make_test_video(
        video, duration_s=9, lines=mediagen.DEFAULT_LINES[:2], srt_path=folder / "scene.srt"
    )
    return video


@pytest.fixture
def video(source, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    return mediagen.private_copy(source, tmp_path)


def _dub(video: Path, tmp_path: Path, out: str = "o.mp4") -> int:
    args = ["dub", str(video), "-o", str(tmp_path / out), "--work-dir", str(tmp_path / "w")]
    return main([*args, "--no-progress"], engine_factory=lambda d, dev: ToneEngine())


def _edited(path: Path, edit) -> None:
    """Change the saved project's JSON by hand, as an editor (or a broken tool) would."""
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))  # Python writes inf as Infinity, NaN as NaN


def _a_project(folder: Path) -> Path:
    video = folder / "film.mp4"
    project = proj.Project(video_path=video)
    project.speakers = [proj.Speaker("ann", "Ann"), proj.Speaker("bob", "Bob")]
    for n, who in ((1, "ann"), (2, "bob"), (3, "ann")):
        line = proj.Line(n, n * 1000, n * 1000 + 800, f"Line {n}.", speaker_id=who)
        line.speaker_source = "user"
        project.lines.append(line)
    project.lines[1].emotion = proj.Emotion(proj.EmotionMode.TEXT, text="quietly furious")
    return project.save()


# --- item 3: one inf never makes the project unsaveable ------------------------------------


def test_an_inf_anywhere_is_dropped_when_read_so_every_save_succeeds(tmp_path):
    path = _a_project(tmp_path)

    def poison(data):
        data["lines"][0]["emotion"]["vector"]["happy"] = float("inf")  # "1e309" in the file
        data["lines"][0]["emotion"]["alpha"] = float("nan")
        data["lines"][2]["note"] = [1, float("-inf")]  # a key of a newer minor release
        data["settings"]["duck_db"] = float("-inf")
        data["speakers"][0]["prompt_score"] = float("nan")
        data["analysis"] = {"method": "clustering", "silhouette": float("nan")}

    _edited(path, poison)
    path.write_text(path.read_text().replace("Infinity,", "1e309,", 1))
    project = proj.load_project(path)
    line = project.lines[0]
    assert line.emotion.vector[0] == 0.0 and line.emotion.alpha == 1.0
    assert project.settings.duck_db == proj.DubSettings().duck_db
    assert project.lines[2].extra == {"note": [1]}
    assert project.analysis == {"method": "clustering"}
    said = [str(n) for n in project.load_notices]
    assert any(s.startswith("cue 1:") and "'happy'" in s and "inf" in s for s in said)
    assert any(s.startswith("cue 1:") and "strength" in s for s in said)
    assert any("setting 'duck_db'" in s for s in said)
    assert any("speaker 'ann' prompt score" in s for s in said)
    project.save()  # today: "Out of range float values are not JSON compliant: inf"
    again = proj.load_project(path)
    assert again.load_notices == [] and again == project
    assert backups(path) == []


def test_a_dub_of_a_project_with_an_inf_records_its_takes_and_says_where(video, tmp_path, capsys):
    assert _dub(video, tmp_path) == EXIT_OK
    path = project_file_for(video)
    _edited(path, lambda d: d["lines"][1]["emotion"]["vector"].update(happy=float("inf")))
    capsys.readouterr()
    assert _dub(video, tmp_path, "again.mp4") == EXIT_OK
    err = capsys.readouterr().err
    assert "cue 2: the project file's emotion 'happy' was dropped" in err
    assert "Infinity" not in path.read_text()  # the dub saved the project: it could
    saved = proj.load_project(path)
    assert saved.load_notices == [] and all(ln.takes for ln in saved.lines)


# --- item 4: one bad value never throws the project away ------------------------------------


def test_a_bad_value_drops_that_field_only_and_keeps_every_other_edit(tmp_path):
    path = _a_project(tmp_path)

    def damage(data):
        data["lines"][1]["emotion"]["vector"] = ["a", None, 1e309]
        data["lines"][2]["duration_mode"] = "sideways"
        del data["lines"][0]["text"]  # no text: no line; the others stay
        data["settings"]["background"] = "sideways"
        data["settings"]["seed"] = 7

    _edited(path, damage)
    project = proj.load_project(path)  # today: "is corrupt", and a fresh project replaces it
    assert backups(path) == []
    assert [s.name for s in project.speakers] == ["Ann", "Bob"]
    assert [(ln.index, ln.speaker_id) for ln in project.lines] == [(2, "bob"), (3, "ann")]
    kept = project.lines[0].emotion  # its text and mode were fine
    assert kept.mode is proj.EmotionMode.TEXT and kept.text == "quietly furious"
    assert kept.vector == proj.Emotion().vector
    assert project.lines[1].duration_mode is None
    assert project.settings.seed == 7
    assert project.settings.background is proj.BackgroundMode.AUTO
    said = [str(n) for n in project.load_notices]
    assert any(s.startswith("cue 2:") and "emotion vector" in s for s in said)
    assert any(s.startswith("cue 3:") and "duration mode" in s for s in said)
    assert any("line #1 (cue 1)" in s and "text" in s for s in said)
    assert any("setting 'background'" in s and "sideways" in s for s in said)


def test_the_keeper_warns_of_each_drop_and_starts_no_fresh_project(tmp_path):
    path = _a_project(tmp_path)
    _edited(path, lambda d: d["lines"][1]["emotion"].update(vector=["a", None, 1e309]))
    notices: list[Notice] = []
    keeper = ProjectKeeper(tmp_path / "film.mp4", notices.append)
    assert [s.id for s in keeper.project.speakers] == ["ann", "bob"]
    assert [n.cue for n in notices] == [2] and "fresh" not in str(notices[0])


def test_a_whole_file_that_is_corrupt_still_gets_its_backup(tmp_path):
    path = _a_project(tmp_path)
    path.write_text(path.read_text()[:40])
    with pytest.raises(proj.ProjectError, match="corrupt"):
        proj.load_project(path)
    assert len(backups(path)) == 1


# --- item 5: a newer Dubsmith's project is refused and left as it is ------------------------


NEWER = b'{"format": "dubsmith-project", "schema": 99, "lines": [], "new": {"x": 1}}\n'


def test_a_newer_project_stops_the_dub_with_exit_3_and_is_left_byte_for_byte(
    video, tmp_path, capsys
):
    path = project_file_for(video)
    path.write_bytes(NEWER)
    before = path.stat().st_mtime_ns
    assert _dub(video, tmp_path) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "newer Dubsmith (schema 99" in err and "update Dubsmith" in err
    assert path.read_bytes() == NEWER and path.stat().st_mtime_ns == before
    assert backups(path) == [] and not (tmp_path / "o.mp4").exists()


def test_a_newer_project_is_never_written_over(tmp_path):
    path = tmp_path / "film.dubsmith.json"
    path.write_bytes(NEWER)
    with pytest.raises(proj.NewerProjectError) as err:
        proj.load_project(path)
    assert isinstance(err.value, InputError)  # the CLI's exit 3, the window's message
    with pytest.raises(proj.NewerProjectError):
        ProjectKeeper(tmp_path / "film.mp4", lambda n: None)
    # The window starts a fresh project beside it: its saves must not replace the file.
    fresh = proj.Project(video_path=tmp_path / "film.mp4")
    with pytest.raises(proj.NewerProjectError):
        fresh.save(path)
    saver = proj.Autosaver(fresh, path)
    saver.mark_dirty()
    with pytest.raises(proj.ProjectError):
        saver.flush()
    assert path.read_bytes() == NEWER and backups(path) == []


# --- one rule for where a project lives -----------------------------------------------------


def test_save_without_a_path_writes_the_file_the_dub_uses(tmp_path):
    mkv, mp4 = tmp_path / "movie.mkv", tmp_path / "movie.mp4"
    theirs = proj.Project(video_path=mkv).save()  # movie.dubsmith.json is the mkv's
    mine = proj.Project(video_path=mp4)
    assert mine.default_path() == project_file_for(mp4) == tmp_path / "movie.mp4.dubsmith.json"
    mine.save()
    assert proj.load_project(theirs).video_path == mkv  # not written over
    assert proj.load_project(tmp_path / "movie.mp4.dubsmith.json").video_path == mp4


# --- the empty default speaker --------------------------------------------------------------


def test_the_stand_in_speaker_leaves_once_analysis_gave_every_line_a_voice(tmp_path):
    keeper = ProjectKeeper(tmp_path / "film.mp4", lambda n: None)
    cues = [Cue(n, n * 1000, n * 1000 + 800, f"Line {n}.", None, f"Line {n}.") for n in (1, 2)]
    keeper.set_settings(video_path=tmp_path / "film.mp4")
    keeper.sync_lines(cues, {1: "speaker", 2: "speaker"}, {"speaker": "Speaker"}, {})
    assert [s.id for s in keeper.project.speakers] == ["speaker"]  # the lines' own, for now
    for n, sid in ((1, "S1"), (2, "S2")):  # what the pipeline does with the analysis
        keeper.line(n).speaker_id, keeper.line(n).speaker_source = sid, "clustering"
    keeper.record_analysis({"method": "clustering"}, {"S1": "Speaker 1", "S2": "Speaker 2"})
    keeper.save()
    saved = proj.load_project(keeper.path)
    assert [(s.id, s.name) for s in saved.speakers] == [("S1", "Speaker 1"), ("S2", "Speaker 2")]
