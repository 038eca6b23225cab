"""The editor's desk offscreen, driving the real widgets on generated videos with the tone
test double (and once with the real engine on the tiny checkpoints): the defects found in
the first window, the lines table, the inspector's Preview and Regenerate, spans dragged on
the timeline, speakers, the export dialog, the queue, and closing during a render.
Screenshots go to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from app.gui.export_dialog import ExportDialog  # noqa: E402
from app.gui.lines_model import (  # noqa: E402
    COL_CHECK,
    COL_PACE,
    COL_RENDERED,
    COL_SPEAKER,
    COL_STATUS,
    COL_TEXT,
)
from app.gui.main_window import MainWindow  # noqa: E402
from app.gui.settings_dialog import MODES, SettingsDialog  # noqa: E402
from app.gui.shortcuts import LISTED_ONLY, SHORTCUTS, ShortcutsDialog  # noqa: E402
from core import project as proj  # noqa: E402
from core.desk import status as desk  # noqa: E402
from core.desk.status import LineStatus  # noqa: E402
from core.job.project_keeper import project_file_for  # noqa: E402
from core.media.probe import probe  # noqa: E402
from models.contract import EMOTION_NAMES, DurationMode  # noqa: E402
from tests import desk_fixtures, mediagen
from tests.desk_fixtures import LINES
from tests.tone_engine import ToneEngine  # noqa: E402

# The desk's fixtures, this module's own (own_settings autouse here), bound by name rather than
# imported by name: ruff reads each test's parameter of an imported fixture as a redefinition.
own_settings, source = desk_fixtures.own_settings, desk_fixtures.source
clip, no_dialogs = desk_fixtures.clip, desk_fixtures.no_dialogs

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TEXT2 = LINES[1][1]


def shot(widget, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert widget.grab().save(str(path))
    return path


def window(qtbot, engine=None, **kw) -> MainWindow:
    win = MainWindow(engine_factory=(lambda d, dev: engine) if engine else None, **kw)
    qtbot.addWidget(win)
    return win


def open_now(qtbot, win: MainWindow, video: Path, subtitles: Path | None = None) -> bool:
    with qtbot.waitSignal(win.opened, timeout=60_000) as blocker:
        assert win.open_video(video, subtitles)
    return blocker.args[0]


def dub_now(qtbot, win: MainWindow, out: Path) -> None:
    win.output_edit.setText(str(out))
    win.start_dub()
    qtbot.waitUntil(lambda: win.running_job is None, timeout=90_000)


def render_now(qtbot, win: MainWindow, action) -> bool:
    with qtbot.waitSignal(win.preview_finished, timeout=90_000) as blocker:
        action()
    return blocker.args[0]


def row_of(win: MainWindow, index: int) -> int:
    return win.rows[index]


# --- the defects of the first window --------------------------------------------------------


def test_a_video_without_audio_is_dubbed_with_voice_files(qtbot, tmp_path, monkeypatch, no_dialogs):
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    video = mediagen.make_silent_video(tmp_path / "mute.mp4", duration_s=8)
    mediagen.write_srt(tmp_path / "mute.srt", LINES[:2], duration_s=8)
    voice = tmp_path / "voice.wav"
    import soundfile as sf

    sf.write(voice, mediagen.speak("This is my own voice, for the dub.", "en-us"), mediagen.RATE)
    engine = ToneEngine()
    win = window(qtbot, engine, queue_file=tmp_path / "q.json")
    assert open_now(qtbot, win, video)
    assert win.tabs.currentWidget() is win.speakers  # where the missing files are chosen
    assert "no audio" in win.speakers.notice.text()
    win.output_edit.setText(str(tmp_path / "mute.dubbed.mp4"))
    win.start_dub()
    assert win.running_job is None  # refused before any work, naming the control, not a flag
    kind, text = no_dialogs[-1]
    assert kind == "warning" and "Voice file…" in text and "--voice" not in text
    sid = win.speakers.selected_id()
    win.set_voice_file(sid, voice)
    assert win.speakers.notice.text() == ""
    dub_now(qtbot, win, tmp_path / "mute.dubbed.mp4")
    assert (tmp_path / "mute.dubbed.mp4").exists(), no_dialogs
    assert engine.voices  # the voice came from the file
    win.undo()  # the voice file is an undoable edit too
    assert win.project.speaker(sid).prompt_path is None


def test_open_subtitles_takes_any_file_and_reopen_shows_the_cached_takes(
    qtbot, clip, tmp_path, monkeypatch, no_dialogs
):
    engine = ToneEngine()
    win = window(qtbot, engine)
    assert open_now(qtbot, win, clip)
    other = tmp_path / "elsewhere" / "other-words.txt"  # an SRT by content, any name
    other.parent.mkdir()
    mediagen.write_srt(other, [(1.0, "Completely different words.", "en-us")], duration_s=13)
    monkeypatch.setattr(
        "app.gui.main_window.QFileDialog.getOpenFileName", lambda *a, **k: (str(other), "")
    )
    with qtbot.waitSignal(win.opened, timeout=60_000):
        win.choose_subtitles()
    assert win.subtitles == other and win.table_model.rowCount() == 1
    assert win.cell(0, COL_TEXT) == "Completely different words."
    assert open_now(qtbot, win, clip, clip.with_suffix(".srt"))
    dub_now(qtbot, win, tmp_path / "out.mp4")
    rendered = [win.cell(r, COL_RENDERED) for r in range(3)]
    assert all(r.endswith(" s") for r in rendered)
    win.close()
    again = window(qtbot)
    assert open_now(qtbot, again, clip)
    assert [again.cell(r, COL_RENDERED) for r in range(3)] == rendered  # from the takes
    assert {again.cell(r, COL_STATUS) for r in range(3)} == {"rendered"}, [
        again.table_model.status(r) for r in range(3)
    ]


def test_models_field_browse_check_and_no_saving_of_a_wrong_path(
    qtbot, clip, tmp_path, tiny_model_dir, monkeypatch, no_dialogs
):
    win = window(qtbot, ToneEngine())
    win.settings.setValue("model_dir", str(tiny_model_dir))
    monkeypatch.setattr(
        "app.gui.main_window.QFileDialog.getExistingDirectory", lambda *a, **k: str(tmp_path)
    )
    win.model_btn.click()  # Browse…: an empty folder
    assert win.model_edit.text() == str(tmp_path) and win.models_label.text() == "✗ incomplete"
    assert "missing" in win.models_label.toolTip()
    assert open_now(qtbot, win, clip)
    dub_now(qtbot, win, tmp_path / "o.mp4")
    assert win.settings.value("model_dir") == str(tiny_model_dir)  # the wrong one not kept
    win.model_edit.setText(str(tiny_model_dir))
    win.check_models()
    assert win.models_label.text() == "✓"


def test_dub_settings_are_reachable_from_the_window(qtbot, clip, tiny_model_dir, monkeypatch):
    win = window(qtbot)
    assert open_now(qtbot, win, clip)
    dialog = SettingsDialog(win, str(tiny_model_dir), "auto", "auto", win.project.settings)
    dialog.mode.setCurrentIndex(MODES.index(DurationMode.NATURAL))
    dialog.language.setText("fra")
    dialog.seed.setValue(7)
    dialog.flow_steps.setValue(10)
    dialog.device.setCurrentText("cpu")
    dialog.precision.setCurrentText("bf16")
    dialog.duck_db.setValue(-20)
    dialog.keep_original.setChecked(True)
    dialog.subtitle_track.setChecked(True)
    assert "✓ IndexTTS2: ready" in dialog.report.toPlainText()
    shot(dialog, "settings")
    win.apply_settings(dialog)
    s = win.project.settings
    assert (s.duration_mode.value, s.language, s.seed, s.flow_steps) == ("natural", "fra", 7, 10)
    assert (s.duck_db, s.keep_original_track, s.subtitle_track) == (-20, True, True)
    assert (win.project.model.device, win.project.model.precision) == ("cpu", "bf16")
    # a bad setting is refused with its reason, and nothing is taken
    bad = SettingsDialog(win, str(tiny_model_dir), "auto", "auto", s)
    bad.language.setText("klingon!")
    bad.accept()
    assert bad.result() == 0 and "language" in bad.error.text()
    # an incomplete model folder is listed before it is kept; "No" keeps the dialog open
    incomplete = SettingsDialog(win, str(clip.parent), "auto", "auto", s)
    monkeypatch.setattr(
        "app.gui.settings_dialog.QMessageBox.question", lambda *a: QMessageBox.StandardButton.No
    )
    incomplete.accept()
    assert incomplete.result() == 0 and "missing" in incomplete.report.toPlainText()


def test_an_existing_output_is_not_overwritten_without_asking(qtbot, clip, tmp_path, monkeypatch):
    out = tmp_path / "taken.mp4"
    out.write_bytes(b"the editor's earlier export")
    asked = []
    monkeypatch.setattr(
        "app.gui.main_window.QMessageBox.question",
        lambda *a: asked.append(a[2]) or QMessageBox.StandardButton.No,
    )
    win = window(qtbot, ToneEngine())
    assert open_now(qtbot, win, clip)
    win.output_edit.setText(str(out))
    win.start_dub()
    assert asked and "exists already" in asked[0]
    assert win.running_job is None and out.read_bytes() == b"the editor's earlier export"


def test_pace_past_the_end_text_width_and_shortcuts(qtbot, clip, tmp_path):
    lines = [*LINES, (13.5, "This cue starts after the picture has ended.", "en-us")]
    mediagen.write_srt(clip.with_suffix(".srt"), lines, duration_s=15)
    win = window(qtbot)
    win.resize(1024, 700)
    win.show()
    assert open_now(qtbot, win, clip)
    assert win.cell(3, COL_PACE) == "past end"
    assert all("inf" not in win.cell(r, COL_PACE) for r in range(4))
    qtbot.wait(50)
    assert win.table.columnWidth(COL_TEXT) >= 250  # was ~60 px at 1024
    bound = {act.shortcut().toString() for act in win.shortcut_actions}
    assert {"J", "K", "L", "P", "R", "A", "Space", "Left", "Right", "F1", "Ctrl+E"} <= bound
    assert len(win.shortcut_actions) >= 20
    help_ = ShortcutsDialog(win)
    assert help_.table.rowCount() == len(SHORTCUTS) + len(LISTED_ONLY)  # and the A/B keys
    # keyboard-first: N goes to the next line, Shift+N back
    win.table.setFocus()
    win._select_row(0)
    QTest.keyClick(win, Qt.Key.Key_N)
    assert win.selected_index() == 2
    QTest.keyClick(win, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
    assert win.selected_index() == 1
    QTest.keyClick(win, Qt.Key.Key_K)  # a key without Shift: later selections see none held
    win.set_theme("dark")
    assert win.settings.value("theme") == "dark"
    win.set_theme("light")


# --- the lines table --------------------------------------------------------------------------


def test_table_edits_filters_bulk_edits_and_undo(qtbot, clip, tmp_path, no_dialogs):
    engine = ToneEngine()
    win = window(qtbot, engine)
    assert open_now(qtbot, win, clip)
    model = win.table_model
    assert model.status(0)[0] is LineStatus.NOT_RENDERED
    dub_now(qtbot, win, tmp_path / "out.mp4")
    assert [model.status(r)[0] for r in range(3)] == [LineStatus.RENDERED] * 3
    # edit a text in the table as the editor does (the model's edit role)
    model.setData(model.index(1, COL_TEXT), "I was waiting for the night train.")
    assert win.line(2).text == "I was waiting for the night train."
    assert model.status(1) == (LineStatus.STALE, "edited since this take was rendered")
    assert win.cell(1, COL_STATUS) == "stale"
    win.undo()
    assert win.line(2).text == TEXT2 and model.status(1)[0] is LineStatus.RENDERED
    win.redo()
    # the speaker column: a new name makes a speaker; the filter then shows only theirs
    model.setData(model.index(2, COL_SPEAKER), "Narrator")
    assert win.cell(2, COL_SPEAKER) == "Narrator"
    narrator = win.project.speaker(win.line(3).speaker_id)
    assert narrator.name == "Narrator" and win.line(3).speaker_source == "user"
    win.set_filter(speaker=narrator.id)
    assert win.table_filter.rowCount() == 1
    win.set_filter(status=LineStatus.STALE)
    assert win.table_filter.rowCount() == 2  # line 2's text and line 3's speaker changed
    win.status_filter.setCurrentIndex(win.status_filter.findText("rendered"))  # as clicked
    assert win.table_filter.rowCount() == 1
    win.set_filter()
    assert win.table_filter.rowCount() == 3
    # multi-select: one emotion for two lines, one undo step
    win.show()
    qtbot.waitExposed(win)
    view = win.table
    win._select_row(0)
    assert win.selected_indices() == [1]
    flags = view.selectionModel().SelectionFlag  # as a Ctrl+click adds a row
    view.selectionModel().select(win.table_filter.index(2, 0), flags.Select | flags.Rows)
    assert sorted(win.selected_indices()) == [1, 3]
    steps = win.undo_stack.count()
    win.panel.mode.setCurrentIndex(4)
    win.panel.mode.activated.emit(4)  # Sliders
    assert win.undo_stack.count() == steps + 1
    assert win.line(1).emotion.mode is proj.EmotionMode.VECTOR
    assert win.line(3).emotion.mode is proj.EmotionMode.VECTOR
    win.undo()
    assert win.line(1).emotion == proj.Emotion() and win.line(3).emotion == proj.Emotion()
    # a re-render brings the stale line back, line by line
    seen = []
    win.queue_worker.line_rendered.connect(lambda job, i, take: seen.append(i))
    dub_now(qtbot, win, tmp_path / "out2.mp4")
    assert 2 in seen and model.status(1)[0] is LineStatus.RENDERED
    shot(win, "main_window")


def test_a_span_dragged_on_the_timeline_stops_at_the_neighbour(qtbot, clip):
    win = window(qtbot)
    win.resize(1200, 800)
    win.show()
    assert open_now(qtbot, win, clip)
    canvas = win.timeline.canvas
    canvas.px_per_s, canvas.offset_ms = 50.0, 0
    line2 = win.line(2)
    start, end = line2.start_ms, line2.end_ms
    lane_y = int(canvas._lane(2).center().y())
    x_end = int(canvas.x_of(end))
    QTest.mousePress(
        canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x_end, lane_y)
    )
    QTest.mouseMove(canvas, QPoint(int(canvas.x_of(12_000)), lane_y))  # far into line 3
    QTest.mouseRelease(
        canvas,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        QPoint(int(canvas.x_of(12_000)), lane_y),
    )
    assert line2.start_ms == start and line2.end_ms == win.line(3).start_ms  # not into it
    assert win.cell(1, 2).endswith(f"{line2.end_ms % 1000:03d}")
    assert win.subtitles == desk.edited_subtitles(win.project)  # the dub reads the new span
    win.undo()
    assert (line2.start_ms, line2.end_ms) == (start, end)
    canvas.zoom(4.0)
    assert canvas.px_per_s == 200.0
    canvas.scroll_to(3000)
    assert canvas.offset_ms == 3000 and win.timeline.bar.value() == 3000


# --- the inspector: preview, regenerate, takes --------------------------------------------------


def test_preview_renders_only_that_line_and_regenerate_keeps_takes(
    qtbot, clip, tmp_path, no_dialogs
):
    engine = ToneEngine()
    win = window(qtbot, engine)
    win.show()
    assert open_now(qtbot, win, clip)
    # room for the check a preview brings, before any line has one
    check = win.table.fontMetrics().horizontalAdvance("err 100% · sim 0.00")
    assert win.table.columnWidth(COL_CHECK) >= check
    win._select_row(row_of(win, 2))
    assert render_now(qtbot, win, win.inspector.preview_btn.click), no_dialogs
    assert engine.rendered == [TEXT2]  # only this line
    line = win.line(2)
    assert len(line.takes) == 1 and win.cell(row_of(win, 2), COL_STATUS) == "rendered"
    assert win.cell(row_of(win, 2), COL_RENDERED).endswith(" s")
    assert win.cell(row_of(win, 1), COL_STATUS) == "not rendered"
    assert win.inspector.takes.count() == 1
    # an emotion edit marks it stale; Regenerate makes a second take, chosen
    win.set_emotion(
        2, proj.Emotion(mode=proj.EmotionMode.VECTOR, vector=(0, 0.9, 0, 0, 0, 0, 0, 0))
    )
    assert win.cell(row_of(win, 2), COL_STATUS) == "stale"
    assert render_now(qtbot, win, win.regenerate_line)
    assert len(line.takes) == 2 and engine.rendered == [TEXT2, TEXT2]
    assert desk.chosen_seed(line) == line.takes[1].seed != line.takes[0].seed
    assert win.cell(row_of(win, 2), COL_STATUS) == "rendered"
    assert win.inspector.takes.count() == 2
    assert win.inspector.takes.item(1).text().startswith("●")
    shot(win.tabs, "inspector")
    # choose the first take again (A): the dub uses its seed, nothing is re-rendered for it
    win.inspector.takes.setCurrentRow(0)
    win.accept_take()
    assert desk.chosen_seed(line) == line.takes[0].seed
    assert win.inspector.takes.item(0).text().startswith("●")
    win.undo()
    assert desk.chosen_seed(line) == line.takes[1].seed
    win._flush()  # the window's autosave (a preview no longer analyses, which saved early)
    assert win.project.path == project_file_for(clip)  # saved beside the video, below
    saved = proj.load_project(project_file_for(clip))
    assert [len(ln.takes) for ln in saved.lines] == [0, 2, 0]


def test_render_stale_then_close_during_a_render_keeps_finished_lines(
    qtbot, clip, tmp_path, no_dialogs
):
    class Gated(ToneEngine):
        def __init__(self) -> None:
            super().__init__()
            self.gate = threading.Event()

        def synthesize(self, requests, progress=None, **kw):
            if len(self.rendered) >= 1:  # the first line renders at once, then it waits
                assert self.gate.wait(30)
            return super().synthesize(requests, progress, **kw)

    engine = Gated()
    engine.max_batch = 1
    win = window(qtbot, engine)
    win.show()
    assert open_now(qtbot, win, clip)
    win.render_stale()
    qtbot.waitUntil(lambda: len(engine.rendered) == 1, timeout=60_000)
    qtbot.waitUntil(lambda: win.cell(0, COL_STATUS) == "rendered", timeout=10_000)
    assert win.cell(1, COL_STATUS) == "rendering"
    assert not win.close()  # asked, then cancelling: the window waits for the worker
    assert win.close_pending
    engine.gate.set()
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=60_000)
    saved = proj.load_project(project_file_for(clip))
    assert saved.lines[0].takes  # the finished line is kept
    assert not win.queue_thread.isRunning()


# --- speakers ---------------------------------------------------------------------------------


def test_speakers_rename_merge_and_count(qtbot, clip, tmp_path, no_dialogs):
    vtt = clip.with_suffix(".vtt")
    vtt.write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.500\n<v Ann>Where have you been all this time?\n\n"
        "00:00:05.000 --> 00:00:07.500\n<v Bob>I was waiting for the morning train.\n\n"
        "00:00:10.000 --> 00:00:12.500\n<v Ann>The train never came, did it?\n",
        encoding="utf-8",
    )
    win = window(qtbot)
    assert open_now(qtbot, win, clip, vtt)
    tree = win.speakers.tree
    rows = {
        tree.topLevelItem(i).text(0): tree.topLevelItem(i).text(1)
        for i in range(tree.topLevelItemCount())
    }
    assert rows == {"Ann": "2", "Bob": "1"}
    ann = next(s for s in win.project.speakers if s.name == "Ann")
    bob = next(s for s in win.project.speakers if s.name == "Bob")
    win.rename_speaker(bob.id, "Robert")
    assert win.cell(1, COL_SPEAKER) == "Robert"
    win.merge_speakers(ann.id, bob.id)
    assert win.project.speaker(bob.id) is None
    assert {win.cell(r, COL_SPEAKER) for r in range(3)} == {"Ann"}
    assert tree.topLevelItemCount() == 1 and tree.topLevelItem(0).text(1) == "3"
    win.undo()  # the merge
    assert win.project.speaker(bob.id).name == "Robert" and win.cell(1, COL_SPEAKER) == "Robert"
    win.undo()  # the rename
    assert win.cell(1, COL_SPEAKER) == "Bob"
    win._select_row(0)
    win.prompt_from_selected(ann.id)
    assert win.project.speaker(ann.id).prompt_lines == [win.line(1).id]
    win.prompt_from_selected(bob.id)  # line 1 is Ann's: refused with the reason
    assert "none of the selected lines" in no_dialogs[-1][1]
    shot(win.speakers, "speakers")


# --- export -----------------------------------------------------------------------------------


def test_export_dialog_writes_the_chosen_tracks_and_offers_the_folder(
    qtbot, clip, tmp_path, monkeypatch, no_dialogs
):
    opened_urls = []
    monkeypatch.setattr(
        "app.gui.render_control.QDesktopServices.openUrl", lambda url: opened_urls.append(url)
    )
    win = window(qtbot, ToneEngine())
    assert open_now(qtbot, win, clip)
    dialog = ExportDialog(win, str(tmp_path / "film.mp4"), win.project.settings, True)
    dialog.container.setCurrentIndex(1)  # Matroska
    assert dialog.output.text().endswith("film.mkv")
    dialog.keep_original.setChecked(True)
    dialog.subtitle_track.setChecked(True)
    dialog.background.setCurrentIndex(0)
    dialog.duck_db.setValue(-18)
    dialog.stems.setText(str(tmp_path / "stems"))
    dialog.report.setText(str(tmp_path / "report.json"))
    dialog.show()
    shot(dialog, "export_dialog")
    choice = dialog.choice()
    dialog.close()
    win.run_export(choice)
    qtbot.waitUntil(lambda: win.running_job is None, timeout=90_000)
    out = tmp_path / "film.mkv"
    assert out.exists(), no_dialogs
    info = probe(out)
    assert len(info.audio_streams) == 2 and len(info.subtitle_streams) == 1
    assert sorted(p.name for p in (tmp_path / "stems").glob("*.wav"))[:1] == ["cue0001.wav"]
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(report["lines"]) == 3
    s = win.project.settings
    assert s.keep_original_track and s.subtitle_track and s.duck_db == -18  # kept
    assert win.result_box is not None and win.result_box.isVisible()
    folder = next(b for b in win.result_box.buttons() if b.text() == "Open folder")
    folder.click()
    assert opened_urls and Path(opened_urls[0].toLocalFile()) == tmp_path


# --- the batch queue --------------------------------------------------------------------------


def _video_copies(source: Path, folder: Path, names) -> list[Path]:
    """Copies of the generated clip with their subtitles beside them, one per name."""
    videos = []
    for name in names:
        shutil.copy(source, folder / f"{name}.mp4")
        shutil.copy(source.with_suffix(".srt"), folder / f"{name}.srt")
        videos.append(folder / f"{name}.mp4")
    return videos


def test_a_three_job_queue_with_a_bad_input_goes_on_and_survives_a_restart(
    qtbot, source, tmp_path, monkeypatch, no_dialogs
):
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    videos = _video_copies(source, tmp_path, ("one", "two"))
    bad = mediagen.make_corrupt_file(tmp_path / "broken.mp4", "garbage")
    videos.insert(1, bad)
    queue_file = tmp_path / "queue.json"
    win = window(qtbot, ToneEngine(), queue_file=queue_file)
    win.show()
    panel = win.queue_panel
    win.background.setCurrentText("replace")  # the window's settings go with each new job
    panel.add_videos(videos)
    assert all(e.changes["background"] == "replace" for e in panel.store.entries)
    assert [e.subtitles.name if e.subtitles else None for e in panel.store.entries] == [
        "one.srt",
        None,
        "two.srt",
    ]
    panel.start_btn.click()
    qtbot.waitUntil(lambda: not panel.running(), timeout=120_000)
    assert [e.status for e in panel.store.entries] == ["done", "failed", "done"]
    assert panel.store.entries[1].error
    assert panel.tree.topLevelItem(1).text(3) == "failed"
    error = panel.store.entries[1].error
    assert "broken.mp4" in error
    assert panel.tree.topLevelItem(1).text(4) == error.splitlines()[0]  # all of it: tooltip
    assert panel.tree.topLevelItem(1).toolTip(4) == error
    assert panel.overall.value() == 100
    assert (tmp_path / "one.dubbed.mp4").exists() and (tmp_path / "two.dubbed.mp4").exists()
    win.tabs.setCurrentWidget(panel)
    shot(win.tabs, "queue")
    win.close()
    again = window(qtbot, queue_file=queue_file)
    assert [e.status for e in again.queue_panel.store.entries] == ["done", "failed", "done"]
    again.queue_panel.clear_finished()
    assert again.queue_panel.store.entries == []


def test_a_waiting_jobs_settings_are_edited_kept_and_run_with(
    qtbot, source, tmp_path, monkeypatch, no_dialogs
):
    """Edit… on the second of two queued jobs opens the Export dialog with its settings; the
    change is on disk at once, a new window reads it back, and the job runs with it. A
    finished or running job cannot be edited, and the button says why."""
    from core.desk.queue_store import QueueStore
    from core.settings import BackgroundMode, DefaultEmotion
    from models.contract import DurationMode

    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    videos = _video_copies(source, tmp_path, ("one", "two"))
    queue_file = tmp_path / "queue.json"
    win = window(qtbot, queue_file=queue_file)
    win.background.setCurrentText("duck")
    panel = win.queue_panel
    panel.add_videos(videos)
    assert not panel.edit_btn.isEnabled()  # nothing selected yet
    panel.tree.setCurrentItem(panel.tree.topLevelItem(1))
    assert panel.edit_btn.isEnabled()
    panel.edit_btn.click()
    dialog = panel.job_dialog
    assert isinstance(dialog, ExportDialog) and dialog.isVisible()  # the same dialog, reused
    assert dialog.output.text() == str(tmp_path / "two.dubbed.mp4")
    assert dialog.background.currentIndex() == 0  # duck, as the job was added
    shot(dialog, "queue_job_settings")
    (tmp_path / "out").mkdir()
    dialog.output.setText(str(tmp_path / "out" / "second.mp4"))
    dialog.container.setCurrentIndex(1)  # Matroska: the suffix follows
    dialog.background.setCurrentIndex(1)  # replace
    dialog.subtitle_track.setChecked(True)
    dialog.emotion.setCurrentText("voice")
    dialog.mode.setCurrentIndex(MODES.index(DurationMode.NATURAL))
    dialog.report.setText(str(tmp_path / "out" / "second.json"))
    dialog.accept()
    assert not dialog.isVisible()
    saved = QueueStore(queue_file).load()  # on disk at once
    assert saved[1].output == tmp_path / "out" / "second.mkv"
    assert saved[1].changes["background"] == "replace" and saved[1].changes["emotion"] == "voice"
    assert saved[0].output == tmp_path / "one.dubbed.mp4"  # the other job is untouched
    assert saved[0].changes == {"background": "duck", "emotion": "original"}
    assert "second.mkv" in panel.tree.topLevelItem(1).text(2)
    win.close()

    engine = ToneEngine()
    again = window(qtbot, engine, queue_file=queue_file)  # a restart reads the edit back
    panel = again.queue_panel
    assert panel.store.entries[1].output == tmp_path / "out" / "second.mkv"
    submitted = {}
    real_submit = again.queue_worker.submit

    def submit(video, options, project):
        submitted[Path(video).name] = options
        return real_submit(video, options, project)

    monkeypatch.setattr(again.queue_worker, "submit", submit)
    panel.start_btn.click()
    panel.tree.setCurrentItem(panel.tree.topLevelItem(1))  # queued in the running batch
    assert not panel.edit_btn.isEnabled() and "queued" in panel.edit_btn.toolTip()
    qtbot.waitUntil(lambda: not panel.running(), timeout=120_000)
    assert [e.status for e in panel.store.entries] == ["done", "done"], [
        e.error for e in panel.store.entries
    ]
    spec = submitted["two.mp4"]  # the job's spec carries the edit
    assert spec.output == tmp_path / "out" / "second.mkv"
    assert spec.report_path == tmp_path / "out" / "second.json"
    assert spec.changes["duration_mode"] == "natural" and spec.changes["subtitle_track"] is True
    assert (tmp_path / "out" / "second.mkv").exists() and (
        tmp_path / "out" / "second.json"
    ).exists()
    assert (tmp_path / "one.dubbed.mp4").exists() and not (tmp_path / "two.dubbed.mp4").exists()
    ran = proj.load_project(project_file_for(videos[1])).settings  # what the dub ran with
    assert ran.background is BackgroundMode.REPLACE and ran.emotion is DefaultEmotion.VOICE
    assert ran.duration_mode is DurationMode.NATURAL and ran.subtitle_track
    first = proj.load_project(project_file_for(videos[0])).settings
    assert first.background is BackgroundMode.DUCK and first.duration_mode is DurationMode.GUIDED

    # Finished: not editable, and the button says why; double-click opens nothing.
    panel.tree.setCurrentItem(panel.tree.topLevelItem(1))
    assert not panel.edit_btn.isEnabled() and "ended (done)" in panel.edit_btn.toolTip()
    panel.job_dialog = None
    panel.tree.itemDoubleClicked.emit(panel.tree.topLevelItem(1), 0)
    assert panel.job_dialog is None and panel.edit_current() is None
    entry = panel.store.entries[0]
    entry.status = "running"  # as the worker's first stage sets it
    panel.refresh()
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
    assert not panel.edit_btn.isEnabled() and "running" in panel.edit_btn.toolTip()


# --- the video preview --------------------------------------------------------------------------


def test_the_video_preview_seeks_steps_and_highlights_the_playing_line(qtbot, clip):
    win = window(qtbot)
    win.show()
    assert open_now(qtbot, win, clip)
    video = win.video
    assert video.player.source().toLocalFile() == str(clip)
    video.seek(5200)  # inside line 2
    assert win.table_model.playing == row_of(win, 2)
    assert win.timeline.canvas.playing == row_of(win, 2)  # its block too
    assert win.timeline.canvas.playhead_ms == 5200
    video.step_frames(5)
    assert video.player.position() in range(5300, 5500) or video.player.position() == 0
    video.seek(4000)  # between lines: none highlighted
    assert win.table_model.playing is None
    win._select_row(row_of(win, 3))
    win.play_line()
    qtbot.waitUntil(lambda: win.table_model.playing == row_of(win, 3), timeout=10_000)
    win.key_k()
    video.listen.setCurrentIndex(2)  # both
    assert video.original_out.volume() == 1.0 and video.dub_out.volume() == 1.0
    video.listen.setCurrentIndex(1)  # the dub alone
    assert video.original_out.volume() == 0.0
    if not video.has_audio_device:
        assert "No audio device" in video.message.text()


def test_the_preview_players_get_their_sources_and_the_listen_switch_routes_them(
    qtbot, clip, no_dialogs
):
    """No audio device here: what can be checked is checked. The picture player plays the
    video, the dub player the dub's mix WAV once written, the take player a line's take;
    Original / Dub / Both set the two outputs' volumes; and with Qt's FFmpeg backend the
    media loads without an audio device (found out on this machine: LoadedMedia, then the
    clock runs), so the test waits for LoadedMedia instead of skipping."""
    from PySide6.QtMultimedia import QMediaPlayer

    from core.job.options import default_work_dir

    loaded = QMediaPlayer.MediaStatus.LoadedMedia
    # loaded: a player without an audio output (no device here) plays on "buffering"
    buffering = QMediaPlayer.MediaStatus.BufferingMedia
    settled = (
        loaded,
        buffering,
        QMediaPlayer.MediaStatus.BufferedMedia,
        QMediaPlayer.MediaStatus.EndOfMedia,
    )
    win = window(qtbot, ToneEngine())
    win.show()
    assert open_now(qtbot, win, clip)
    video = win.video
    assert video.player.source().toLocalFile() == str(clip)
    assert video.dub_player.source().isEmpty()  # no dub yet: "Dub" is silent
    qtbot.waitUntil(lambda: video.player.mediaStatus() in settled, timeout=20_000)
    assert video.player.hasVideo() and video.player.hasAudio()
    assert video.player.duration() == pytest.approx(13_000, abs=100)

    routes = {}
    for i, name in enumerate(("Original", "Dub", "Both")):
        video.listen.setCurrentIndex(i)
        routes[name] = (video.original_out.volume(), video.dub_out.volume())
    assert routes == {"Original": (1.0, 0.0), "Dub": (0.0, 1.0), "Both": (1.0, 1.0)}
    video.listen.setCurrentIndex(1)
    video.set_dub(None)  # a new source keeps the route
    assert (video.original_out.volume(), video.dub_out.volume()) == (0.0, 1.0)
    video.listen.setCurrentIndex(0)

    dub_now(qtbot, win, clip.with_name("out.mp4"))
    mix = default_work_dir(clip) / "mix.wav"
    assert mix.exists()
    assert video.dub_player.source().toLocalFile() == str(mix)  # the dub's own mix
    qtbot.waitUntil(lambda: video.dub_player.mediaStatus() in settled, timeout=20_000)
    assert video.dub_player.duration() == pytest.approx(13_000, abs=100)
    video.seek(6000)  # the dub follows the picture
    assert video.dub_player.position() == video.player.position() == 6000

    # "play line": the picture from the line's start.
    win._select_row(row_of(win, 3))
    win.play_line()
    assert video.player.position() == win.line(3).start_ms
    assert video.playing()
    win.key_k()
    # Preview: the line's take alone, the picture paused at its line.
    win._select_row(row_of(win, 2))
    assert render_now(qtbot, win, win.preview_line)
    take = win.line(2).takes[-1]
    assert video.take_player.source().toLocalFile() == str(take.cache_path)
    assert not video.playing() and video.player.position() == win.line(2).start_ms
    qtbot.waitUntil(lambda: video.take_player.mediaStatus() in settled, timeout=20_000)
    assert video.take_player.duration() == pytest.approx(
        1000 * take.rendered_samples / desk.RATE_22K, abs=30
    )
    # The inspector's play button on a take of the selected line does the same.
    win._select_row(row_of(win, 1))
    video.seek(9000)
    win.inspector.play_take.emit(str(take.cache_path))
    assert video.take_player.source().toLocalFile() == str(take.cache_path)
    assert video.player.position() == win.line(1).start_ms
    if not video.has_audio_device:
        assert "No audio device" in video.message.text()


# --- High-DPI ------------------------------------------------------------------------------------


def test_the_window_at_scale_2_paints_at_device_resolution(clip, tmp_path):
    """QT_SCALE_FACTOR=2 (set before the QApplication, so in a process of its own): the
    timeline's waveform pixmap is twice its logical size, and the Text column keeps its room
    at 1024 px. The screenshot is tests/artifacts/main_window_hidpi.png."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "QT_SCALE_FACTOR": "2",
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "DUBSMITH_QUEUE_FILE": str(tmp_path / "queue.json"),
    }
    png = ARTIFACTS / "main_window_hidpi.png"
    png.unlink(missing_ok=True)
    run = subprocess.run(
        [sys.executable, "-m", "tests.hidpi_window", str(clip), str(png)],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["window_dpr"] == 2.0 and seen["window_px"][0] == 1024
    assert seen["shot_px"] == [2 * v for v in seen["window_px"]] and seen["shot_dpr"] == 2.0
    assert seen["waves_px"] == [2 * v for v in seen["canvas_px"]] and seen["waves_dpr"] == 2.0
    assert seen["dub_lanes"] == len(LINES)
    assert seen["text_column_px"] >= 260, seen
    assert seen["table_rows_shown"] >= len(LINES), seen  # a 720 px window keeps its lines
    assert png.is_file()


def test_the_waveform_has_a_column_per_device_pixel(qtbot):
    """Drawn for a ratio of 2, a waveform with detail finer than a logical pixel shows it:
    neighbouring device columns differ (a drawing per logical pixel, scaled up, repeats each
    column twice, so at most half of the neighbours differ)."""
    import numpy as np

    from app.gui.timeline import PEAKS_PER_S, TimelineCanvas

    canvas = TimelineCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, canvas.minimumHeight())
    canvas.px_per_s = 20.0  # 5 peaks per logical px, 2.5 per device px
    rng = np.random.default_rng(7)
    canvas.original = rng.uniform(0.05, 1.0, 15 * PEAKS_PER_S).astype(np.float32)

    def heights(dpr: float) -> np.ndarray:
        image = canvas._draw_waves(dpr).toImage()
        lane = canvas._lane(0)
        rows = range(round(lane.top() * dpr), round(lane.bottom() * dpr))
        base = image.pixelColor(0, rows[0]).rgb()
        # Each device column's height: how many of the lane's pixels are waveform-coloured.
        return np.array(
            [
                sum(image.pixelColor(x, y).rgb() != base for y in rows)
                for x in range(200, 440)  # device px, right of the lane's label
            ]
        )

    crisp = heights(2.0)
    assert canvas._draw_waves(2.0).size().width() == 600
    assert crisp.min() > 0  # every column drawn
    assert np.mean(crisp[1:] != crisp[:-1]) > 0.75, crisp[:20]


