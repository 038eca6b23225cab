"""A/B of two takes of a line over the same picture (issue 20), driven with real key
events through the real window: B starts the compare with take A at the line's start, B
again switches to take B at the same place in the line (the picture keeps its place),
Keep B chooses B through the undoable take choice. No audio device here: the state is
checked (which take the take player holds, and where), not the sound. The rules of
core/desk/takes.py are checked on their own first. The screenshot is
tests/artifacts/ab_takes.png."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytestqt  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)
from PySide6.QtCore import Qt
from PySide6.QtMultimedia import QMediaPlayer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from core import project as proj
from core.desk import status as desk
from core.desk import takes as desk_takes
from core.desk.takes import TakePair
from models.contract import DurationMode
from tests import test_gui_defects as defects
from tests.test_gui_defects import SHIFT, keys, shown
from tests.test_gui_desk import open_now, render_now, shot, window
from tests.tone_engine import ToneEngine

# The defects' window fixtures: own settings, a private copy of their clip, no dialogs.
own_settings, source, clip = defects.own_settings, defects.source, defects.clip
no_dialogs = defects.no_dialogs

SETTLED = (  # loaded (a player without an audio output plays on "buffering")
    QMediaPlayer.MediaStatus.LoadedMedia,
    QMediaPlayer.MediaStatus.BufferingMedia,
    QMediaPlayer.MediaStatus.BufferedMedia,
    QMediaPlayer.MediaStatus.EndOfMedia,
)

# --- the rules ----------------------------------------------------------------------------------


def a_line(tmp_path: Path, seeds: list[int], missing: tuple[int, ...] = ()) -> proj.Line:
    line = proj.Line(index=1, start_ms=1000, end_ms=3000, text="Hello", speaker_id="S1")
    for i, seed in enumerate(seeds):
        wav = tmp_path / f"take{i}.wav"
        if i not in missing:
            wav.write_bytes(b"RIFF")
        line.takes.append(
            proj.Take(
                when=datetime(2026, 1, 1, 12, 0, i),
                key=f"k{i}",
                cache_path=wav,
                requested_samples=None,
                rendered_samples=22050,
                duration_mode=DurationMode.EXACT,
                seed=seed,
            )
        )
    return line


def test_the_default_pair_is_the_chosen_take_and_the_latest_other(tmp_path):
    line = a_line(tmp_path, [11, 22, 33])
    assert desk_takes.default_pair(line) == TakePair(2, 1)  # nothing chosen: the latest is A
    desk.choose_take(line, line.takes[0])
    assert desk_takes.default_pair(line) == TakePair(0, 2)
    assert desk_takes.default_pair(a_line(tmp_path, [5])) is None  # one take: no A/B
    # A take whose file is gone (a cleared cache) is never compared.
    (tmp_path / "gone").mkdir()
    assert desk_takes.default_pair(a_line(tmp_path / "gone", [1, 2, 3], missing=(2,))) == (
        TakePair(1, 0)
    )


def test_marking_a_side_swaps_rather_than_comparing_a_take_with_itself():
    pair = TakePair(0, 1)
    assert desk_takes.mark(pair, "A", 2) == TakePair(2, 1)
    assert desk_takes.mark(pair, "A", 1) == TakePair(1, 0)
    assert desk_takes.mark(pair, "B", 0) == TakePair(1, 0)
    assert desk_takes.mark(pair, "B", 3) == TakePair(0, 3)


def test_a_switch_lands_at_the_same_place_in_the_line_or_replays_it_from_its_start():
    assert desk_takes.switch_offset(1400, 1000, 3000) == 400
    assert desk_takes.switch_offset(900, 1000, 3000) == 0  # before the line: its start
    assert desk_takes.switch_offset(3000, 1000, 3000) == 0  # played through: from the start
    assert desk_takes.offset_in_line(5000, 1000, 3000) == 2000


def test_the_pair_follows_its_takes_when_the_line_is_shown_again(tmp_path):
    line = a_line(tmp_path, [11, 22, 33])
    paths = (line.takes[0].cache_path, line.takes[2].cache_path)
    assert desk_takes.pair_again(line, paths) == TakePair(0, 2)
    line.takes.pop(1)
    assert desk_takes.pair_again(line, paths) == TakePair(0, 1)
    line.takes.pop(0)
    assert desk_takes.pair_again(line, paths) is None
    assert desk_takes.side_label("B", line, 0) == "B: take 1 (seed 33)"


def test_a_takes_outline_shows_where_it_speaks_and_how_loud(tmp_path):
    from core.audio.samples import write_wav

    audio = np.zeros(22050, np.float32)
    audio[:11025] = 0.5 * np.sin(np.arange(11025) * 0.3)  # speech, then silence
    wav = write_wav(tmp_path / "take.wav", audio, 22050)
    outline = desk_takes.take_outline(wav, 64)
    assert len(outline) == 64
    assert outline[:30].min() > 0.4 and outline[:32].max() <= 0.5 + 1e-6
    assert outline[34:].max() == 0.0
    assert len(desk_takes.take_outline(tmp_path / "gone.wav", 64)) == 0


# --- the desk --------------------------------------------------------------------------------


def test_ab_switches_takes_at_the_same_place_and_keep_b_is_undoable(qtbot, clip, no_dialogs):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    video, inspector = win.video, win.inspector
    qtbot.waitUntil(lambda: video.player.mediaStatus() in SETTLED, timeout=20_000)
    win._select_row(1)
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_P))
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_R))  # a second take
    index = win.selected_index()
    line = win.line(index)
    first, second = line.takes
    assert first.cache_path != second.cache_path
    # Defaults: A is the chosen take (Regenerate chose the new one), B the other.
    assert inspector.compare.pair == TakePair(1, 0)
    assert inspector.takes.item(1).text()[2:4] == "A "
    assert inspector.takes.item(0).text()[2:4] == "B "
    assert not inspector.takes.item(0).icon().isNull()  # each take's small waveform

    keys(qtbot, win, Qt.Key.Key_B)  # compare: take A over the line's picture
    assert inspector.compare.heard == "A"
    assert video.take_player.source().toLocalFile() == str(second.cache_path)
    assert video.take_offset_ms == 0  # take A from its start: the line's offset 0
    assert video.compare_span == (line.start_ms, line.end_ms)
    assert abs(video.player.position() - line.start_ms) < 400  # the picture at the line
    assert video.original_out.volume() == 0.0 and video.dub_out.volume() == 0.0
    assert "Hearing A: take 2" in inspector.compare.state.text()
    if not video.has_audio_device:
        assert "No audio device" in video.message.text()
    qtbot.waitUntil(lambda: video.take_player.mediaStatus() in SETTLED, timeout=20_000)

    keys(qtbot, win, Qt.Key.Key_K)  # pause inside the line: the take pauses with it
    for _ in range(5):
        keys(qtbot, win, Qt.Key.Key_Right)  # five frames on, still inside the line
    assert not video.playing()
    picture = video.player.position()
    offset = picture - line.start_ms
    assert 0 < offset < line.end_ms - line.start_ms
    qtbot.waitUntil(lambda: abs(video.take_player.position() - offset) <= 5, timeout=10_000)

    keys(qtbot, win, Qt.Key.Key_B)  # switch: take B at the same place in the line
    assert inspector.compare.heard == "B"
    assert video.take_player.source().toLocalFile() == str(first.cache_path)
    assert video.take_offset_ms == offset
    assert video.player.position() == picture  # the picture kept its place
    assert "Hearing B: take 1" in inspector.compare.state.text()
    assert inspector.takes.currentRow() == 0  # the list follows what is heard
    heard = inspector.takes.item(0)
    assert heard.text()[2:5] == "▶B " and heard.font().bold()
    assert inspector.takes.item(1).text()[2:4] == "A "
    qtbot.waitUntil(lambda: video.take_player.mediaStatus() in SETTLED, timeout=20_000)
    qtbot.waitUntil(lambda: abs(video.take_player.position() - offset) <= 5, timeout=10_000)

    path = shot(win, "ab_takes")
    assert path.exists()

    QTest.mouseClick(inspector.compare.keep_b_btn, Qt.MouseButton.LeftButton)  # Keep B
    line = win.line(index)
    assert desk.usable_take(line).seed == first.seed
    assert inspector.compare.pair == TakePair(1, 0)  # the marks stay on their takes
    assert inspector.compare.heard == "B"  # still comparing the same line
    keys(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo Keep B
    assert desk.usable_take(win.line(index)).seed == second.seed

    keys(qtbot, win, Qt.Key.Key_B, SHIFT)  # stop: the original is heard again
    assert inspector.compare.heard is None and video.compare_span is None
    assert video.original_out.volume() == 1.0
    assert "Hearing" not in inspector.compare.state.text()


def test_b_types_into_a_text_field_and_starts_no_compare(qtbot, clip, no_dialogs):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    win._select_row(1)
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_P))
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_R))
    win.output_edit.setFocus()
    qtbot.waitUntil(lambda: win.output_edit.hasFocus(), timeout=5000)
    win.output_edit.clear()
    QTest.keyClicks(win.output_edit, "bB")
    assert win.output_edit.text() == "bB"
    assert win.inspector.compare.heard is None and win.video.compare_span is None
    assert QApplication.focusWidget() is win.output_edit


def test_one_take_offers_no_compare(qtbot, clip, no_dialogs):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    win._select_row(1)
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_P))
    assert len(win.line(win.selected_index()).takes) == 1
    assert not win.inspector.compare.compare_btn.isEnabled()
    assert not win.inspector.use_btn.isEnabled()  # one take: nothing to choose between
    keys(qtbot, win, Qt.Key.Key_B)
    assert win.inspector.compare.heard is None and win.video.compare_span is None
    assert "two takes" in win.inspector.compare.state.text()


def test_mark_a_on_b_swaps_the_two_and_keep_a_chooses_it(qtbot, clip, no_dialogs):
    win = shown(qtbot, window(qtbot, ToneEngine()))
    assert open_now(qtbot, win, clip)
    win._select_row(1)
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_P))
    assert render_now(qtbot, win, lambda: keys(qtbot, win, Qt.Key.Key_R))
    inspector = win.inspector
    assert inspector.compare.pair == TakePair(1, 0)  # the chosen (latest) and the other
    inspector.takes.setCurrentRow(0)
    QTest.mouseClick(inspector.compare.mark_a_btn, Qt.MouseButton.LeftButton)
    assert inspector.compare.pair == TakePair(0, 1)  # marking B's take as A swaps them
    assert inspector.takes.item(0).text()[2:4] == "A "
    assert inspector.takes.item(1).text()[2:4] == "B "
    QTest.mouseClick(inspector.compare.keep_a_btn, Qt.MouseButton.LeftButton)
    line = win.line(win.selected_index())
    assert desk.usable_take(line).seed == line.takes[0].seed
    assert inspector.compare.pair == TakePair(0, 1)
    assert inspector.takes.item(0).text().startswith("● A ")  # chosen, and A
    keys(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert desk.usable_take(win.line(win.selected_index())).seed == line.takes[1].seed
