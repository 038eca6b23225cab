"""core.subtitles.read: every format with real-world quirks, encodings, warnings, merging."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.notices import Notice
from core.subtitles.read import (
    SUBTITLE_EXTENSIONS,
    Cue,
    SubtitleDoc,
    SubtitleError,
    SubtitleWarning,
    clean_text,
    find_subtitles_for,
    load_subtitles,
    parse_subtitle_text,
)
from tests.subfixtures import (
    ASS_HEADER,
    SSA_HEADER,
    Line,
    ass_dialogue,
    fake_mp4_bytes,
    srt,
    ssa_dialogue,
    vtt_time,
    write,
)


def kinds(doc: SubtitleDoc, cue: int | None) -> set[str]:
    return {w.kind for w in doc.warnings if w.cue == cue}


# --------------------------------------------------------------------------- the public front


def test_public_front_keeps_every_name_other_code_imports() -> None:
    """core.subtitles.read is the front; the modules behind it (core/subtitle_*.py) may change."""
    import core.subtitles.read as front

    imported_elsewhere = {
        "SUBTITLE_EXTENSIONS",
        "Cue",
        "SubtitleDoc",
        "SubtitleError",
        "SubtitleWarning",
        "clean_text",
        "detect_encoding",
        "ends_sentence",
        "find_subtitles_for",
        "load_subtitles",
        "parse_subtitle_text",
        "write_clean_srt",
    }
    assert imported_elsewhere <= set(front.__all__)
    assert all(hasattr(front, name) for name in front.__all__)
    assert SubtitleWarning is Notice  # one warning type for every warning shown


# --------------------------------------------------------------------------- SRT


def test_srt_bom_crlf_html_tags(tmp_path: Path) -> None:
    lines = [
        Line(1000, 2500, "<i>Where were you</i>\nlast night?"),
        Line(3000, 4200, '<font color="#ffff00">I was <b>home</b>.</font>'),
        Line(5000, 6000, "{\\an8}Tom &amp; Jerry"),
    ]
    path = write(tmp_path, "movie.srt", "\ufeff" + srt(lines, newline="\r\n"))
    doc = load_subtitles(path)
    assert doc.format == "srt"
    assert doc.encoding == "utf-8-sig"
    assert [c.index for c in doc.cues] == [1, 2, 3]
    assert [(c.start_ms, c.end_ms) for c in doc.cues] == [(ln.start_ms, ln.end_ms) for ln in lines]
    assert [c.text for c in doc.cues] == [
        "Where were you last night?",
        "I was home.",
        "Tom & Jerry",
    ]
    assert doc.cues[0].raw == "<i>Where were you</i>\nlast night?"
    assert all("\r" not in c.raw for c in doc.cues)
    assert all(c.usable and c.speaker_hint is None for c in doc.cues)
    assert doc.warnings == []
    assert doc.cues[0].duration_ms == 1500


def test_srt_blank_line_inside_cue_keeps_text(tmp_path: Path) -> None:
    content = "1\n00:00:01,000 --> 00:00:02,000\nfirst\n\nstill first\n\n2\n00:00:03,000 --> 00:00:04,000\nsecond\n"
    doc = load_subtitles(write(tmp_path, "a.srt", content))
    assert [c.text for c in doc.cues] == ["first still first", "second"]


def test_srt_unreadable_timing_line_is_reported(tmp_path: Path) -> None:
    content = (
        "1\n00:00:01,000 --> 00:00:02,000\nfirst\n\n"
        "2\n00:00:03:000 --> 00:00:04:000\nsecond\n\n"
        "3\n00:00:05,000 --> 00:00:06,000\nthird\n"
    )
    doc = load_subtitles(write(tmp_path, "t.srt", content))
    (bad,) = [w for w in doc.warnings if w.kind == "bad-timing"]
    assert bad.cue is None and bad.message.startswith("line 6 ")
    # The words are not lost: they stay in the document (inside the cue before).
    assert "second" in " ".join(c.text for c in doc.cues)


def test_srt_three_stamps_on_a_timing_line_is_reported(tmp_path: Path) -> None:
    content = (
        "1\n00:00:01,000 --> 00:00:02,000 00:00:03,000\nfirst\n\n"
        "2\n00:00:04,000 --> 00:00:05,000\nsecond\n\n"
        "3\n00:00:06,000 --> 00:00:07,000 00:00:08,000\nthird\n"
    )
    doc = load_subtitles(write(tmp_path, "t.srt", content))
    assert [c.text for c in doc.cues] == [
        "second 3 00:00:06,000 --> 00:00:07,000 00:00:08,000 third"
    ]
    bad = [w for w in doc.warnings if w.kind == "bad-timing"]
    # Not silent: before the first cue the text is lost, later it joins the cue before.
    assert [w.message for w in bad] == [
        'line 2 looks like a timing line but cannot be read: "00:00:01,000 --> 00:00:02,000'
        ' 00:00:03,000"; no cue starts there, and this line and its text are not read',
        'line 10 looks like a timing line but cannot be read: "00:00:06,000 --> 00:00:07,000'
        ' 00:00:08,000"; no cue starts there, and this line and its text join cue 1',
    ]


# --------------------------------------------------------------------------- lenient timing


def three_cues(timing: str, *, vtt: bool = False) -> str:
    """Cue 2 of three has `timing` as its timing line: line 6 (SRT) or line 7 (WebVTT)."""
    if vtt:
        return (
            "WEBVTT\n\n"
            f"a\n00:01.000 --> 00:02.000\nfirst\n\n"
            f"b\n{timing}\nsecond\n\n"
            f"c\n10:00:00.000 --> 10:00:01.000 align:start\nthird\n"
        )
    return (
        "1\n00:00:01,000 --> 00:00:02,000\nfirst\n\n"
        f"2\n{timing}\nsecond\n\n"
        "3\n10:00:00,000 --> 10:00:01,000\nthird\n"
    )


# (timing line of cue 2, its start and end in ms as a player reads them, warning kind)
SRT_TIMINGS = [
    ("00:00:05,000 --> 00:00:07,000", 5000, 7000, None),
    ("  00:00:05,000   -->\t00:00:07,000  ", 5000, 7000, None),  # spacing changes nothing
    ("00:00:05,000 --> 00:00:07,000 X1:10 X2:20 Y1:30 Y2:40", 5000, 7000, None),
    ("0:0:5.0 -> 0:0:7.0", 5000, 7000, "lenient-timing"),
    ("00:00:05,000 -> 00:00:07,000", 5000, 7000, "lenient-timing"),
    ("00:00:05.000 --> 00:00:07.000", 5000, 7000, "lenient-timing"),
    ("00:00:05,5 --> 00:00:07,25", 5500, 7250, "lenient-timing"),  # decimal fractions
    ("00:00:05,000 - 00:00:07,000", 5000, 7000, "lenient-timing"),
    ("00:00:05,000 00:00:07,000", 5000, 7000, "lenient-timing"),
    ("00:00:05,000 --> 00:00:07,000 extra", 5000, 7000, "lenient-timing"),
    ("00:00:61,000 --> 00:01:02,000", 61000, 62000, "out-of-range-time"),
    ("00:59:30,000 --> 00:60:00,000", 3570000, 3600000, "out-of-range-time"),
    ("0:0:61.5 -> 0:1:2.0", 61500, 62000, "out-of-range-time"),
    ("00:05,000 --> 00:07,000", 5000, 7000, "lenient-timing"),  # no hours
]


@pytest.mark.parametrize(("timing", "start", "end", "kind"), SRT_TIMINGS)
def test_srt_lenient_timing_is_read_and_named(
    tmp_path: Path, timing: str, start: int, end: int, kind: str | None
) -> None:
    doc = load_subtitles(write(tmp_path, "l.srt", three_cues(timing)))
    assert [c.text for c in doc.cues] == ["first", "second", "third"]
    assert [(c.start_ms, c.end_ms) for c in doc.cues] == [
        (1000, 2000),
        (start, end),
        (36_000_000, 36_001_000),
    ]
    assert all(c.usable for c in doc.cues)
    assert [c.line for c in doc.cues] == [2, 6, 10]
    assert not kinds(doc, 1) and not kinds(doc, 3) and not kinds(doc, None)
    if kind is None:
        assert doc.warnings == []
        return
    (warning,) = doc.warnings
    assert (warning.cue, warning.kind) == (2, kind)
    assert warning.message.startswith(f'line 6: timing "{timing.strip()}" ')


VTT_TIMINGS = [
    ("00:00:05.000 --> 00:00:07.000", 5000, 7000, None),
    ("00:05.000 --> 00:07.000 line:0 position:10%", 5000, 7000, None),
    ("00:05.000 -> 00:07.000", 5000, 7000, "lenient-timing"),
    ("00:00:05,000 --> 00:00:07,000", 5000, 7000, "lenient-timing"),  # a renamed SRT
    ("0:0:5.0 --> 0:0:7.0", 5000, 7000, "lenient-timing"),
    ("00:05.5 --> 00:07.25", 5500, 7250, "lenient-timing"),
    ("00:05.50 --> 00:07.000", 5500, 7000, "lenient-timing"),  # pysubs2 alone: 5.050 s
    ("0:00:05.000 --> 0:00:07.000", 5000, 7000, "lenient-timing"),  # hours take two digits
    ("00:61.000 --> 01:02.000", 61000, 62000, "out-of-range-time"),
    ("00:60:05.000 --> 01:00:07.000", 3605000, 3607000, "out-of-range-time"),
]


@pytest.mark.parametrize(("timing", "start", "end", "kind"), VTT_TIMINGS)
def test_vtt_lenient_timing_is_read_and_named(
    tmp_path: Path, timing: str, start: int, end: int, kind: str | None
) -> None:
    doc = load_subtitles(write(tmp_path, "l.vtt", three_cues(timing, vtt=True)))
    assert [c.text for c in doc.cues] == ["first", "second", "third"]
    assert [(c.start_ms, c.end_ms) for c in doc.cues] == [
        (1000, 2000),
        (start, end),
        (36_000_000, 36_001_000),
    ]
    assert [c.line for c in doc.cues] == [4, 8, 12]
    assert not kinds(doc, 1) and not kinds(doc, 3) and not kinds(doc, None)
    if kind is None:
        assert doc.warnings == []
        return
    (warning,) = doc.warnings
    assert (warning.cue, warning.kind) == (2, kind)
    assert warning.message.startswith(f'line 8: timing "{timing}" ')


@pytest.mark.parametrize(
    ("timing", "vtt"),
    [
        ("00:00:05,000 --> 00:00:07,000 00:00:09,000", False),  # which two?
        ("00:00:05:000 --> 00:00:07:000", False),
        ("00:00:05,000 --> 00:00:07", False),
        ("5 --> 7", False),
        ("00:05.000 --> 00:07", True),
        ("00:05 --> 00:07", True),
    ],
)
def test_unreadable_timing_is_named_with_where_its_text_went(
    tmp_path: Path, timing: str, vtt: bool
) -> None:
    name, line = ("u.vtt", 8) if vtt else ("u.srt", 6)
    doc = load_subtitles(write(tmp_path, name, three_cues(timing, vtt=vtt)))
    assert len(doc.cues) == 2
    assert doc.cues[0].text.startswith("first") and doc.cues[0].text.endswith("second")
    (warning,) = doc.warnings
    assert (warning.cue, warning.kind) == (None, "bad-timing")
    assert warning.message == (
        f'line {line} looks like a timing line but cannot be read: "{timing}"; no cue starts'
        " there, and this line and its text join cue 1"
    )


def test_lenient_timing_messages(tmp_path: Path) -> None:
    content = (
        "1\n00:00:01,000 --> 00:00:02,000\nfine\n\n"
        "2\n00:00:03,000 --> 00:00:04,000\nfine\n\n"
        "3\n0:0:5.0 -> 0:0:7.0\narrow and short fields\n\n"
        "4\n00:00:61,000 --> 00:01:75,000\nout of range\n"
    )
    doc = load_subtitles(write(tmp_path, "m.srt", content))
    assert [(c.start_ms, c.end_ms) for c in doc.cues][2:] == [(5000, 7000), (61000, 135000)]
    assert [str(w) for w in doc.warnings] == [
        'cue 3: line 10: timing "0:0:5.0 -> 0:0:7.0" is not standard SRT;'
        " read as 00:00:05.000 --> 00:00:07.000",
        'cue 4: line 14: timing "00:00:61,000 --> 00:01:75,000" has 61 in a seconds field,'
        " 75 in a seconds field (0-59); read as 00:01:01.000 --> 00:02:15.000, as players do",
    ]


def test_out_of_range_time_that_makes_a_cue_unusable_names_its_line(tmp_path: Path) -> None:
    # Meant as 00:01:01 --> 00:01:02 perhaps, but read as players read it: zero length.
    doc = load_subtitles(write(tmp_path, "z.srt", three_cues("00:01:01,000 --> 00:00:61,000")))
    assert (doc.cues[1].start_ms, doc.cues[1].end_ms) == (61000, 61000)
    assert not doc.cues[1].usable
    assert [c.index for c in doc.usable_cues()] == [1, 3]
    assert [(w.kind, str(w)) for w in doc.warnings] == [
        (
            "out-of-range-time",
            'cue 2: line 6: timing "00:01:01,000 --> 00:00:61,000" has 61 in a seconds field'
            " (0-59); read as 00:01:01.000 --> 00:01:01.000, as players do",
        ),
        ("zero-length", "cue 2: line 6: starts and ends at 00:01:01.000; it will be skipped"),
    ]


def test_lenient_timing_line_numbers_count_crlf_bom_and_vtt_blocks(tmp_path: Path) -> None:
    content = (
        "\ufeffWEBVTT\r\n\r\nNOTE two\r\nlines\r\n\r\nSTYLE\r\n::cue { color: red }\r\n\r\n"
        "intro\r\n00:01.000 -> 00:02.000\r\none\r\n\r\n"  # line 10
        "NOTE between\r\n\r\n"
        "00:00:03,000 --> 00:00:04,000\r\ntwo\r\n"  # line 15
    )
    doc = load_subtitles(write(tmp_path, "n.vtt", content.encode("utf-8")))
    assert [(c.start_ms, c.end_ms, c.text) for c in doc.cues] == [
        (1000, 2000, "one"),
        (3000, 4000, "two"),
    ]
    assert [(w.cue, w.kind, w.message.split(":")[0]) for w in doc.warnings] == [
        (1, "lenient-timing", "line 10"),
        (2, "lenient-timing", "line 15"),
    ]


def test_vtt_text_after_a_blank_line_is_reported(tmp_path: Path) -> None:
    content = "WEBVTT\n\n00:01.000 --> 00:02.000\nfirst\n\nstray words\nmore\n\n00:03.000 --> 00:04.000\nsecond\n"
    doc = load_subtitles(write(tmp_path, "s.vtt", content))
    assert [c.text for c in doc.cues] == ["first", "second"]
    assert [(w.cue, w.kind, w.message) for w in doc.warnings] == [
        (
            None,
            "skipped-text",
            'line 6: text after a blank line belongs to no cue and is not read: "stray words"',
        )
    ]


def test_merged_cue_keeps_the_line_of_its_first_cue() -> None:
    content = three_cues("00:00:02,100 --> 00:00:03,000").replace("first", "so we")
    doc = parse_subtitle_text(content, "srt", merge_split_sentences=True)
    assert [(c.sources, c.line) for c in doc.cues] == [((1, 2), 2), ((), 10)]


# --------------------------------------------------------------------------- ASS / SSA


def test_ass_overrides_drawing_linebreaks_and_names(tmp_path: Path) -> None:
    events = (
        ass_dialogue(1000, 3000, "{\\i1}Hello{\\i0}\\Nthere,\\hfriend", name="Alice")
        + "Comment: 0,0:00:01.50,0:00:02.00,Default,,0,0,0,,translator note\n"
        + ass_dialogue(3500, 4500, "{\\an8\\p1}m 0 0 l 100 0 100 100 0 100{\\p0}EXIT", style="Sign")
        + ass_dialogue(
            5000, 6000, "{\\k20}Ka{\\k30}ra{\\k25}o{\\fad(200,200)}ke{comment}", name=" Bob "
        )
        + ass_dialogue(7000, 8000, "{\\p1}m 0 0 l 5 5", name="Bob")
    )
    doc = load_subtitles(write(tmp_path, "ep01.ass", ASS_HEADER + events))
    assert doc.format == "ass"
    assert [c.text for c in doc.cues] == ["Hello there, friend", "EXIT", "Karaoke", ""]
    assert [c.speaker_hint for c in doc.cues] == ["Alice", None, "Bob", "Bob"]
    assert [(c.start_ms, c.end_ms) for c in doc.cues] == [
        (1000, 3000),
        (3500, 4500),
        (5000, 6000),
        (7000, 8000),
    ]
    assert doc.cues[1].raw.startswith("{\\an8\\p1}m 0 0")
    # A drawing-only event has no words: kept, marked unusable, named in a warning.
    assert not doc.cues[3].usable
    assert kinds(doc, 4) == {"empty"}


def test_ssa_v4(tmp_path: Path) -> None:
    events = ssa_dialogue(0, 1200, "{\\b1}Old{\\b0} format\\Nstill works", name="Narrator")
    doc = load_subtitles(write(tmp_path, "old.ssa", SSA_HEADER + events))
    assert doc.format == "ssa"
    assert doc.cues[0].text == "Old format still works"
    assert doc.cues[0].speaker_hint == "Narrator"
    assert (doc.cues[0].start_ms, doc.cues[0].end_ms) == (0, 1200)


# --------------------------------------------------------------------------- WebVTT

VTT = f"""WEBVTT - made by hand
Kind: captions
Language: en