# --- the real engine, once ----------------------------------------------------------------------


@pytest.mark.slow
def test_preview_with_the_real_engine_on_the_tiny_checkpoints(
    qtbot, clip, tiny_model_dir, no_dialogs
):
    win = window(qtbot)  # no factory: the registry's engine, from the Models folder
    win.model_edit.setText(str(tiny_model_dir))
    win.check_models()
    assert open_now(qtbot, win, clip)
    win.project.model.device = "cpu"
    win.project.settings.flow_steps = 2
    win._select_row(row_of(win, 2))
    assert render_now(qtbot, win, win.preview_line), no_dialogs
    line = win.line(2)
    assert len(line.takes) == 1
    take = line.takes[0]
    assert take.rendered_samples == take.requested_samples  # exact: fills its span
    # random tiny weights may make the engine flag its take: then the status says why
    status, reason = win.table_model.status(row_of(win, 2))
    assert (status, reason) in ((LineStatus.RENDERED, None), (LineStatus.FLAGGED, take.flag))
    assert [len(win.line(i).takes) for i in (1, 3)] == [0, 0]
    assert win.cell(row_of(win, 2), COL_CHECK) == ""  # no whisper model: no check, no crash
    assert EMOTION_NAMES  # the sliders' names are the engine's


def test_dropped_videos_are_queued_and_closing_during_the_queue_keeps_finished_lines(
    qtbot, source, tmp_path, monkeypatch, no_dialogs
):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    from core.desk.queue_store import QueueStore

    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    videos = _video_copies(source, tmp_path, ("one", "two"))

    class Gated(ToneEngine):
        def __init__(self) -> None:
            super().__init__()
            self.gate = threading.Event()

        def synthesize(self, requests, progress=None, **kw):
            if self.rendered:  # the first line renders at once, then it waits
                assert self.gate.wait(30)
            return super().synthesize(requests, progress, **kw)

    engine = Gated()
    engine.max_batch = 1
    queue_file = tmp_path / "queue.json"
    win = window(qtbot, engine, queue_file=queue_file)
    win.show()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(v)) for v in videos])
    drop = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    win.dropEvent(drop)
    panel = win.queue_panel
    assert [e.video.name for e in panel.store.entries] == ["one.mp4", "two.mp4"]
    assert win.tabs.currentWidget() is panel
    panel.start()
    qtbot.waitUntil(lambda: len(engine.rendered) == 1, timeout=60_000)
    assert not win.close() and win.close_pending  # asked, then cancelling
    engine.gate.set()
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=60_000)
    assert [e.status for e in QueueStore(queue_file).load()] == ["cancelled", "cancelled"]
    saved = proj.load_project(project_file_for(videos[0]))
    assert saved.lines[0].takes  # the line finished before the close is kept
    assert not (tmp_path / "one.dubbed.mp4").exists()  # no half-written output


def test_a_projects_background_mode_survives_the_window(qtbot, clip, no_dialogs):
    """Every background mode is in the window's box, and the box shows the project's: a new
    project's `auto` (separate once a separation model is installed) and a saved `separate`
    are what the window's dub asks for, not the box's first item."""
    from core.settings import BackgroundMode

    win = window(qtbot)
    assert open_now(qtbot, win, clip)
    modes = [win.background.itemText(i) for i in range(win.background.count())]
    assert sorted(modes) == sorted(m.value for m in BackgroundMode)
    assert win.background.currentText() == "auto"
    win.project.settings.background = BackgroundMode.SEPARATE
    win.autosaver.mark_dirty()
    assert win.autosaver.flush()
    again = window(qtbot)
    assert open_now(qtbot, again, clip)
    assert again.background.currentText() == "separate"
    assert again._options(clip.with_name("out.mp4")).changes["background"] == "separate"
