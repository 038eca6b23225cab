"""Issue 26, the outputs: no output is an input or another output (the one rule, checked
before any work), output-side mistakes exit 2 with a clear message, names the file
system cannot hold are refused before the render, and --keep-original-track keeps every
original audio track and the attached fonts (or says what it left out)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app.cli import EXIT_OK, EXIT_USAGE, main
from core import project as proj
from core.job import demo
from tests import mediagen
from tests.tone_engine import ToneEngine

REPO = Path(__file__).resolve().parents[1]
LINES = mediagen.DEFAULT_LINES[:2]


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("outputs-original")
    return mediagen.make_test_video(
        folder / "base.mp4", duration_s=8, lines=LINES, srt_path=folder / "base.srt"
    )


@pytest.fixture
def base(original, tmp_path) -> Path:
    """A private copy of base.mp4 with base.srt beside it (found, not named)."""
    folder = tmp_path / "in"
    folder.mkdir()
    return mediagen.private_copy(original, folder)


def state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def run(video: Path, out: Path, *extra, engine: ToneEngine | None = None) -> int:
    engine = engine or ToneEngine()
    argv = ["dub", str(video), "-o", str(out), *map(str, extra)]
    argv += ["--work-dir", str(out.parent / "work"), "--no-progress"]
    return main(argv, engine_factory=lambda model_dir, device: engine)


# --- item 1: every output against every input and every other output ----------------------


@pytest.mark.parametrize("flag", ["--report", "--dub-wav"])
def test_found_subtitles_are_never_written_over(base, tmp_path, capsys, flag):
    before = state(base.parent)
    engine = ToneEngine()
    code = run(base, tmp_path / "d.mp4", flag, base.with_suffix(".srt"), engine=engine)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert "base.srt is an input of this dub (the subtitles)" in err
    assert state(base.parent) == before and engine.voices == []
    assert not (tmp_path / "d.mp4").exists()


@pytest.mark.parametrize("flag", ["--report", "--dub-wav"])
def test_the_project_file_is_never_written_over(base, tmp_path, capsys, flag):
    assert run(base, tmp_path / "first.mp4") == EXIT_OK  # the project file now exists
    project_file = base.with_name("base.dubsmith.json")
    saved = project_file.read_bytes()
    capsys.readouterr()
    code = run(base, tmp_path / "d.mp4", flag, project_file)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "(the project file)" in err and "wrote" not in err
    assert project_file.read_bytes() == saved


def test_an_emotion_reference_named_by_the_project_is_an_input(base, tmp_path, capsys):
    assert run(base, tmp_path / "first.mp4") == EXIT_OK
    reference = tmp_path / "angry.wav"
    reference.write_bytes(b"RIFF the editor's reference clip")  # never read: refused first
    project_file = base.with_name("base.dubsmith.json")
    project = proj.load_project(project_file)
    project.lines[0].emotion = proj.Emotion(
        mode=proj.EmotionMode.REFERENCE, reference_path=reference
    )
    project.save(project_file)
    before = reference.read_bytes()
    code = run(base, tmp_path / "d.mp4", "--dub-wav", reference)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "a file the project uses" in err
    assert reference.read_bytes() == before


def test_a_hard_link_to_a_voice_file_is_the_voice_file(base, tmp_path, capsys):
    voice = tmp_path / "voice.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(base), "-t", "3", str(voice)], check=True)
    link = tmp_path / "report.json"
    os.link(voice, link)
    before = voice.read_bytes()
    code = run(base, tmp_path / "d.mp4", "--voice", f"speaker={voice}", "--report", link)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "the voice file of speaker" in err
    assert voice.read_bytes() == before


@pytest.mark.parametrize(
    "extra",
    [("--report", "d.mp4"), ("--dub-wav", "same.wav", "--report", "same.wav")],
)
def test_two_outputs_are_never_one_file(base, tmp_path, capsys, extra):
    extra = [str(tmp_path / e) if not e.startswith("--") else e for e in extra]
    code = run(base, tmp_path / "d.mp4", *extra)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "is also given as the" in err
    assert not (tmp_path / "d.mp4").exists()


# --- smaller: output-side mistakes exit 2, each with its message --------------------------


@pytest.mark.parametrize(
    "out, words",
    [
        ("folder", "is a folder; -o names the video to write"),
        ("x.txt", "unknown video type"),
        ("no/such/x.mp4", "does not exist"),
    ],
)
def test_output_side_mistakes_exit_2(base, tmp_path, capsys, out, words):
    (tmp_path / "folder").mkdir()
    engine = ToneEngine()
    code = run(base, tmp_path / out, engine=engine)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert words in err and engine.voices == []


def test_the_output_equal_to_the_input_exits_2(base, capsys):
    before = base.read_bytes()
    assert run(base, base) == EXIT_USAGE
    assert "is an input of this dub (the video)" in capsys.readouterr().err
    assert base.read_bytes() == before


def test_a_read_only_output_folder_exits_2(base, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root passes permission bits: answer as for anyone else
        real = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode: False if Path(p) == folder else real(p, mode)
        )
    try:
        assert run(base, folder / "d.mp4") == EXIT_USAGE
    finally:
        folder.chmod(0o755)
    assert "is not writable" in capsys.readouterr().err


def test_a_voice_for_an_unknown_speaker_exits_2(base, tmp_path, capsys):
    code = run(base, tmp_path / "d.mp4", "--voice", f"Zed={base}")
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "zed" in err and "speakers are" in err


def test_cuda_without_a_gpu_says_so_and_exits_2(base, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    engine = ToneEngine()
    code = run(base, tmp_path / "d.mp4", "--device", "cuda", engine=engine)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "no CUDA GPU here" in err and "--device cpu" in err
    assert engine.voices == []


def test_demo_into_an_existing_file_says_so(tmp_path, capsys):
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    code = main(["demo", "-o", str(taken), "--model-dir", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "is a file, not a folder" in err and "Traceback" not in err
    assert taken.read_text() == "mine"
    assert not (tmp_path / demo.VIDEO_NAME).exists()


# --- item 9: a name the file system cannot hold is refused before the render --------------


def test_a_name_too_long_for_the_temp_file_is_refused_before_any_work(base, tmp_path, capsys):
    out = tmp_path / ("n" * 246 + ".mp4")  # 250 bytes: fits alone, not with the temp name
    engine = ToneEngine()
    code = run(base, out, engine=engine)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert "too long" in err and "at most" in err
    assert engine.voices == [] and not (tmp_path / "work").exists()


def test_the_longest_name_allowed_is_written(base, tmp_path, capsys):
    from core.temp_files import TEMP_NAME_EXTRA

    name_max = os.pathconf(tmp_path, "PC_NAME_MAX")
    out = tmp_path / ("n" * (name_max - TEMP_NAME_EXTRA - 4) + ".mp4")
    assert run(base, out) == EXIT_OK, capsys.readouterr().err
    assert out.is_file()


# --- --keep-original-track: every audio track and the fonts --------------------------------


@pytest.fixture(scope="module")
def mkv_with_fonts(original, tmp_path_factory) -> Path:
    """base.mkv: the picture, its English audio, a second (French) track, a font."""
    folder = tmp_path_factory.mktemp("outputs-mkv")
    font = folder / "Subtitle Font.ttf"
    font.write_bytes(b"\x00\x01\x00\x00" + bytes(range(256)) * 8)  # carried as it is
    video = folder / "base.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(original), "-f", "lavfi", "-i",
         "sine=frequency=330:duration=8:sample_rate=48000", "-attach", str(font),
         "-map", "0:v", "-map", "0:a", "-map", "1:a", "-c:v", "copy", "-c:a:0", "copy",
         "-c:a:1", "aac", "-metadata:s:a:1", "language=fra", "-metadata:s:a:1",
         "title=Français", "-metadata:s:t", "mimetype=font/ttf", str(video)],
        check=True,
    )  # fmt: skip
    shutil.copy(original.with_suffix(".srt"), video.with_suffix(".srt"))
    return video


def streams(path: Path) -> list[dict]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)["streams"]


def test_every_original_track_and_the_fonts_are_kept_in_mkv(mkv_with_fonts, tmp_path, capsys):
    video = shutil.copy(mkv_with_fonts, tmp_path / "base.mkv")
    shutil.copy(mkv_with_fonts.with_suffix(".srt"), tmp_path / "base.srt")
    out = tmp_path / "out" / "dub.mkv"
    out.parent.mkdir()
    assert run(Path(video), out, "--keep-original-track") == EXIT_OK, capsys.readouterr().err
    got = streams(out)
    audio = [s for s in got if s["codec_type"] == "audio"]
    assert len(audio) == 3  # the dub, the original English, the French
    assert [s.get("tags", {}).get("language") for s in audio[1:]] == ["eng", "fra"]
    fonts = [s for s in got if s["codec_type"] == "attachment"]
    assert [s["tags"]["filename"] for s in fonts] == ["Subtitle Font.ttf"]


def test_what_an_mp4_cannot_hold_is_said(mkv_with_fonts, tmp_path, capsys):
    video = shutil.copy(mkv_with_fonts, tmp_path / "base.mkv")
    shutil.copy(mkv_with_fonts.with_suffix(".srt"), tmp_path / "base.srt")
    out = tmp_path / "out" / "dub.mp4"
    out.parent.mkdir()
    code = run(Path(video), out, "--keep-original-track")
    err = capsys.readouterr().err
    assert code == EXIT_OK, err
    assert len([s for s in streams(out) if s["codec_type"] == "audio"]) == 3
    assert "not kept in the output: 1 attached file(s) (fonts)" in err and ".mkv" in err


# --- README: the first command needs no video of the user's ---------------------------------


def test_quick_start_begins_with_the_demo():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    first = block.strip().splitlines()[0]
    assert first.rstrip().endswith("dubsmith demo"), first
