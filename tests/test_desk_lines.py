"""core/desk/lines.py: the subtitle editor's split, merge, insert and delete keep every
line's number unique and stable, keep the settings of the line a new one comes from, drop
takes whose text changed, and refuse what cannot be done with a reason."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from core import project as proj
from core.desk import lines as desk_lines
from core.desk import review as desk_review
from core.desk import status as desk
from core.desk.lines import LineMoveRefused
from core.subtitles.cue_types import Cue
from models.contract import DurationMode

VIDEO_END = 30_000


def take(tmp: Path, seed: int) -> proj.Take:
    wav = tmp / f"take{seed}.wav"
    wav.write_bytes(b"RIFF")
    return proj.Take(
        datetime(2026, 1, 1), f"k{seed}", wav, None, 22050, DurationMode.EXACT, seed=seed
    )


@pytest.fixture
def project(tmp_path) -> proj.Project:
    p = proj.Project()
    guest = p.add_speaker("Guest")
    host = p.add_speaker("Host")
    emotion = proj.Emotion(mode=proj.EmotionMode.TEXT, text="tired")
    p.lines = [
        proj.Line(1, 1000, 3000, "Where have you been all this time?", guest.id, emotion),
        proj.Line(2, 5000, 7000, "I was waiting for the train.", host.id),
        proj.Line(3, 7000, 9000, "It never came.", guest.id),
        proj.Line(4, 20_000, 20_300, "No.", guest.id),
    ]
    first = p.lines[0]
    first.speaker_source, first.duration_mode = "user", DurationMode.NATURAL
    first.takes = [take(tmp_path, 11)]
    first.extra.update({desk.SEED_KEY: 11, "note": "keep me"})
    desk.mark_rendered(first)
    desk_review.set_approved(first, True)
    p.give_line_ids()
    return p


def by_index(lines, index: int) -> proj.Line:
    return next(ln for ln in lines if ln.index == index)


def test_split_at_the_playhead_keeps_the_settings_and_gives_a_new_number(project):
    original = project.lines[0]
    edit = desk_lines.split_line(project, 1, at_ms=1600)
    first, second = by_index(edit.lines, 1), by_index(edit.lines, 5)
    assert (first.start_ms, first.end_ms, second.start_ms, second.end_ms) == (
        1000,
        1600,
        1600,
        3000,
    )
    # 30 % of the way in: the word boundary nearest 30 % of the text.
    assert (first.text, second.text) == ("Where have", "you been all this time?")
    assert first.id == original.id == "L1" and second.id == "L5"
    for half in (first, second):
        assert half is not original
        assert half.speaker_id == original.speaker_id and half.speaker_source == "user"
        assert half.emotion == original.emotion and half.emotion is not original.emotion
        assert half.duration_mode is DurationMode.NATURAL
        assert half.takes == [] and half.extra == {"note": "keep me"}
    # The project's own objects are untouched: an undo puts them back as they were.
    assert original.takes and original.end_ms == 3000 and desk_review.is_approved(original)
    assert [ln.index for ln in edit.lines] == [1, 5, 2, 3, 4] and edit.select == 1


def test_split_in_the_middle_when_the_playhead_is_not_inside(project):
    for at in (None, 0, 1000, 1100, 3000, 9000):  # outside, on an edge, or no room for a half
        edit = desk_lines.split_line(project, 2, at_ms=at)
        new = edit.new[0]
        assert by_index(edit.lines, 2).end_ms == 6000 == by_index(edit.lines, new).start_ms
        joined = f"{by_index(edit.lines, 2).text} {by_index(edit.lines, new).text}"
        assert joined == "I was waiting for the train."


def test_a_number_is_never_given_twice_even_after_an_undo(project):
    project.detached_lines = [proj.Line(9, 0, 500, "gone", id="L9")]
    first = desk_lines.split_line(project, 2).new[0]
    # The move was undone (the project's lines were never replaced): still a new number.
    second = desk_lines.split_line(project, 2).new[0]
    assert (first, second) == (10, 11)
    assert project.extra[desk_lines.LAST_NUMBER] == 11


def test_split_refuses_a_short_line_and_a_single_word(project):
    with pytest.raises(LineMoveRefused, match="shorter than 400 ms"):
        desk_lines.split_line(project, 4)
    project.lines[3].end_ms = 22_000
    with pytest.raises(LineMoveRefused, match="one word"):
        desk_lines.split_line(project, 4)
    assert desk_lines.LAST_NUMBER not in project.extra  # a refusal spends no number


def test_split_text_keeps_line_breaks_and_cuts_at_words():
    assert desk_lines.split_text("one two\nthree four", 0.6) == ("one two", "three four")
    assert desk_lines.split_text("a b", 0.0) == ("a", "b")
    assert desk_lines.split_text("a b", 1.0) == ("a", "b")


def test_merge_joins_span_and_text_and_says_when_the_speakers_differ(project):
    edit = desk_lines.merge_with_next(project, 2, {s.id: s.name for s in project.speakers})
    merged = by_index(edit.lines, 2)
    assert (merged.start_ms, merged.end_ms) == (5000, 9000)
    assert merged.text == "I was waiting for the train. It never came."
    assert merged.speaker_id == project.lines[1].speaker_id and merged.id == "L2"
    assert [ln.index for ln in edit.lines] == [1, 2, 4]
    assert "spoken by Guest" in edit.message and "keeps Host" in edit.message
    same = desk_lines.merge_with_next(project, 3)
    assert "spoken by" not in same.message


def test_merge_drops_takes_and_refuses_the_last_line(project):
    edit = desk_lines.merge_with_next(project, 1)
    merged = by_index(edit.lines, 1)
    assert merged.takes == [] and desk.SEED_KEY not in merged.extra
    assert desk.line_status(merged)[0] is desk.LineStatus.NOT_RENDERED
    with pytest.raises(LineMoveRefused, match="last line"):
        desk_lines.merge_with_next(project, 4)


def test_insert_fills_the_gap_after_the_line_up_to_two_seconds(project):
    edit = desk_lines.insert_line(project, VIDEO_END, after=1)
    new = by_index(edit.lines, edit.select)
    assert (new.start_ms, new.end_ms, new.text) == (3000, 5000, "")
    assert new.speaker_id == project.lines[0].speaker_id and new.takes == []
    edit = desk_lines.insert_line(project, VIDEO_END, after=3)
    new = by_index(edit.lines, edit.select)
    assert (new.start_ms, new.end_ms) == (9000, 9000 + desk_lines.INSERT_MS)
    edit = desk_lines.insert_line(project, 20_500, after=4)  # up to the video's end
    new = by_index(edit.lines, edit.select)
    assert (new.start_ms, new.end_ms) == (20_300, 20_500)
    assert len({ln.index for ln in edit.lines}) == len(edit.lines) == 5


def test_insert_at_the_playhead_and_refusals(project):
    edit = desk_lines.insert_line(project, VIDEO_END, at_ms=12_000)
    new = by_index(edit.lines, edit.select)
    assert (new.start_ms, new.end_ms) == (12_000, 14_000)
    with pytest.raises(LineMoveRefused, match="no room"):
        desk_lines.insert_line(project, VIDEO_END, after=2)  # line 3 starts where 2 ends
    with pytest.raises(LineMoveRefused, match="no room"):
        desk_lines.insert_line(project, VIDEO_END, at_ms=19_900)  # 100 ms before line 4
    edit = desk_lines.insert_line(project, VIDEO_END, at_ms=0)  # before every line
    assert (
        by_index(edit.lines, edit.select).start_ms,
        by_index(edit.lines, edit.select).end_ms,
    ) == (0, 1000)


def test_delete_selects_the_next_line_and_keeps_one(project):
    edit = desk_lines.delete_lines(project, [2, 3])
    assert [ln.index for ln in edit.lines] == [1, 4] and edit.select == 4
    assert "2, 3" in edit.message and edit.step == "delete lines 2, 3"
    edit = desk_lines.delete_lines(project, [4])
    assert edit.select == 3
    with pytest.raises(LineMoveRefused, match="at least one"):
        desk_lines.delete_lines(project, [1, 2, 3, 4])
    with pytest.raises(LineMoveRefused):
        desk_lines.delete_lines(project, [])


def test_cues_keep_what_the_subtitles_said_and_follow_the_lines(project):
    cues = [
        Cue(ln.index, ln.start_ms, ln.end_ms, ln.text, "Guest", ln.text) for ln in project.lines
    ]
    edit = desk_lines.split_line(project, 1, at_ms=2000)
    out = desk_lines.cues_for(edit.lines, cues)
    assert [c.index for c in out] == [1, 5, 2, 3, 4]
    assert out[0].speaker_hint == "Guest" and out[0].end_ms == 2000
    assert out[0].text == by_index(edit.lines, 1).text
    assert out[1].speaker_hint is None and out[1].start_ms == 2000
    assert out[2] is cues[1]  # untouched lines keep their very cue