STYLE
::cue(.yellow) {{ color: yellow; }}

REGION
id:fred width:40%

NOTE a comment
that spans two lines

intro
{vtt_time(1000)} --> {vtt_time(2500)} position:10%,line-left align:start size:35% line:0
<v Alice>Hello <c.yellow>there</c>,</v>
<v Bob>my <00:00:02.000>friend &amp; &lt;neighbour&gt;</v>

NOTE between cues

00:03.000 --> 00:04.000 align:end
<v.loud Bob Smith>Hi!</v>

3
{vtt_time(5000)} --> {vtt_time(6000)}
<ruby>漢<rt>かん</rt>字</ruby> and <lang fr>voilà</lang>&nbsp;done
"""


def test_vtt_blocks_settings_voices_spans(tmp_path: Path) -> None:
    doc = load_subtitles(write(tmp_path, "clip.vtt", VTT))
    assert doc.format == "vtt"
    assert [(c.start_ms, c.end_ms) for c in doc.cues] == [(1000, 2500), (3000, 4000), (5000, 6000)]
    assert [c.text for c in doc.cues] == [
        "Hello there, my friend & <neighbour>",
        "Hi!",
        "漢字 and voilà done",
    ]
    # The first voice of a cue is its speaker hint.
    assert [c.speaker_hint for c in doc.cues] == ["Alice", "Bob Smith", None]
    assert "NOTE" not in " ".join(c.raw for c in doc.cues)
    assert "<v Alice>" in doc.cues[0].raw
    assert doc.warnings == []


def test_vtt_without_header_is_read_as_vtt(tmp_path: Path) -> None:
    content = f"{vtt_time(0)} --> {vtt_time(900)} align:start\n<v Eve>Hi</v>\n"
    doc = load_subtitles(write(tmp_path, "noheader.vtt", content))
    assert doc.format == "vtt"
    assert doc.cues[0].speaker_hint == "Eve"
    assert kinds(doc, None) == {"format"}


# --------------------------------------------------------------------------- MicroDVD

MICRODVD_FRAMES = [(25, 50, "{y:i}Frame|based"), (75, 100, "second"), (1000, 1024, "later")]


def microdvd_text(declare: float | None = None) -> str:
    head = f"{{1}}{{1}}{declare}\n" if declare else ""
    return head + "".join(f"{{{a}}}{{{b}}}{t}\n" for a, b, t in MICRODVD_FRAMES)


@pytest.mark.parametrize("fps", [25.0, 23.976])
def test_microdvd_with_video_fps(tmp_path: Path, fps: float) -> None:
    doc = load_subtitles(write(tmp_path, "film.sub", microdvd_text()), fps=fps)
    assert doc.format == "microdvd"
    assert doc.fps == fps
    expected = [(round(a * 1000 / fps), round(b * 1000 / fps)) for a, b, _ in MICRODVD_FRAMES]
    got = [(c.start_ms, c.end_ms) for c in doc.cues]
    assert all(
        abs(g - e) <= 1
        for gp, ep in zip(got, expected, strict=True)
        for g, e in zip(gp, ep, strict=True)
    )
    assert [c.text for c in doc.cues] == ["Frame based", "second", "later"]


def test_microdvd_declared_fps_line_is_not_a_cue(tmp_path: Path) -> None:
    path = write(tmp_path, "film.sub", microdvd_text(declare=23.976))
    for fps in (None, 23.976):
        doc = load_subtitles(path, fps=fps)
        assert len(doc.cues) == len(MICRODVD_FRAMES)
        assert doc.fps == pytest.approx(23.976)
        assert doc.warnings == []
    # A video at another rate: the file's statement wins, and the mismatch is reported.
    doc = load_subtitles(path, fps=25.0)
    assert doc.fps == pytest.approx(23.976)
    assert kinds(doc, None) == {"fps"}


def test_microdvd_unreadable_lines_are_reported(tmp_path: Path) -> None:
    content = microdvd_text(declare=25.0) + "{1200}{}no end frame\n{1300}{1350}\n"
    doc = load_subtitles(write(tmp_path, "odd.sub", content))
    assert len(doc.cues) == len(MICRODVD_FRAMES)
    skipped = [w for w in doc.warnings if w.kind == "skipped-line"]
    # Numbered as an editor shows the file: the frame-rate line is line 1.
    assert [w.message.split()[1] for w in skipped] == ["5", "6"]


def test_microdvd_without_fps_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "nofps.sub", microdvd_text())
    with pytest.raises(SubtitleError) as err:
        load_subtitles(path)
    assert "nofps.sub" in str(err.value)
    assert "frame rate" in str(err.value)


# --------------------------------------------------------------------------- encodings

TEXTS = {
    "fr": ["Où est la forêt ?", "Élodie a déjà mangé la crème brûlée.", "« Ça va », dit François."],
    "cs": ["Příliš žluťoučký kůň", "úpěl ďábelské ódy.", "Řekni mi, kde je nádraží."],
    "ru": ["Съешь же ещё этих мягких", "французских булок,", "да выпей чаю."],
    "zh": ["你好，世界。", "我们今天去公园散步吧。", "这是一个测试字幕文件。"],
    "zh-hant": ["你好，世界。", "我們今天去公園散步吧。", "這是一個測試字幕檔案。"],
    "ja": ["こんにちは、世界。", "今日は公園を散歩しましょう。", "これはテスト字幕です。"],
    "ko": ["안녕하세요, 세계.", "오늘은 공원을 산책합시다.", "이것은 시험 자막입니다."],
}

ENCODINGS = [
    ("fr", "utf-8"),
    ("zh", "utf-8-sig"),
    ("ja", "utf-16-le"),
    ("fr", "utf-16-be"),
    ("fr", "cp1252"),
    ("cs", "cp1250"),
    ("ru", "cp1251"),
    ("zh", "gb18030"),
    ("zh-hant", "big5"),
    ("ja", "shift_jis"),
    ("ko", "euc-kr"),
]


@pytest.mark.parametrize(("lang", "encoding"), ENCODINGS)
def test_encodings_round_trip(tmp_path: Path, lang: str, encoding: str) -> None:
    texts = TEXTS[lang]
    lines = [Line(1000 * i, 1000 * i + 800, t) for i, t in enumerate(texts, start=1)]
    content = srt(lines, newline="\r\n")
    if encoding.startswith("utf-16"):
        data = (codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE) + (
            content.encode(encoding)
        )
    else:
        data = content.encode(encoding)
    doc = load_subtitles(write(tmp_path, f"{lang}.srt", data))
    assert [c.text for c in doc.cues] == texts
    # The recorded encoding is one that really decodes these bytes to this text.
    body = data[2:] if encoding.startswith("utf-16") else data
    assert body.decode(doc.encoding).lstrip("\ufeff").replace("\r\n", "\n") == content.replace(
        "\r\n", "\n"
    )
    assert not kinds(doc, None)


def test_utf16_without_bom(tmp_path: Path) -> None:
    content = srt([Line(0, 900, "Grüße aus Köln")])
    doc = load_subtitles(write(tmp_path, "a.srt", content.encode("utf-16-le")))
    assert doc.cues[0].text == "Grüße aus Köln"
    assert doc.encoding == "utf-16-le"


def test_utf8_with_a_broken_byte_warns_on_that_cue(tmp_path: Path) -> None:
    lines = [Line(0, 900, "déjà vu"), Line(1000, 1900, "BROKEN"), Line(2000, 2900, "café crème")]
    data = srt(lines).encode("utf-8").replace(b"BROKEN", b"bro\xffken")
    doc = load_subtitles(write(tmp_path, "a.srt", data))
    assert doc.encoding == "utf-8"
    assert doc.cues[0].text == "déjà vu" and doc.cues[2].text == "café crème"
    assert doc.cues[1].text == "bro\ufffdken"  # the text is kept, the damage is reported
    assert kinds(doc, 2) == {"encoding"}
    assert "encoding" in kinds(doc, None)
    assert not kinds(doc, 1) and not kinds(doc, 3)


# --------------------------------------------------------------------------- warnings


def test_each_warning_kind_names_its_cue(tmp_path: Path) -> None:
    lines = [
        Line(1000, 2000, "fine"),
        Line(3000, 4000, "<i></i>"),  # empty after cleaning
        Line(5000, 5000, "zero"),
        Line(7000, 6000, "negative"),
        Line(8000, 9000, "first"),
        Line(8650, 9500, "overlapping"),
        Line(9600, 10500, "crosses the end"),
        Line(11000, 12000, "after the end"),
        Line(12500, 13000, "damaged \ufffd text"),
    ]
    doc = load_subtitles(write(tmp_path, "w.srt", srt(lines)), video_duration_ms=10_000)
    assert kinds(doc, 1) == set()
    assert kinds(doc, 2) == {"empty"}
    assert kinds(doc, 3) == {"zero-length"}
    assert kinds(doc, 4) == {"negative"}
    assert kinds(doc, 5) == set()
    assert kinds(doc, 6) == {"overlap"}
    assert kinds(doc, 7) == {"past-end"}
    assert kinds(doc, 8) == {"past-end"}
    assert kinds(doc, 9) == {"past-end", "encoding"}
    assert [c.usable for c in doc.cues] == [True, False, False, False, True, True, True, True, True]
    # Nothing is dropped: every cue is in the document, the unusable ones are skipped.
    assert len(doc.cues) == len(lines)
    assert [c.index for c in doc.usable_cues()] == [1, 5, 6, 7, 8, 9]
    (overlap,) = [w for w in doc.warnings if w.kind == "overlap"]
    assert str(overlap) == "cue 6: overlaps cue 5 by 350 ms"
    assert str(doc.warnings_for(4)[0]).startswith("cue 4: ")


def test_out_of_order_cues(tmp_path: Path) -> None:
    lines = [Line(5000, 6000, "second"), Line(1000, 2000, "first")]
    doc = load_subtitles(write(tmp_path, "o.srt", srt(lines)))
    assert [c.index for c in doc.cues] == [1, 2]
    assert [c.text for c in doc.usable_cues()] == ["first", "second"]
    assert kinds(doc, None) == {"order"}
    assert not kinds(doc, 1) and not kinds(doc, 2)


def test_ass_without_styles_is_read_by_extension_with_warning(tmp_path: Path) -> None:
    content = "[Script Info]\nScriptType: v4.00+\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    content += ass_dialogue(0, 1000, "no styles section", name="Ann")
    doc = load_subtitles(write(tmp_path, "bare.ass", content))
    assert doc.cues[0].text == "no styles section"
    assert kinds(doc, None) == {"unknown-format"}


def test_warning_str_file_level() -> None:
    w = SubtitleWarning(None, "encoding", "bad bytes")
    assert str(w) == "bad bytes"
    assert str(SubtitleWarning(12, "overlap", "overlaps cue 11 by 350 ms")) == (
        "cue 12: overlaps cue 11 by 350 ms"
    )


# --------------------------------------------------------------------------- merging


def test_merge_split_sentences(tmp_path: Path) -> None:
    lines = [
        Line(1000, 2000, "I think that"),  # continues into 2 (gap 200 ms)
        Line(2200, 3000, "we should"),  # continues into 3 (gap 300 ms: still merged)
        Line(3300, 4000, "go home."),
        Line(4100, 5000, "Then"),  # gap 400 ms to 5: not merged
        Line(5400, 6000, "later."),
        Line(6100, 7000, "<i></i>"),  # empty: not usable, not merged
        Line(7050, 8000, "Are you sure?"),  # ends a sentence: not merged with 8
        Line(8050, 9000, "Yes"),
    ]
    path = write(tmp_path, "m.srt", srt(lines))
    plain = load_subtitles(path)
    doc = load_subtitles(path, merge_split_sentences=True)
    assert [(c.index, c.sources) for c in doc.cues] == [
        (1, (1, 2, 3)),
        (4, ()),
        (5, ()),
        (6, ()),
        (7, ()),
        (8, ()),
    ]
    merged = doc.cues[0]
    assert (merged.start_ms, merged.end_ms) == (1000, 4000)
    assert merged.text == "I think that we should go home."
    assert merged.raw.splitlines() == [c.raw for c in plain.cues[:3]]
    assert not doc.cues[3].usable
    assert doc.warnings == plain.warnings


def test_merge_respects_speakers(tmp_path: Path) -> None:
    content = (
        "WEBVTT\n\n"
        f"{vtt_time(0)} --> {vtt_time(1000)}\n<v Ann>So you</v>\n\n"
        f"{vtt_time(1100)} --> {vtt_time(2000)}\n<v Ben>never came</v>\n\n"
        f"{vtt_time(2100)} --> {vtt_time(3000)}\n<v Ben>back」</v>\n\n"
        f"{vtt_time(3100)} --> {vtt_time(4000)}\n<v Ben>to town。」</v>\n\n"
        f"{vtt_time(4100)} --> {vtt_time(5000)}\n<v Ben>Right…</v>\n\n"
        f"{vtt_time(5100)} --> {vtt_time(6000)}\n<v Ben>Right!</v>\n"
    )
    doc = parse_subtitle_text(content, merge_split_sentences=True)
    assert [c.sources for c in doc.cues] == [(), (2, 3, 4), (), ()]
    assert doc.cues[1].text == "never came back」 to town。」"
    assert doc.cues[1].speaker_hint == "Ben"


# --------------------------------------------------------------------------- errors


def test_garbage_text_file(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.srt", "Shopping list:\n- milk\n- eggs\n\nCall Bob at 5.\n")
    with pytest.raises(SubtitleError) as err:
        load_subtitles(path)
    assert "notes.srt" in str(err.value)


def test_unknown_extension_and_content(tmp_path: Path) -> None:
    path = write(tmp_path, "readme.txt", "just some words\nand more words\n")
    with pytest.raises(SubtitleError, match="readme.txt"):
        load_subtitles(path)


@pytest.mark.parametrize("name", ["movie.mp4.srt", "video.sub", "clip.vtt"])
def test_binary_file(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, fake_mp4_bytes())
    with pytest.raises(SubtitleError) as err:
        load_subtitles(path)
    assert name in str(err.value) and "binary" in str(err.value)


def test_empty_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SubtitleError, match="empty.srt"):
        load_subtitles(write(tmp_path, "empty.srt", b"\r\n"))
    with pytest.raises(SubtitleError, match="absent.srt"):
        load_subtitles(tmp_path / "absent.srt")


def test_header_only_vtt_has_no_cues_warning(tmp_path: Path) -> None:
    doc = load_subtitles(write(tmp_path, "h.vtt", "WEBVTT\n\nNOTE nothing yet\n"))
    assert doc.cues == [] and kinds(doc, None) == {"no-cues"}


_PIECES = [
    "WEBVTT\n",
    "[Script Info]\n",
    "[V4+ Styles]\nFormat: Name\nStyle: a\n",
    "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n",
    "Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,hi\n",
    "Dialogue: 0,0:00:01.00,oops,Default,,0,0,0,,hi\n",
    "00:00:01,000 --> 00:00:02,000\n",
    "00:00:01.000 --> \n",
    "{1}{25}hi\n",
    "{1}{1}x\n",
    "<tt xmlns='http://www.w3.org/ns/ttml'><body><p begin='1s' end='2s'>a</p></body></tt>",
    "<tt><body><p begin='bad'>a",
    "NOTE x\n",
    "1\n",
    "\n",
    "<v Al>text</v>\n",
    "{\\p1}m 0 0",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8),
    st.sampled_from(["a.srt", "a.ass", "a.ssa", "a.vtt", "a.sub", "a.ttml", "a.xml", "a.txt", "a"]),
    st.sampled_from([None, 25.0]),
)
def test_any_text_reads_or_raises_subtitle_error(
    tmp_path: Path, pieces: list[str], name: str, fps: float | None
) -> None:
    path = write(tmp_path, name, "".join(pieces))
    try:
        doc = load_subtitles(path, fps=fps, merge_split_sentences=True)
    except SubtitleError as err:
        assert name in str(err)
        return
    for cue in doc.cues:
        assert cue.usable == (bool(cue.text) and cue.end_ms > cue.start_ms)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(min_size=1, max_size=300))
def test_any_bytes_read_or_raise_subtitle_error(tmp_path: Path, data: bytes) -> None:
    try:
        load_subtitles(write(tmp_path, "x.srt", data))
    except SubtitleError as err:
        assert "x.srt" in str(err)


def test_format_hint_accepts_extensions() -> None:
    content = "{1}{25}one\n"
    assert parse_subtitle_text(content, ".sub", fps=25.0).format == "microdvd"
    assert parse_subtitle_text(content, "SUB", fps=25.0).cues[0].end_ms == 1000


# --------------------------------------------------------------------------- clean_text


@pytest.mark.parametrize(
    ("raw", "fmt", "text", "speaker"),
    [
        ("<v Speaker>Hi <c.x.y>you</c></v>", "vtt", "Hi you", "Speaker"),
        ("<v.a.b  Mary  Jane >Hi</v>", "vtt", "Hi", "Mary Jane"),
        ("<v Speaker>Hi</v>", "srt", "Hi", None),  # voices are a WebVTT notion
        ("a <00:00:01.000>b<01:02.500> c", "vtt", "a b c", None),
        ("{\\pos(1,2)}x\\Ny\\hz", "ass", "x y z", None),
        ("line\\none", "ass", "line one", None),
        ("a{\\p2}m 1 1{\\p0} b{\\p1}l 2 2", "ass", "a b", None),
        ("&lt;b&gt; is bold", "srt", "<b> is bold", None),
        ("  many\t\n spaces\u00a0here ", "srt", "many spaces here", None),
        ("I <3 you > her", "srt", "I <3 you > her", None),
        ("x < y and z > w", "vtt", "x < y and z > w", None),
        ('<font face="Arial" color=#fff>A</font><br/>B', "srt", "AB", None),
        ("{not an override} text", "srt", "{not an override} text", None),
    ],
)
def test_clean_text(raw: str, fmt: str, text: str, speaker: str | None) -> None:
    assert clean_text(raw, fmt) == (text, speaker)


_PLAIN = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<>{}&\\"),
    max_size=60,
)


@given(_PLAIN, st.sampled_from(["srt", "vtt", "ass", "microdvd"]))
def test_clean_text_leaves_plain_text_alone(text: str, fmt: str) -> None:
    cleaned, speaker = clean_text(text, fmt)
    assert cleaned == " ".join(text.split())
    assert speaker is None


@given(st.lists(_PLAIN.filter(lambda t: t.strip()), min_size=1, max_size=4))
def test_clean_text_strips_markup_around_plain_text(parts: list[str]) -> None:
    wrapped = "\\N".join(f"{{\\i1}}<b>{p}</b>{{\\i0}}" for p in parts)
    cleaned, _ = clean_text(wrapped, "ass")
    assert cleaned == " ".join(" ".join(parts).split())


# --------------------------------------------------------------------------- finding the file


def test_find_subtitles_for(tmp_path: Path) -> None:
    video = write(tmp_path, "My.Movie.2024.mp4", fake_mp4_bytes(64))
    assert find_subtitles_for(video) is None
    write(tmp_path, "Other.srt", srt([Line(0, 1, "x")]))
    write(tmp_path, "My.Movie.2024.xml", "<config><a/></config>")  # not TTML
    write(tmp_path, "My.Movie.2024.sub", b"\x00\x00\x01\xba" + bytes(64))  # VobSub pictures
    assert find_subtitles_for(video) is None
    tagged = write(tmp_path, "My.Movie.2024.en.VTT", "WEBVTT\n")
    assert find_subtitles_for(video) == tagged
    exact = write(tmp_path, "My.Movie.2024.ass", ASS_HEADER)
    assert find_subtitles_for(video) == exact
    exact_srt = write(tmp_path, "my.movie.2024.SRT", srt([Line(0, 1, "x")]))
    assert find_subtitles_for(video) == exact_srt  # .srt ranks first; case is not a barrier
    same_case = write(tmp_path, "My.Movie.2024.srt", srt([Line(0, 1, "x")]))
    assert find_subtitles_for(video) == same_case
    assert all(ext.startswith(".") for ext in SUBTITLE_EXTENSIONS)


def test_cue_duration_property() -> None:
    cue = Cue(index=1, start_ms=1200, end_ms=1000, text="x", speaker_hint=None, raw="x")
    assert cue.duration_ms == -200 and cue.usable and cue.sources == ()


def test_short_french_cp1252_is_not_read_as_czech(tmp_path):
    path = tmp_path / "fr.srt"
    path.write_bytes(
        "1\r\n00:00:01,000 --> 00:00:03,000\r\nOù étiez-vous passé ?\r\n".encode("cp1252")
    )
    doc = load_subtitles(path)
    assert doc.cues[0].text == "Où étiez-vous passé ?"
