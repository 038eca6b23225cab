"""The desk's domain, without a window: line status and fit, span limits, speakers, takes
and the chosen seed, one-line previews, the edited subtitles, the persisted queue."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from core import project as proj
from core.desk import status as desk
from core.desk.line_preview import preview_lines
from core.desk.queue_store import QueueEntry, QueueStore, entry_for
from core.desk.status import LineStatus
from core.job.options import DubOptions
from core.job.pipeline import dub
from core.job.project_keeper import project_file_for
from core.lines.timing import plan_line
from models.contract import DurationMode
from tests import mediagen
from tests.tone_engine import ToneEngine


def a_line(index: int, start: int, end: int, text: str = "Hello there.") -> proj.Line:
    return proj.Line(index=index, start_ms=start, end_ms=end, text=text, id=f"L{index}")


def a_take(tmp_path: Path, seed: int = 1, samples: int = 22050, **extra) -> proj.Take:
    wav = tmp_path / f"take{seed}.wav"
    wav.write_bytes(b"RIFF")  # only its presence counts here
    return proj.Take(datetime.now(), f"k{seed}", wav, samples, samples, DurationMode.EXACT,
                     seed=seed, extra=extra)  # fmt: skip


def test_the_pace_of_a_cue_past_the_end_is_words_not_infx():
    timing = plan_line(9000, 9500, "Too late.", video_end_ms=8000)
    assert math.isinf(timing.pace)
    assert desk.pace_text(timing.pace) == "past end"
    assert desk.pace_text(1.234) == "1.23x"


def test_status_follows_the_take_and_the_edits(tmp_path):
    line = a_line(1, 0, 1000)
    assert desk.line_status(line)[0] is LineStatus.NOT_RENDERED
    line.takes.append(a_take(tmp_path))
    desk.adopt_takes([line])  # a take from the CLI counts as current
    assert desk.line_status(line)[0] is LineStatus.RENDERED
    before = line.emotion
    line.emotion = proj.Emotion(mode=proj.EmotionMode.VOICE)
    assert desk.line_status(line) == (LineStatus.STALE, "edited since this take was rendered")
    line.emotion = before  # undone: current again
    assert desk.line_status(line)[0] is LineStatus.RENDERED
    line.text = "Hello, there!"
    assert desk.line_status(line)[0] is LineStatus.STALE
    desk.mark_rendered(line)
    assert desk.line_status(line, rendering=True)[0] is LineStatus.RENDERING
    assert desk.line_status(line, error="no voice") == (LineStatus.FAILED, "no voice")
    line.takes[-1].extra["error_rate"] = 0.75
    assert desk.line_status(line) == (LineStatus.FLAGGED, "75% off its text")
    line.takes[-1].cache_path.unlink()  # the cache was emptied: nothing to play
    assert desk.line_status(line)[0] is LineStatus.NOT_RENDERED


def test_fit_and_check_text(tmp_path):
    line = a_line(1, 0, 2000, "I was waiting for the morning train.")
    timing = plan_line(0, 2000, line.text)
    assert desk.line_fit(line, timing).rendered_s is None
    line.takes.append(a_take(tmp_path, samples=44100, error_rate=0.125, voice_similarity=0.8123))
    fit = desk.line_fit(line, timing)
    assert fit.rendered_s == pytest.approx(2.0) and fit.target_s == pytest.approx(2.0)
    assert fit.text.startswith("2.00 / 2.00 s · ") and fit.level == "ok"
    assert desk.check_text(line) == "err 12% · sim 0.81"
    crammed = plan_line(0, 600, "I was waiting for the morning train, all night long.")
    assert desk.line_fit(line, crammed).level == "bad"
    assert desk.line_fit(line, plan_line(0, 9000, "Yes.")).level == "warn"  # slow, and 2 s of 9


def test_a_span_never_runs_into_a_neighbour():
    lines = [a_line(1, 1000, 2000), a_line(2, 3000, 4000), a_line(3, 4500, 6000)]
    middle = lines[1]
    assert desk.span_limits(lines, middle, 10_000) == (2000, 4500)
    assert desk.clamp_span(lines, middle, 500, 9000, 10_000) == (2000, 4500)
    assert desk.clamp_span(lines, middle, 3900, 3950, 10_000) == (3900, 4100)  # min length
    assert desk.clamp_span(lines, lines[2], 4000, 12_000, 8000) == (4000, 8000)
    assert desk.clamp_span(lines, lines[0], -50, 1500, 8000) == (0, 1500)


def test_speakers_are_renamed_merged_and_given_prompts(tmp_path):
    project = proj.Project(lines=[a_line(1, 0, 1000), a_line(2, 2000, 3000), a_line(3, 4000, 5000)])
    ann, bob = project.add_speaker("Ann"), project.add_speaker("Bob")
    for line, sid in zip(project.lines, (ann.id, bob.id, bob.id), strict=True):
        line.speaker_id = sid
    assert desk.line_counts(project) == {ann.id: 1, bob.id: 2}
    desk.rename_speaker(project, ann.id, "  Anna ")
    assert ann.name == "Anna"
    with pytest.raises(ValueError, match="needs a name"):
        desk.rename_speaker(project, ann.id, " ")
    with pytest.raises(ValueError, match="none of the selected lines"):
        desk.prompt_from_lines(project, ann.id, project.lines[1:])
    desk.prompt_from_lines(project, bob.id, project.lines)
    assert bob.prompt_lines == ["L2", "L3"]
    with pytest.raises(ValueError, match="not a file"):
        desk.prompt_from_file(project, ann.id, tmp_path / "nope.wav")
    moved = desk.merge_speakers(project, ann.id, bob.id)
    assert [ln.index for ln in moved] == [2, 3]
    assert [s.id for s in project.speakers] == [ann.id]
    assert all(ln.speaker_id == ann.id and ln.speaker_source == "user" for ln in moved)
    with pytest.raises(ValueError, match="two different"):
        desk.merge_speakers(project, ann.id, ann.id)


def test_a_chosen_take_keeps_its_seed(tmp_path):
    line = a_line(4, 0, 1000)
    assert desk.seed_for(line, 4) == 4 and desk.seed_for(None, 9) == 9
    first = a_take(tmp_path, seed=4)
    line.takes.append(first)
    new = desk.next_take_seed(line, 4)
    assert new == 4 + desk.RETAKE_SEED_STEP
    line.takes.append(a_take(tmp_path, seed=new))
    assert desk.next_take_seed(line, 4) == 4 + 2 * desk.RETAKE_SEED_STEP
    desk.choose_take(line, first)
    assert desk.seed_for(line, 4) == 4 and desk.usable_take(line) is first
    assert desk.line_status(line)[0] is LineStatus.RENDERED


def test_peaks():
    audio = np.zeros(22050, np.float32)
    audio[11025] = -0.5
    p = desk.peaks(audio, 22050, 100)
    assert len(p) == 100 and p[50] == pytest.approx(0.5) and p.sum() == pytest.approx(0.5)


# --- with media ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("deskmovie")
    video = folder / "clip.mp4"
    mediagen.make_test_video(
        video, duration_s=8, lines=mediagen.DEFAULT_LINES[:2], srt_path=folder / "clip.srt"
    )
    return video


@pytest.fixture
def clip(source, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    return mediagen.private_copy(source, tmp_path)


def test_a_preview_renders_only_its_line_and_a_regenerate_adds_a_take(clip, tmp_path):
    engine = ToneEngine()
    options = DubOptions(output=tmp_path / "out.mp4")
    factory = lambda d, dev: engine  # noqa: E731
    [first] = preview_lines(clip, options, [2], engine_factory=factory)
    assert engine.rendered == ["I was waiting for the morning train."]
    assert first.index == 2 and first.wav.exists() and first.seed == 2
    assert len(first.take.audio) == first.take.target_samples
    assert not (tmp_path / "out.mp4").exists()  # a preview writes no video
    project = proj.load_project(project_file_for(clip))
    assert project.output_path is None  # nor names the preview as the dub's output
    [again] = preview_lines(clip, options, [2], engine_factory=factory)
    assert again.take.cached and len(engine.rendered) == 1  # unchanged: from the cache
    [new] = preview_lines(clip, options, [2], seed=99, engine_factory=factory)
    assert new.seed == 99 and len(engine.rendered) == 2
    line = next(ln for ln in proj.load_project(project_file_for(clip)).lines if ln.index == 2)
    assert [t.seed for t in line.takes] == [2, 99]
    with pytest.raises(Exception, match="line 7 is not a line"):
        preview_lines(clip, options, [7], engine_factory=factory)


def test_the_dub_renders_a_line_with_its_chosen_seed(clip, tmp_path):
    engine = ToneEngine()
    path = project_file_for(clip)
    dub(clip, DubOptions(output=tmp_path / "a.mp4"), engine_factory=lambda d, dev: engine)
    project = proj.load_project(path)
    line = next(ln for ln in project.lines if ln.index == 1)
    line.extra[desk.SEED_KEY] = 31
    project.save(path)
    dub(clip, DubOptions(output=tmp_path / "b.mp4"), engine_factory=lambda d, dev: engine)
    assert [r.seed for r in engine.requests] == [1, 2, 31]  # only line 1 again, seed 31


def test_edited_lines_become_the_subtitles_of_the_next_read(clip, tmp_path):
    from app.gui.worker import read_for_editing  # the reading the window does

    opened = read_for_editing(clip, None)
    project = opened.project
    project.lines[0].text = "Where were you?"
    project.lines[0].start_ms = 900
    path = desk.write_edited_subtitles(project, tmp_path / "work")
    assert path.parent == tmp_path / "work" and "Where were you?" in path.read_text()
    project.save(project_file_for(clip))
    again = read_for_editing(clip, None)
    assert again.inputs.subtitles.path == path
    assert again.project.lines[0].text == "Where were you?"
    assert again.project.lines[0].start_ms == 900
    chosen = read_for_editing(clip, clip.with_suffix(".srt"))  # subtitles chosen anew win
    assert chosen.project.lines[0].text == "Where have you been all this time?"
    assert desk.EDITED_SUBTITLES not in chosen.project.extra


def test_the_queue_is_kept_on_disk(tmp_path, source):
    store = QueueStore(tmp_path / "q" / "queue.json")
    assert store.load() == []
    entry = store.add(entry_for(source, tmp_path))
    assert entry.subtitles == source.with_suffix(".srt").resolve()  # paired by name
    assert entry.output == tmp_path / "clip.dubbed.mp4"
    store.add(QueueEntry(video=tmp_path / "b.mp4", output=tmp_path / "b.out.mp4", status="running"))
    store.add(QueueEntry(video=tmp_path / "c.mp4", output=tmp_path / "c.out.mp4", status="failed",
                         error="bad file"))  # fmt: skip
    again = QueueStore(tmp_path / "q" / "queue.json")
    assert [(e.status, e.error) for e in again.load()] == [
        ("waiting", None),
        ("waiting", None),  # cut off while running: it runs again
        ("failed", "bad file"),
    ]
    assert again.overall() == (1, 3)
    again.remove_finished()
    assert len(QueueStore(again.path).load()) == 2
    (tmp_path / "bad.json").write_text("{ nope")
    broken = QueueStore(tmp_path / "bad.json")
    assert broken.load() == [] and "could not be read" in broken.problem


def test_a_waiting_jobs_settings_change_on_disk_and_a_started_ones_do_not(tmp_path, source):
    from core.desk.queue_store import job_settings
    from core.errors import OptionError
    from core.settings import BackgroundMode, DubSettings

    video = mediagen.private_copy(source, tmp_path)
    store = QueueStore(tmp_path / "queue.json")
    entry = store.add(entry_for(video, changes={"background": "duck"}))
    # What the job runs with: its video's project (what the last run used) under its changes.
    assert job_settings(entry).duck_db == DubSettings().duck_db
    project = proj.Project()
    project.settings.duck_db = -20.0
    project.settings.background = BackgroundMode.SEPARATE
    project.save(project_file_for(video))
    assert (job_settings(entry).duck_db, job_settings(entry).background) == (-20.0, "duck")

    store.edit(entry, tmp_path / "elsewhere.mkv", {"background": "replace", "emotion": "voice"},
               report_path=tmp_path / "report.json")  # fmt: skip
    (again,) = QueueStore(store.path).load()
    assert again.output == tmp_path / "elsewhere.mkv"
    assert again.changes == {"background": "replace", "emotion": "voice"}
    assert again.report_path == tmp_path / "report.json" and again.stems_dir is None
    assert job_settings(again).background == "replace" and job_settings(again).duck_db == -20.0

    with pytest.raises(OptionError, match="duck level"):  # refused as the dub would refuse it
        store.edit(entry, entry.output, {"duck_db": 3.0})
    assert QueueStore(store.path).load()[0].changes == again.changes  # nothing half-saved
    assert entry.changes == again.changes
    for status, why in (("running", "running"), ("done", "ended"), ("failed", "ended")):
        entry.status = status
        assert why in entry.why_not_editable()
        with pytest.raises(OptionError, match=why):
            store.edit(entry, tmp_path / "other.mp4", {"background": "duck"})
    assert QueueStore(store.path).load()[0].output == tmp_path / "elsewhere.mkv"


def test_the_model_folder_check(tiny_model_dir, tmp_path):
    ok = desk.check_model_folder(tiny_model_dir)
    assert ok.ok and ok.rows[0].startswith("✓ IndexTTS2")
    assert any("whisper" in r and "dubsmith models download whisper" in r for r in ok.rows)
    empty = desk.check_model_folder(tmp_path)
    assert not empty.ok and "missing" in empty.rows[0]
    nowhere = desk.check_model_folder(tmp_path / "nope")
    assert not nowhere.ok and "is not a folder" in nowhere.rows[0]
