"""core.project: JSON round trip, atomic saves, unreadable files, undo snapshots, autosave."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.project import (
    SCHEMA_VERSION,
    Autosaver,
    BackgroundMode,
    DubSettings,
    Emotion,
    EmotionMode,
    Line,
    ModelSettings,
    Project,
    ProjectError,
    Speaker,
    Take,
    load_project,
    project_path_for,
)
from models.contract import EMOTION_NAMES, DurationMode

io_settings = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# --- strategies -----------------------------------------------------------------------------

name_part = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789_- éü", min_size=1, max_size=10
).map(lambda s: s.strip() or "x")
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def paths(root: Path) -> st.SearchStrategy[Path]:
    """Absolute paths inside the project folder (root/proj) or outside it (root/elsewhere)."""
    where = st.sampled_from(["proj", "elsewhere", "proj/sub"])
    return st.builds(
        lambda w, parts: root.joinpath(w, *parts),
        where,
        st.lists(name_part, min_size=1, max_size=3),
    )


def emotions(root: Path) -> st.SearchStrategy[Emotion]:
    return st.builds(
        Emotion,
        mode=st.sampled_from(list(EmotionMode)),
        vector=st.tuples(*[unit] * len(EMOTION_NAMES)),
        text=st.text(max_size=30),
        reference_path=st.none() | paths(root),
        alpha=unit,
        extra=st.just({}),
    )


def takes(root: Path) -> st.SearchStrategy[Take]:
    return st.builds(
        Take,
        when=st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ),
        key=st.text(alphabet="0123456789abcdef", min_size=8, max_size=64),
        cache_path=paths(root),
        requested_samples=st.none() | st.integers(0, 10**9),
        rendered_samples=st.integers(0, 10**9),
        duration_mode=st.sampled_from(list(DurationMode)),
        flag=st.none() | st.text(max_size=40),
        seed=st.integers(0, 2**32 - 1),
    )


@st.composite
def projects(draw, root: Path) -> Project:
    speakers = [
        Speaker(
            id=f"S{i}",
            name=draw(st.text(max_size=20)),
            prompt_path=draw(st.none() | paths(root)),
            colour=draw(st.sampled_from(["#4e79a7", "#ff0000", "#00aa00"])),
        )
        for i in range(draw(st.integers(0, 4)))
    ]
    lines = []
    t = 0
    for i in range(draw(st.integers(0, 6))):
        t += draw(st.integers(0, 5000))
        length = draw(st.integers(0, 8000))
        lines.append(
            Line(
                index=i + 1,
                start_ms=t,
                end_ms=t + length,
                text=draw(st.text(max_size=60)),  # any Unicode, newlines, quotes...
                speaker_id=draw(st.none() | st.sampled_from([s.id for s in speakers] or [None])),
                emotion=draw(emotions(root)),
                duration_mode=draw(st.sampled_from(list(DurationMode))),
                takes=draw(st.lists(takes(root), max_size=3)),
            )
        )
        t += length
    return Project(
        video_path=root / "proj" / "movie.mp4",
        subtitle_path=draw(st.none() | paths(root)),
        language=draw(st.none() | st.sampled_from(["en", "fr", "zh", "ja"])),
        output_path=draw(st.none() | paths(root)),
        model=ModelSettings(
            device=draw(st.sampled_from(["auto", "cpu", "cuda", "cuda:1"])),
            model_dir=draw(st.none() | paths(root)),
        ),
        settings=DubSettings(
            background=draw(st.sampled_from(list(BackgroundMode))),
            duck_db=draw(st.floats(min_value=-60.0, max_value=0.0)),
            keep_original_track=draw(st.booleans()),
            seed=draw(st.integers(0, 2**31)),
            flow_steps=draw(st.none() | st.integers(1, 200)),
        ),
        speakers=speakers,
        lines=lines,
    )


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def make_project(root: Path) -> Project:
    (root / "proj").mkdir(parents=True, exist_ok=True)
    p = Project(video_path=root / "proj" / "movie.mp4", language="en")
    s = p.add_speaker("Alice", root / "proj" / "voices" / "alice.wav")
    p.lines = [
        Line(1, 1000, 2500, "Hello there.", s.id),
        Line(2, 3000, 4200, "Bonjour, ça va ?", s.id, Emotion(EmotionMode.TEXT, text="warm")),
    ]
    return p


# --- paths ----------------------------------------------------------------------------------


def test_project_path_sits_next_to_the_video(tmp_path):
    assert project_path_for(tmp_path / "movie.mp4") == tmp_path / "movie.dubsmith.json"
    assert project_path_for(tmp_path / "my.film.mkv") == tmp_path / "my.film.dubsmith.json"
    p = make_project(tmp_path)
    assert p.save() == tmp_path / "proj" / "movie.dubsmith.json"
    assert p.path == tmp_path / "proj" / "movie.dubsmith.json"


def test_paths_inside_the_folder_are_stored_relative(tmp_path):
    p = make_project(tmp_path)
    p.output_path = tmp_path / "exports" / "movie.dub.mp4"
    saved = p.save()
    raw = json.loads(saved.read_text(encoding="utf-8"))
    assert raw["schema"] == SCHEMA_VERSION
    assert raw["video_path"] == "movie.mp4"
    assert raw["speakers"][0]["prompt_path"] == "voices/alice.wav"
    assert Path(raw["output_path"]).is_absolute()
    # The folder can move: relative paths follow it.
    moved = tmp_path / "moved"
    (tmp_path / "proj").rename(moved)
    loaded = load_project(moved / "movie.dubsmith.json")
    assert loaded.video_path == moved / "movie.mp4"
    assert loaded.speakers[0].prompt_path == moved / "voices" / "alice.wav"
    assert loaded.output_path == tmp_path / "exports" / "movie.dub.mp4"


# --- round trip and atomic writes -----------------------------------------------------------


@io_settings
@given(data=st.data())
def test_save_load_round_trip(data):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "proj").mkdir()
        project = data.draw(projects(root))
        target = project_path_for(project.video_path)
        project.save()
        loaded = load_project(target)
        assert loaded == project
        assert loaded.path == target
        # saving again over the file gives the same bytes and leaves nothing behind
        first = target.read_bytes()
        loaded.save()
        assert target.read_bytes() == first
        assert leftovers(root / "proj", {target.name}) == []


def test_snapshot_and_restore_undo_an_edit(tmp_path):
    p = make_project(tmp_path)
    p.save()
    before = p.snapshot()
    p.lines[0].text = "Changed."
    p.lines[1].emotion.vector = (0.5,) * 8
    p.lines.pop()
    p.settings.duck_db = -3.0
    assert p.snapshot() != before
    p.restore(before)
    assert p.snapshot() == before
    assert p.lines[1].emotion.mode is EmotionMode.TEXT
    assert p.path == tmp_path / "proj" / "movie.dubsmith.json"  # the location is kept
    # a snapshot does not change when the project does
    p.lines[0].emotion.extra["x"] = [1]
    assert "x" not in before["lines"][0]["emotion"]


def test_failed_save_leaves_the_old_file_and_no_temp_files(tmp_path, monkeypatch):
    p = make_project(tmp_path)
    target = p.save()
    original = target.read_bytes()
    p.lines[0].text = "new text"

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ProjectError, match="disk on fire"):
        p.save()
    monkeypatch.undo()
    assert target.read_bytes() == original
    assert leftovers(target.parent, {target.name}) == []
    p.settings.duck_db = float("nan")  # not JSON: refused before anything is written
    with pytest.raises(ProjectError):
        p.save()
    assert target.read_bytes() == original
    assert leftovers(target.parent, {target.name}) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_save_keeps_the_file_mode(tmp_path):
    p = make_project(tmp_path)
    target = p.save()
    assert target.stat().st_mode & 0o777 == 0o644  # not the private mode of a temp file
    os.chmod(target, 0o664)
    p.save()
    assert target.stat().st_mode & 0o777 == 0o664


# --- files this version cannot read ---------------------------------------------------------


def backups(target: Path) -> list[Path]:
    return sorted(target.parent.glob(target.name + ".bak-*"))


@io_settings
@given(schema=st.integers(SCHEMA_VERSION + 1, 10_000))
def test_newer_schema_is_refused_and_kept(tmp_path, schema):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    target = folder / "movie.dubsmith.json"
    content = json.dumps({"format": "dubsmith-project", "schema": schema, "lines": "?"}).encode()
    target.write_bytes(content)
    with pytest.raises(ProjectError) as err:
        load_project(target)
    msg = str(err.value)
    assert (
        f"made by a newer Dubsmith (schema {schema}, this one reads up to {SCHEMA_VERSION}); "
        "update Dubsmith" in msg
    )
    assert str(target) in msg
    assert target.read_bytes() == content  # untouched
    assert backups(target) == []  # not even copied: it is fine, only newer (issue 26, 5)


@io_settings
@given(cut=st.floats(min_value=0.0, max_value=0.99))
def test_truncated_file_is_reported_and_kept(tmp_path, cut):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    p = make_project(folder)
    target = p.save()
    good = target.read_bytes()
    broken = good[: int(len(good.rstrip()) * cut)]  # a crash mid-write, without atomic saves
    target.write_bytes(broken)
    with pytest.raises(ProjectError) as err:
        load_project(target)
    assert str(target) in str(err.value) and "corrupt" in str(err.value)
    assert target.read_bytes() == broken
    [bak] = backups(target)
    assert bak.read_bytes() == broken


def test_a_save_cut_inside_a_character_is_corrupt_not_foreign(tmp_path):
    """A crash mid-write can cut a multi-byte character in two: still our project, cut."""
    target = tmp_path / "movie.dubsmith.json"
    good = '{"format": "dubsmith-project", "schema": 2, "lines": [{"text": "¿Qué?"'.encode()
    target.write_bytes(good[: good.index("é".encode()) + 1])
    with pytest.raises(ProjectError, match="is corrupt"):
        load_project(target)


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe not text",
        b"[1, 2, 3]",
        b'{"format": "something-else", "schema": 1}',
        b'{"format": "dubsmith-project"}',
        b'{"format": "dubsmith-project", "schema": "1"}',
        # A bad line or setting is no longer a whole-file problem: see
        # tests/test_project_safety.py (the value is dropped, the rest kept).
    ],
)
def test_unusable_files_are_reported_and_kept(tmp_path, content):
    target = tmp_path / "movie.dubsmith.json"
    target.write_bytes(content)
    with pytest.raises(ProjectError, match="movie.dubsmith.json"):
        load_project(target)
    assert target.read_bytes() == content
    assert [b.read_bytes() for b in backups(target)] == [content]


def test_backups_never_overwrite_each_other(tmp_path):
    target = tmp_path / "movie.dubsmith.json"
    target.write_text("{")
    for _ in range(3):
        with pytest.raises(ProjectError):
            load_project(target)
    assert len(backups(target)) == 3


def test_missing_file_is_a_project_error(tmp_path):
    with pytest.raises(ProjectError, match="cannot read"):
        load_project(tmp_path / "nope.dubsmith.json")


def test_unknown_keys_survive_a_round_trip(tmp_path):
    p = make_project(tmp_path)
    target = p.save()
    raw = json.loads(target.read_text(encoding="utf-8"))
    raw["future_setting"] = {"a": [1, 2]}
    raw["lines"][0]["lip_sync"] = True
    raw["lines"][0]["emotion"]["curve"] = [0.1, 0.2]
    raw["speakers"][0]["age"] = 42
    raw["model"]["precision"] = "bf16"
    target.write_text(json.dumps(raw), encoding="utf-8")
    loaded = load_project(target)
    loaded.lines[0].text = "edited"
    loaded.save()
    again = json.loads(target.read_text(encoding="utf-8"))
    assert again["future_setting"] == {"a": [1, 2]}
    assert again["lines"][0]["lip_sync"] is True
    assert again["lines"][0]["emotion"]["curve"] == [0.1, 0.2]
    assert again["speakers"][0]["age"] == 42
    assert again["model"]["precision"] == "bf16"
    assert again["lines"][0]["text"] == "edited"


# --- emotion validation ---------------------------------------------------------------------


@given(vector=st.tuples(*[unit] * 8), alpha=unit, mode=st.sampled_from(list(EmotionMode)))
def test_valid_emotions_pass(vector, alpha, mode):
    Emotion(mode, vector, "calm and low", Path("ref.wav"), alpha).validate()


@given(
    vector=st.tuples(*[unit] * 8),
    at=st.integers(0, 7),
    bad=st.floats(allow_nan=True).filter(lambda v: not 0.0 <= v <= 1.0),
)
def test_emotion_values_outside_unit_range_are_refused(vector, at, bad):
    v = list(vector)
    v[at] = bad
    with pytest.raises(ValueError, match=EMOTION_NAMES[at]):
        Emotion(EmotionMode.VECTOR, tuple(v)).validate()


def test_emotion_errors_are_clear():
    with pytest.raises(ValueError, match="8 values"):
        Emotion(EmotionMode.VECTOR, (0.1,) * 7).validate()
    with pytest.raises(ValueError, match="alpha"):
        Emotion(alpha=1.5).validate()
    with pytest.raises(ValueError, match="description"):
        Emotion(EmotionMode.TEXT, text="   ").validate()
    with pytest.raises(ValueError, match="reference audio file"):
        Emotion(EmotionMode.REFERENCE).validate()


def test_project_validate_names_the_line(tmp_path):
    p = make_project(tmp_path)
    p.validate()
    p.lines[1].emotion.alpha = -0.1
    with pytest.raises(ValueError, match="line 2"):
        p.validate()
    p.lines[1].emotion.alpha = 0.5
    p.lines[0].speaker_id = "S9"
    with pytest.raises(ValueError, match="unknown speaker"):
        p.validate()


def test_add_speaker_gives_fresh_ids_and_colours():
    p = Project()
    a, b = p.add_speaker("A"), p.add_speaker()
    assert a.id != b.id and a.colour != b.colour
    assert p.speaker(b.id) is b and p.speaker("nobody") is None
    with pytest.raises(ProjectError, match="nowhere to be saved"):
        p.save()


# --- autosave -------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_autosave_waits_for_the_interval(tmp_path):
    p = make_project(tmp_path)
    target = project_path_for(p.video_path)
    clock = FakeClock()
    saver = Autosaver(p, clock=clock)
    assert saver.interval_s == 2.0
    assert not saver.maybe_save()  # nothing to save
    saver.mark_dirty()
    for t in (0.0, 0.5, 1.999):
        clock.t = t
        assert not saver.maybe_save()
    assert not target.exists()
    clock.t = 2.0
    assert saver.maybe_save()
    assert load_project(target) == p
    assert not saver.dirty and not saver.maybe_save(10.0)


def test_autosave_flush(tmp_path):
    p = make_project(tmp_path)
    target = project_path_for(p.video_path)
    saver = Autosaver(p, clock=FakeClock())
    assert not saver.flush() and not target.exists()  # clean: nothing written
    saver.mark_dirty()
    p.lines[0].text = "last edit before quitting"
    assert saver.flush()
    assert load_project(target).lines[0].text == "last edit before quitting"


@given(
    events=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=3.0), st.booleans()), min_size=1, max_size=60
    ),
    interval=st.floats(min_value=0.1, max_value=5.0),
)
@settings(deadline=None, max_examples=50)
def test_autosave_interval_properties(tmp_path_factory, events, interval):
    folder = tmp_path_factory.mktemp("auto")
    p = make_project(folder)
    clock = FakeClock()
    saver = Autosaver(p, interval_s=interval, clock=clock)
    save_times: list[float] = []
    saved_last_edit = True
    first_unsaved: float | None = None
    for step, is_edit in events:
        clock.t += step
        if is_edit:
            p.lines[0].text = f"edit at {clock.t}"
            saver.mark_dirty()
            saved_last_edit = False
            first_unsaved = clock.t if first_unsaved is None else first_unsaved
        elif saver.maybe_save():
            save_times.append(clock.t)
            saved_last_edit = True
            assert first_unsaved is not None and clock.t - first_unsaved >= interval
            first_unsaved = None
        else:  # no save: nothing unsaved, or not for long enough
            assert first_unsaved is None or clock.t - first_unsaved < interval
    assert all(b - a >= interval for a, b in zip(save_times, save_times[1:], strict=False))
    if save_times and saved_last_edit:
        assert load_project(project_path_for(p.video_path)).lines[0].text == p.lines[0].text


def test_autosave_failure_stays_dirty_and_retries_later(tmp_path):
    p = make_project(tmp_path)
    clock = FakeClock()
    saver = Autosaver(p, tmp_path / "missing-folder" / "x.dubsmith.json", clock=clock)
    saver.mark_dirty()
    clock.t = 2.0
    with pytest.raises(ProjectError):
        saver.maybe_save()
    assert saver.dirty
    clock.t = 3.0
    assert not saver.maybe_save()  # not hammering the disk on every tick
    (tmp_path / "missing-folder").mkdir()
    clock.t = 4.0
    assert saver.maybe_save()
    assert load_project(tmp_path / "missing-folder" / "x.dubsmith.json") == p


def test_take_times_keep_their_zone(tmp_path):
    p = make_project(tmp_path)
    when = datetime(2025, 5, 1, 12, 0, tzinfo=UTC) + timedelta(microseconds=7)
    p.lines[0].takes.append(
        Take(when, "abc", tmp_path / "cache" / "abc.wav", 33075, 33075, DurationMode.EXACT, None, 7)
    )
    loaded = load_project(p.save())
    assert loaded.lines[0].takes[0].when == when
    assert loaded.lines[0].latest_take == p.lines[0].takes[0]


def test_settings_of_an_older_file_are_read_into_typed_settings(tmp_path):
    path = tmp_path / "old.dubsmith.json"
    path.write_text(
        '{"format": "dubsmith-project", "schema": 1, "background_mode": "replace", '
        '"duck_db": -6, "keep_original_track": true, "lines": []}'
    )
    project = load_project(path)
    assert project.settings.background is BackgroundMode.REPLACE
    assert project.settings.duck_db == -6.0 and project.settings.keep_original_track
    assert project.extra == {}  # moved, not kept twice
    project.save()
    data = json.loads(path.read_text())
    assert data["settings"]["background"] == "replace" and "background_mode" not in data
