"""Bad input, tried as a hostile tester would (issue 7): each case gets its exit status and a
message that says what to do, before any long work where the problem is knowable, and
leaves nothing behind: no output, no temp file, no input touched."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import namedtuple
from pathlib import Path

import pytest

from app.cli import EXIT_FAILED, EXIT_INPUT, EXIT_MODELS, EXIT_OK, EXIT_USAGE, main
from core import project as proj
from models.contract import EmotionSource
from tests import mediagen
from tests.subfixtures import srt_time
from tests.tone_engine import ToneEngine

LINES = mediagen.DEFAULT_LINES


class SpyFactory:
    """Hands out the tone double and remembers whether the models were ever loaded."""

    def __init__(self, sources: frozenset[EmotionSource] | None = None) -> None:
        self.loads = 0
        self.engine = ToneEngine()
        self.sources = sources

    def __call__(self, model_dir, device):
        self.loads += 1
        return self.engine

    def emotion_sources(self, model_dir):
        return self.sources if self.sources is not None else frozenset(EmotionSource)


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad-input-originals")
    mediagen.make_test_video(folder / "scene.mp4", duration_s=24, srt_path=folder / "scene.srt")
    mediagen.make_silent_video(folder / "mute.mp4", duration_s=24)
    shutil.copy(folder / "scene.srt", folder / "mute.srt")
    return folder


@pytest.fixture
def inputs(originals, tmp_path) -> Path:
    folder = tmp_path / "in"
    shutil.copytree(originals, folder)
    return folder


def state(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def dub(
    folder: Path, *args, factory: SpyFactory, video="scene.mp4", subs=None, out="out.mp4"
) -> int:
    argv = ["dub", str(folder / video), *([str(subs)] if subs else [])]
    argv += ["-o", str(folder.parent / out), *map(str, args)]
    argv += ["--work-dir", str(folder.parent / "work"), "--no-progress"]
    return main(argv, engine_factory=factory)


def assert_nothing_written(folder: Path, before: dict, out="out.mp4") -> None:
    assert state(folder) == before, "an input was modified or a file was left beside it"
    assert not (folder.parent / out).exists()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(f".{out}")]


def test_a_nan_duck_level_is_refused_before_the_models(inputs, capsys):
    before, spy = state(inputs), SpyFactory()
    assert dub(inputs, "--duck-db", "nan", factory=spy) == EXIT_USAGE
    assert "duck level" in capsys.readouterr().err
    assert spy.loads == 0
    assert_nothing_written(inputs, before)


@pytest.mark.parametrize("value", ["3", "inf"])
def test_a_positive_or_infinite_duck_level_is_refused(inputs, capsys, value):
    spy = SpyFactory()
    assert dub(inputs, "--duck-db", value, factory=spy) == EXIT_USAGE
    assert "at or below 0" in capsys.readouterr().err and spy.loads == 0


def test_a_broken_voice_file_is_unreadable_input(inputs, capsys):
    (inputs / "voice.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 20)
    before, spy = state(inputs), SpyFactory()
    code = dub(inputs, "--voice", f"speaker={inputs / 'voice.wav'}", factory=spy)
    err = capsys.readouterr().err
    assert code == EXIT_INPUT, err
    assert "voice sample for 'speaker' cannot be read as audio" in err and "voice.wav" in err
    assert "Traceback" not in err and spy.loads == 0
    assert_nothing_written(inputs, before)


def test_a_video_without_audio_needs_voice_files_before_the_models(inputs, capsys):
    before, spy = state(inputs), SpyFactory()
    code = dub(inputs, factory=spy, video="mute.mp4")
    err = capsys.readouterr().err
    assert code == EXIT_INPUT
    assert "no audio" in err and "--voice 'speaker=sample.wav'" in err
    assert spy.loads == 0
    assert_nothing_written(inputs, before)


def test_text_emotion_without_its_model_is_refused_before_the_models(inputs, capsys):
    project_file = inputs / "scene.dubsmith.json"
    project = proj.Project(video_path=inputs / "scene.mp4")
    for i, (start, text, _) in enumerate(LINES, start=1):
        ms = round(start * 1000)
        project.lines.append(proj.Line(index=i, start_ms=ms, end_ms=ms + 2000, text=text))
    project.lines[1].emotion = proj.Emotion(mode=proj.EmotionMode.TEXT, text="quietly furious")
    project.save(project_file)
    spy = SpyFactory(frozenset(EmotionSource) - {EmotionSource.TEXT})
    code = dub(inputs, factory=spy)
    err = capsys.readouterr().err
    assert code == EXIT_MODELS, err
    assert "qwen0.6bemo4-merge" in err and "line(s) 2 use it" in err
    assert spy.loads == 0 and not (inputs.parent / "out.mp4").exists()
    kept = proj.load_project(project_file)  # the editor's setting is still there
    assert kept.lines[1].emotion.text == "quietly furious"


def test_a_full_disk_is_found_before_the_models(inputs, capsys, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 2_000_000, 2_000_000))
    before, spy = state(inputs), SpyFactory()
    code = dub(inputs, factory=spy)
    err = capsys.readouterr().err
    assert code == EXIT_FAILED
    assert "not enough free disk space" in err and "is needed, 2.0 MB is free" in err
    assert str(inputs.parent / "work") in err or str(inputs.parent) in err
    assert spy.loads == 0
    assert_nothing_written(inputs, before)


def test_a_shorter_subtitle_file_keeps_every_setting(inputs, capsys):
    spy = SpyFactory()
    assert dub(inputs, factory=spy) == EXIT_OK
    project_file = inputs / "scene.dubsmith.json"
    project = proj.load_project(project_file)
    by_text = {ln.text: ln for ln in project.lines}
    second, fourth = LINES[1][1], LINES[3][1]
    by_text[second].emotion = proj.Emotion(mode=proj.EmotionMode.VOICE, alpha=0.5)
    by_text[fourth].emotion = proj.Emotion(mode=proj.EmotionMode.VOICE, alpha=0.25)
    project.save(project_file)
    # The editor's new subtitles: one cue inserted at the start, the fourth line removed.
    edited = [(0.2, "Hello.", "en"), *[ln for ln in LINES if ln[1] != fourth]]
    mediagen.write_srt(inputs / "edited.srt", edited, 24)
    capsys.readouterr()
    code = dub(inputs, factory=spy, subs=inputs / "edited.srt", out="again.mp4")
    err = capsys.readouterr().err
    assert code == EXIT_OK, err
    assert "is no longer in the subtitles; its settings are kept" in err
    after = proj.load_project(project_file)
    moved = next(ln for ln in after.lines if ln.text == second)
    assert moved.index == 3 and moved.emotion.alpha == 0.5  # cue 2 became cue 3
    assert [(ln.text, ln.emotion.alpha) for ln in after.detached_lines] == [(fourth, 0.25)]
    # and the original subtitles bring it back
    assert dub(inputs, factory=spy, subs=inputs / "scene.srt", out="third.mp4") == EXIT_OK
    back = proj.load_project(project_file)
    assert next(ln for ln in back.lines if ln.text == fourth).emotion.alpha == 0.25
    assert back.detached_lines == []


def test_ten_thousand_warnings_are_grouped(inputs, tmp_path, capsys):
    # 10,000 cues 20 ms apart, each a second long so it overlaps the next ones: most lie past
    # the end of the 24 s video, nearly every one is an overlap, so the dub meets ~20,000
    # warnings. A second, not the 30 ms of a flood of tiny cues: no one says "Line number
    # 12." in 30 ms, and such lines are refused at planning (core/lines/limits.py). Cues from
    # 1151 on start after the video, so none in it is cut short by the video's end.
    def start(i: int) -> int:
        return i * 20 if i < 1150 else 1000 + i * 20

    cues = [
        f"{i + 1}\n{srt_time(start(i))} --> {srt_time(start(i) + 1000)}\nLine number {i + 1}.\n"
        for i in range(10_000)
    ]
    (inputs / "flood.srt").write_text("\n".join(cues), encoding="utf-8")
    report = tmp_path / "report.json"
    voice = tmp_path / "voice.wav"  # no cue is clean enough to cut a prompt from
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(inputs / "scene.mp4"), "-t", "8", str(voice)],
        check=True,
    )
    code = dub(
        inputs,
        "--report",
        report,
        "--voice",
        f"speaker={voice}",
        factory=SpyFactory(),
        subs=inputs / "flood.srt",
    )
    err = capsys.readouterr().err
    assert code == EXIT_OK, err[-2000:]
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert len(warnings) < 40, warnings[:50]
    assert any("more 'overlap' warning(s)" in w for w in warnings)
    data = json.loads(report.read_text())
    assert data["warning_counts"]["overlap"] > 5000 and len(data["warnings"]) > 10_000


def test_a_cut_short_video_is_refused_before_the_models(inputs, capsys):
    # Index at the front (+faststart), cut at half its bytes: ffprobe still reads 24 s.
    faststart = inputs / "full.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(inputs / "scene.mp4"), "-c", "copy"]
        + ["-movflags", "+faststart", str(faststart)],
        check=True,
    )
    data = faststart.read_bytes()
    (inputs / "cut.mp4").write_bytes(data[: len(data) // 2])
    shutil.copy(inputs / "scene.srt", inputs / "cut.srt")
    before, spy = state(inputs), SpyFactory()
    code = dub(inputs, factory=spy, video="cut.mp4")
    err = capsys.readouterr().err
    assert code == EXIT_INPUT, err
    assert "damaged or incomplete" in err and "of 24.0 s" in err and "cut.mp4" in err
    assert spy.loads == 0
    assert_nothing_written(inputs, before)
