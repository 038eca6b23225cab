"""core.subtitles.read on TTML/DFXP: the timing model, speakers, and Apple's iTunes TTML."""

from __future__ import annotations

import json
from pathlib import Path

import pysubs2
import pytest

from app.cli import EXIT_OK, main
from core.subtitles.read import SubtitleError, load_subtitles
from tests.subfixtures import write

# --------------------------------------------------------------------------- TTML timing model


TTML = """<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:tts="http://www.w3.org/ns/ttml#styling"
    xmlns:ttp="http://www.w3.org/ns/ttml#parameter" xmlns:ttm="http://www.w3.org/ns/ttml#metadata"
    ttp:frameRate="25" ttp:tickRate="10000000" xml:lang="en">
  <head>
    <metadata><ttm:title>Test</ttm:title>
      <ttm:agent xml:id="a1" type="character"><ttm:name type="full">Alice Liddell</ttm:name></ttm:agent>
    </metadata>
  </head>
  <body>
    <div>
      <p begin="00:00:01.000" end="00:00:02.500" ttm:agent="a1">Clock <span tts:color="yellow">time</span><br/>two lines</p>
      <p begin="00:00:03:05" end="00:00:04:00">Clock with frames</p>
      <p begin="5.5s" dur="1500ms">Offset seconds</p>
      <p begin="200f" end="225f">Offset frames</p>
      <p begin="100000000t" end="115000000t">Ticks &amp; more</p>
    </div>
    <div begin="60s">
      <p begin="1s" end="2s">Relative to its div</p>
      <p begin="0.05h" end="3.05m">hours <span tts:ruby="text">ignored</span>x</p>
    </div>
  </body>
</tt>
"""


