"""core.project.line_matching: a line keeps its settings across subtitle edits."""

from __future__ import annotations

from core import project as proj
from core.project.line_matching import merge_cues
from core.subtitles.read import Cue
from models.contract import EMOTION_NAMES

ANGRY = EMOTION_NAMES.index("angry")


def cue(index: int, start_s: float, end_s: float, text: str) -> Cue:
    return Cue(index, round(start_s * 1000), round(end_s * 1000), text, None, text)


def merge(project: proj.Project, cues: list[Cue]):
    return merge_cues(project, cues, {c.index: "speaker" for c in cues}, {"speaker": "Speaker"})


def angry(weight: float) -> proj.Emotion:
    vector = [0.0] * len(EMOTION_NAMES)
    vector[ANGRY] = weight
    return proj.Emotion(mode=proj.EmotionMode.VECTOR, vector=tuple(vector))


FILM = [
    cue(1, 1, 3, "Where have you been?"),
    cue(2, 5, 7, "I was waiting for the train."),
    cue(3, 10, 12, "The train never came."),
    cue(4, 15, 17, "So I walked home."),
]


def project_with_settings() -> proj.Project:
    project = proj.Project()
    lines = merge(project, FILM).lines
    lines[2].emotion = angry(0.2)
    lines[3].emotion = angry(0.3)
    lines[4].emotion = angry(0.4)
    return project


def weights(lines: dict[int, proj.Line]) -> dict[int, float]:
    return {i: ln.emotion.vector[ANGRY] for i, ln in lines.items()}


def test_an_inserted_cue_shifts_no_setting():
    project = project_with_settings()
    ids = {ln.text: ln.id for ln in project.lines}
    edited = [
        FILM[0],
        cue(2, 3.5, 4.5, "Wait."),
        *(cue(c.index + 1, c.start_ms / 1000, c.end_ms / 1000, c.text) for c in FILM[1:]),
    ]
    lines = merge(project, edited).lines
    assert weights(lines) == {1: 0.0, 2: 0.0, 3: 0.2, 4: 0.3, 5: 0.4}
    assert lines[5].index == 5 and lines[5].text == "So I walked home."
    assert {ln.text: ln.id for ln in project.lines if ln.text in ids} == ids  # identity kept
    assert len({ln.id for ln in project.lines}) == 5


def test_a_removed_line_is_kept_detached_reported_and_comes_back():
    project = project_with_settings()
    fewer = [FILM[0], FILM[1], FILM[3]]
    result = merge(project, fewer)
    assert [ln.text for ln in project.lines] == [c.text for c in fewer]
    assert [ln.text for ln in project.detached_lines] == ["The train never came."]
    assert [n.kind for n in result.notices] == ["line-gone"]
    assert '"The train never came."' in str(result.notices[0])
    assert weights(result.lines) == {1: 0.0, 2: 0.2, 4: 0.4}
    # saved and reloaded, the detached setting is still there
    again = proj.Project.from_dict(project.to_dict())
    back = merge(again, FILM)
    assert weights(back.lines) == {1: 0.0, 2: 0.2, 3: 0.3, 4: 0.4}
    assert again.detached_lines == [] and back.notices == []


def test_a_removed_line_without_settings_is_simply_dropped():
    project = project_with_settings()
    result = merge(project, FILM[1:])
    assert project.detached_lines == [] and result.notices == []


def test_retimed_subtitles_keep_their_settings():
    project = project_with_settings()
    shifted = [cue(c.index, c.start_ms / 1000 + 2.5, c.end_ms / 1000 + 2.5, c.text) for c in FILM]
    assert weights(merge(project, shifted).lines) == {1: 0.0, 2: 0.2, 3: 0.3, 4: 0.4}


def test_text_edited_in_place_keeps_its_setting():
    project = project_with_settings()
    fixed = list(FILM)
    fixed[2] = cue(3, 10.04, 12, "The train never, ever came.")
    lines = merge(project, fixed).lines
    assert weights(lines)[3] == 0.3 and lines[3].text == "The train never, ever came."


def test_repeated_text_goes_to_the_nearest_line():
    project = proj.Project()
    yes = [cue(1, 1, 2, "Yes."), cue(2, 30, 31, "Yes."), cue(3, 60, 61, "Yes.")]
    lines = merge(project, yes).lines
    lines[2].emotion = angry(0.9)
    # a cue inserted at the start, everything retimed by a little
    edited = [
        cue(1, 0, 0.5, "No."),
        *(cue(c.index + 1, c.start_ms / 1000 + 0.3, c.end_ms / 1000 + 0.3, c.text) for c in yes),
    ]
    assert weights(merge(project, edited).lines) == {1: 0.0, 2: 0.0, 3: 0.9, 4: 0.0}


def test_case_and_punctuation_do_not_make_another_line():
    project = project_with_settings()
    moved = list(FILM)
    moved[1] = cue(2, 40, 42, "i was WAITING for the train")  # far away, same words
    assert weights(merge(project, moved).lines)[2] == 0.2


def test_ten_thousand_cues_merge_and_keep_settings():
    many = [cue(i, i * 2, i * 2 + 1.5, f"line number {i}") for i in range(1, 10_001)]
    project = proj.Project()
    merge(project, many).lines[9_000].emotion = angry(0.5)
    inserted = [
        cue(1, 0.1, 0.9, "First!"),
        *(cue(c.index + 1, c.start_ms / 1000, c.end_ms / 1000, c.text) for c in many),
    ]
    lines = merge(project, inserted).lines
    assert lines[9_001].emotion.vector[ANGRY] == 0.5 and lines[9_001].text == "line number 9000"
    assert len(project.lines) == 10_001


def test_ids_are_given_once_and_survive_a_round_trip(tmp_path):
    project = project_with_settings()
    path = project.save(tmp_path / "p.dubsmith.json")
    loaded = proj.load_project(path)
    assert [ln.id for ln in loaded.lines] == [ln.id for ln in project.lines]
    assert all(ln.id for ln in loaded.lines)


def test_an_old_file_without_ids_gets_unique_ones():
    data = project_with_settings().to_dict()
    for line in data["lines"]:
        del line["id"]
    data["lines"][1]["id"] = "L1"  # a hand-edited duplicate is renumbered, not merged
    ids = [ln.id for ln in proj.Project.from_dict(data).lines]
    assert len(set(ids)) == len(ids) == 4 and all(ids)


def test_the_editors_speaker_survives_a_re_read():
    project = project_with_settings()
    project.speakers.append(proj.Speaker("bob", "Bob"))
    line = project.lines[0]
    line.speaker_id, line.speaker_source = "bob", "user"
    lines = merge(project, FILM).lines  # the subtitles say "speaker" for every cue
    assert lines[1].speaker_id == "bob" and lines[2].speaker_id == "speaker"
    merge(project, FILM[1:])  # its cue gone: kept, since the editor set it
    assert [ln.speaker_id for ln in project.detached_lines] == ["bob"]