def test_ttml_clock_offset_frames_ticks(tmp_path: Path) -> None:
    doc = load_subtitles(write(tmp_path, "show.ttml", TTML))
    assert doc.format == "ttml"
    spans = [(c.start_ms, c.end_ms) for c in doc.cues]
    assert spans[:5] == [
        (1000, 2500),
        (3000 + 5 * 1000 // 25, 4000),  # hh:mm:ss:ff at ttp:frameRate 25
        (5500, 7000),  # begin + dur
        (8000, 9000),  # 200f and 225f at 25 fps
        (10000, 11500),  # ticks at 10 MHz
    ]
    assert spans[5] == (61000, 62000)  # times nest inside the div's begin
    assert spans[6] == (60000 + 180000, 60000 + 183000)  # 0.05h, 3.05m
    assert doc.cues[0].text == "Clock time two lines"
    assert doc.cues[0].speaker_hint == "Alice Liddell"
    assert doc.cues[4].text == "Ticks & more"
    assert doc.cues[6].text == "hours x"
    assert "<br/>" in doc.cues[0].raw and "<span" in doc.cues[0].raw


def test_ttml_frame_rate_multiplier_and_default_tick_rate(tmp_path: Path) -> None:
    content = (
        '<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter"'
        ' ttp:frameRate="30" ttp:frameRateMultiplier="1000 1001"><body><div>'
        '<p begin="30f" end="60f">ntsc</p><p begin="90t" end="120t">ticks are frames</p>'
        "</div></body></tt>"
    )
    doc = load_subtitles(write(tmp_path, "ntsc.dfxp", content))
    rate = 30 * 1000 / 1001
    assert [(c.start_ms, c.end_ms) for c in doc.cues] == [
        (round(30 / rate * 1000), round(60 / rate * 1000)),
        (round(90 / rate * 1000), round(120 / rate * 1000)),
    ]


def test_ttml_bad_time_expression(tmp_path: Path) -> None:
    content = TTML.replace('end="3.05m"', 'end="3m1s"')  # one metric per offset time only
    with pytest.raises(SubtitleError, match="show.ttml.*3m1s"):
        load_subtitles(write(tmp_path, "show.ttml", content))


def test_ttml_with_doctype_is_refused(tmp_path: Path) -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE tt [<!ENTITY a "aaaa">]><tt xmlns="http://www.w3.org/ns/ttml"><body><div><p begin="0s" end="1s">&a;</p></div></body></tt>'
    with pytest.raises(SubtitleError, match="evil.ttml"):
        load_subtitles(write(tmp_path, "evil.ttml", bomb))


# --------------------------------------------------------------------------- time expressions

_MINIMAL = (
    '<tt xmlns="http://www.w3.org/ns/ttml"><body><div begin="{div}">'
    '<p begin="{begin}" end="{end}">line</p></div></body></tt>'
)


@pytest.mark.parametrize(
    ("begin", "end", "span"),
    [
        # Not TTML's clock time (hours and minutes are required) but what pysubs2 reads,
        # and what Apple writes: minutes:seconds, or bare seconds.
        ("3:50.000", "3:58.640", (230_000, 238_640)),
        ("19.764", "21.900", (19_764, 21_900)),
        ("1:00.998", "1:02.794", (60_998, 62_794)),
        ("0:01:02.5", "10:00:00", (62_500, 36_000_000)),  # hours of any width
        ("1500ms", "0.5m", (1500, 30_000)),
    ],
)
def test_ttml_reads_the_time_forms_pysubs2_reads(
    tmp_path: Path, begin: str, end: str, span: tuple[int, int]
) -> None:
    content = _MINIMAL.format(div="0s", begin=begin, end=end)
    doc = load_subtitles(write(tmp_path, "times.ttml", content))
    assert [(c.start_ms, c.end_ms) for c in doc.cues] == [span]
    expected = pysubs2.SSAFile.from_string(content, format_="ttml")
    assert [(e.start, e.end) for e in expected] == [span]


def test_ttml_lenient_times_still_nest_in_their_div(tmp_path: Path) -> None:
    # Only Apple's own files get absolute <p> times; everyone else's follow TTML.
    content = _MINIMAL.format(div="1:00.000", begin="05.000", end="07.500")
    doc = load_subtitles(write(tmp_path, "nested.ttml", content))
    assert [(c.start_ms, c.end_ms) for c in doc.cues] == [(65_000, 67_500)]
    assert not doc.warnings


@pytest.mark.parametrize("expr", ["5.2", "3m1s", "1:2:3:4:5", "soon"])
def test_ttml_time_neither_pysubs2_nor_the_frame_reader_reads(tmp_path: Path, expr: str) -> None:
    content = _MINIMAL.format(div="0s", begin="0s", end=expr)
    with pytest.raises(SubtitleError, match=f"odd.ttml: unreadable TTML time expression '{expr}'"):
        load_subtitles(write(tmp_path, "odd.ttml", content))


@pytest.mark.parametrize("expr", ["9" * 400 + "h", "9" * 400 + "f", "99999999999h"])
def test_ttml_absurd_time_is_a_subtitle_error(tmp_path: Path, expr: str) -> None:
    content = _MINIMAL.format(div="0s", begin="0s", end=expr)
    with pytest.raises(SubtitleError, match="huge.ttml: .*out of range"):
        load_subtitles(write(tmp_path, "huge.ttml", content))


@pytest.mark.parametrize(
    "params",
    [
        'ttp:frameRate="fast"',
        'ttp:frameRate="0"',
        'ttp:frameRateMultiplier="1000 0"',
        'ttp:tickRate="-1"',
        'ttp:subFrameRate="nan"',
    ],
)
def test_ttml_bad_frame_or_tick_rate_is_a_subtitle_error(tmp_path: Path, params: str) -> None:
    content = (
        '<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter"'
        f' {params}><body><div><p begin="0s" end="1s">a</p></div></body></tt>'
    )
    with pytest.raises(SubtitleError, match="rates.ttml: .*frame or tick rate"):
        load_subtitles(write(tmp_path, "rates.ttml", content))


def test_ttml_nested_absurdly_deep_is_a_subtitle_error(tmp_path: Path) -> None:
    depth = 5000
    content = (
        '<tt xmlns="http://www.w3.org/ns/ttml"><body>'
        + "<div>" * depth
        + '<p begin="0s" end="1s">a</p>'
        + "</div>" * depth
        + "</body></tt>"
    )
    with pytest.raises(SubtitleError, match="deep.ttml: .*nested too deeply"):
        load_subtitles(write(tmp_path, "deep.ttml", content))


# --------------------------------------------------------------------------- Apple iTunes TTML

# The shape of Apple's iTunes TTML (as in pysubs2's own test data): its own namespace, a
# body dur, song-part <div>s with begin/end, each <p> with absolute times in m:ss.fff or
# bare seconds, a ttm:agent, and one <span> per word with its own begin/end.
ITUNES_TTML = """<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:itunes="http://music.apple.com/lyric-ttml-internal"
    xmlns:ttm="http://www.w3.org/ns/ttml#metadata" xmlns:ttp="http://www.w3.org/ns/ttml#parameter"
    ttp:frameRate="24" itunes:timing="Word" xml:lang="en">
  <head>
    <metadata>
      <ttm:agent type="person" xml:id="v1"><ttm:name type="full">Mara Quill</ttm:name></ttm:agent>
      <ttm:agent type="person" xml:id="v2"><ttm:name type="full">Otto Fenn</ttm:name></ttm:agent>
      <iTunesMetadata xmlns="http://music.apple.com/lyric-ttml-internal" leadingSilence="0.940">
        <songwriters><songwriter>Mara Quill</songwriter></songwriters>
      </iTunesMetadata>
    </metadata>
  </head>
  <body dur="3:58.640">
    <div begin="19.764" end="59.300" itunes:songPart="Verse">
      <p begin="19.764" end="21.900" itunes:key="L1" ttm:agent="v1">
        <span begin="19.764" end="20.105">Lanterns</span>
        <span begin="20.105" end="20.326">on the</span>
        <span begin="20.326" end="21.900">water</span>
      </p>
      <p begin="55.567" end="59.300" itunes:key="L2" ttm:agent="v2">
        <span begin="55.567" end="59.300">Keep&#160;walking.</span>
      </p>
    </div>
    <div begin="1:00.998" end="3:58.640" itunes:songPart="Outro">
      <p begin="1:00.998" end="1:02.794" itunes:key="L3" ttm:agent="v1">
        <span begin="1:00.998" end="1:01.293">Not</span>
        <span begin="1:01.293" end="1:02.794">yet</span>
      </p>
      <p begin="3:50.000" end="3:58.640" itunes:key="L4" ttm:agent="v2">
        <span begin="3:50.000" end="3:58.640">Home.</span>
      </p>
    </div>
  </body>
</tt>
"""


def test_itunes_ttml_reads_with_absolute_times_speakers_and_words(tmp_path: Path) -> None:
    doc = load_subtitles(write(tmp_path, "song.ttml", ITUNES_TTML))
    assert doc.format == "ttml"
    # Absolute, as Apple means them: TTML's reading would put L3 at 2:01.996.
    assert [(c.start_ms, c.end_ms) for c in doc.cues] == [
        (19_764, 21_900),
        (55_567, 59_300),
        (60_998, 62_794),
        (230_000, 238_640),
    ]
    assert [c.text for c in doc.cues] == [
        "Lanterns on the water",
        "Keep walking.",
        "Not yet",
        "Home.",
    ]
    assert [c.speaker_hint for c in doc.cues] == [
        "Mara Quill",
        "Otto Fenn",
        "Mara Quill",
        "Otto Fenn",
    ]
    assert all(c.usable for c in doc.cues)
    assert '<span begin="19.764" end="20.105">Lanterns</span>' in doc.cues[0].raw
    # One file-level note that says how the times were read; nothing else is odd.
    assert [(w.cue, w.kind) for w in doc.warnings] == [(None, "format")]
    assert "Apple iTunes TTML" in doc.warnings[0].message


def _itunes_song(lines: int) -> str:
    """An iTunes TTML of `lines` lines, 6 s apart from 12 s on, in song parts of 8 lines."""

    def stamp(ms: int) -> str:  # Apple's style: "19.764" under a minute, else "3:58.640"
        hours, rest = divmod(ms, 3_600_000)
        minutes, rest = divmod(rest, 60_000)
        seconds = f"{rest // 1000:02d}.{rest % 1000:03d}"
        if hours:
            return f"{hours}:{minutes:02d}:{seconds}"
        return f"{minutes}:{seconds}" if minutes else seconds

    starts = [12_000 + 6_000 * i + 37 * i for i in range(lines)]
    parts = []
    for first in range(0, lines, 8):
        block = starts[first : first + 8]
        ps = "".join(
            f'<p begin="{stamp(s)}" end="{stamp(s + 4_321)}" itunes:key="L{first + k + 1}"'
            f' ttm:agent="v1"><span begin="{stamp(s)}" end="{stamp(s + 2_000)}">Line</span>'
            f' <span begin="{stamp(s + 2_000)}" end="{stamp(s + 4_321)}">{first + k + 1}</span></p>'
            for k, s in enumerate(block)
        )
        parts.append(f'<div begin="{stamp(block[0])}" end="{stamp(block[-1] + 4_321)}">{ps}</div>')
    return (
        '<tt xmlns="http://www.w3.org/ns/ttml" xmlns:itunes="http://music.apple.com/lyric-ttml-internal"'
        ' xmlns:ttm="http://www.w3.org/ns/ttml#metadata" itunes:timing="Word" xml:lang="en">'
        '<head><metadata><ttm:agent type="person" xml:id="v1"><ttm:name type="full">Mara Quill'
        f'</ttm:name></ttm:agent></metadata></head><body dur="{stamp(starts[-1] + 8_000)}">'
        + "".join(parts)
        + "</body></tt>"
    )


def test_itunes_ttml_reads_every_line_as_pysubs2_does(tmp_path: Path) -> None:
    """What pysubs2 reads is read with pysubs2: same lines, times and words, 38 of them."""
    content = _itunes_song(38)
    doc = load_subtitles(write(tmp_path, "song.ttml", content))
    # ignore_par_time_offset is pysubs2's switch for Apple's absolute <p> times.
    theirs = pysubs2.SSAFile.from_string(content, format_="ttml", ignore_par_time_offset=True)
    assert len(theirs) == 38
    assert [(c.start_ms, c.end_ms, c.text) for c in doc.cues] == [
        (e.start, e.end, e.plaintext) for e in theirs
    ]
    assert {c.speaker_hint for c in doc.cues} == {"Mara Quill"}
    assert doc.cues[-1].start_ms > 60_000  # the m:ss.fff times were reached


def test_inspect_reads_itunes_ttml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As a new user meets it: `dubsmith inspect song.ttml` lists every line (it exited 3)."""
    path = write(tmp_path, "song.ttml", _itunes_song(38))
    assert main(["inspect", str(path), "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert len(data["lines"]) == 38
    assert data["lines"][0] == {
        "index": 1,
        "start_ms": 12_000,
        "end_ms": 16_321,
        "speaker": "Mara Quill",
        "text": "Line 1",
        "usable": True,
    }
