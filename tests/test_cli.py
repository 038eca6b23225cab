"""The command line on generated media: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import EXIT_INPUT, EXIT_MODELS, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, main
from tests import mediagen
from tests.tone_engine import ToneEngine

ASS = """[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,2,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:03.40,Default,Ann,0,0,0,,{\\i1}Where have you been\\Nall this time?{\\i0}
Dialogue: 0,0:00:05.00,0:00:07.40,Default,Bob,0,0,0,,I was waiting for the morning train.
Dialogue: 0,0:00:10.00,0:00:12.40,Default,Ann,0,0,0,,The train never came, did it?
Dialogue: 0,0:00:15.00,0:00:17.40,Default,Bob,0,0,0,,No. So I walked the whole way home.
Dialogue: 0,0:00:20.00,0:00:22.40,Default,Ann,0,0,0,,Then we should eat something.
Dialogue: 0,0:00:22.00,0:00:22.00,Default,Ann,0,0,0,,{\\p1}m 0 0 l 10 10{\\p0}
"""


@pytest.fixture(scope="module")
def movie(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("climovie")
    video = folder / "scene.mp4"
    mediagen.make_test_video(video, duration_s=24)
    (folder / "scene.ass").write_text(ASS, encoding="utf-8")
    return video


def _factory(engine):
    return lambda model_dir, device: engine


def _dub(video, tmp_path, *extra, engine=None, out="o.mp4") -> int:
    """`dubsmith dub VIDEO -o tmp/OUT EXTRA...` with the tone double and a private work dir."""
    args = ["dub", str(video), "-o", str(tmp_path / out), *map(str, extra)]
    args += ["--work-dir", str(tmp_path / "w"), "--no-progress"]
    return main(args, engine_factory=_factory(engine or ToneEngine()))


def test_dub_with_speakers_from_ass(movie, tmp_path, capsys):
    engine = ToneEngine()
    out = tmp_path / "dub.mkv"
    report = tmp_path / "report.json"
    code = main(
        [
            "dub",
            str(movie),
            "-o",
            str(out),
            "--work-dir",
            str(tmp_path / "w"),
            "--no-progress",
            "--keep-original-track",
            "--report",
            str(report),
        ],
        engine_factory=_factory(engine),
    )
    assert code == EXIT_OK, capsys.readouterr().err
    assert len(engine.voices) == 2  # Ann and Bob get their own prompts
    streams = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out)],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    )["streams"]
    assert [s["codec_type"] for s in streams] == ["video", "audio", "audio"]
    data = json.loads(report.read_text())
    assert data["totals"]["lines"] == 5
    assert {ln["speaker"] for ln in data["lines"]} == {"ann", "bob"}
    err = capsys.readouterr().err
    assert "cue 6" in err  # the zero-length drawing cue is reported, not dropped silently


def test_partial_failure_exit_code(movie, tmp_path):
    engine = ToneEngine(fail_texts=["Then we should eat something."])
    code = main(
        [
            "dub",
            str(movie),
            "-o",
            str(tmp_path / "o.mp4"),
            "--work-dir",
            str(tmp_path / "w"),
            "--no-progress",
        ],
        engine_factory=_factory(engine),
    )
    assert code == EXIT_PARTIAL


def test_missing_models_say_how_to_get_them(movie, tmp_path, capsys):
    code = main(
        [
            "dub",
            str(movie),
            "-o",
            str(tmp_path / "o.mp4"),
            "--model-dir",
            str(tmp_path / "none"),
            "--work-dir",
            str(tmp_path / "w"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == EXIT_MODELS
    assert "indextts2/gpt.pth" in err and "download_models.py" in err
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("kind", ["truncated", "garbage", "text"])
def test_corrupt_video_is_a_clear_error(kind, tmp_path, capsys):
    bad = mediagen.make_corrupt_file(tmp_path / f"bad_{kind}.mp4", kind)
    (tmp_path / f"bad_{kind}.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nHi.\n")
    code = main(
        ["dub", str(bad), "-o", str(tmp_path / "o.mp4"), "--no-progress"],
        engine_factory=_factory(ToneEngine()),
    )
    err = capsys.readouterr().err
    assert code == EXIT_INPUT
    assert bad.name in err and "Traceback" not in err


def test_bad_voice_argument_and_unknown_speaker(movie, tmp_path, capsys):
    assert (
        main(["dub", str(movie), "-o", str(tmp_path / "o.mp4"), "--voice", "nobody"]) == EXIT_USAGE
    )
    code = _dub(movie, tmp_path, "--voice", f"Zed={movie}")
    assert code == EXIT_USAGE  # a speaker name the dub does not have: the command line's
    assert "zed" in capsys.readouterr().err


def test_inspect_json(movie, capsys):
    assert main(["inspect", str(movie), "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    kinds = [s["kind"] for s in data["media"]["streams"]]
    assert kinds == ["video", "audio"]
    assert data["lines"][0] == {
        "index": 1,
        "start_ms": 1000,
        "end_ms": 3400,
        "speaker": "Ann",
        "text": "Where have you been all this time?",
        "usable": True,
    }
    assert any(w.startswith("cue 6:") for w in data["warnings"])


def test_inspect_text_lists_lines(movie, capsys):
    assert main(["inspect", str(movie.with_suffix(".ass"))]) == EXIT_OK
    out = capsys.readouterr().out
    assert "[Bob] I was waiting for the morning train." in out


def test_console_script_runs_without_traceback(tmp_path):
    """The installed entry point, as a user runs it."""
    exe = Path(sys.executable).with_name("dubsmith")
    proc = subprocess.run(
        [str(exe), "inspect", str(tmp_path / "missing.mp4")], capture_output=True, text=True
    )
    assert proc.returncode == EXIT_INPUT
    assert "not found" in proc.stderr and "Traceback" not in proc.stderr


def test_merge_split_sentences(tmp_path):
    video = mediagen.make_test_video(tmp_path / "m.mp4", duration_s=8, lines=())
    (tmp_path / "m.srt").write_text(
        "1\n00:00:01,000 --> 00:00:02,500\nI was waiting for\n\n"
        "2\n00:00:02,600 --> 00:00:04,000\nthe morning train.\n"
    )
    sample = tmp_path / "voice.wav"
    import numpy as np
    import soundfile as sf

    sf.write(sample, (0.1 * np.sin(np.arange(48000 * 2) / 10)).astype(np.float32), 48000)
    report = tmp_path / "r.json"
    args = [
        "dub",
        str(video),
        "-o",
        str(tmp_path / "o.mp4"),
        "--work-dir",
        str(tmp_path / "w"),
        "--no-progress",
        "--voice",
        f"speaker={sample}",
        "--report",
        str(report),
    ]
    engine = ToneEngine()
    assert main(args + ["--merge-split-sentences"], engine_factory=_factory(engine)) == EXIT_OK
    lines = json.loads(report.read_text())["lines"]
    assert [(ln["index"], ln["span_start_ms"], ln["span_end_ms"]) for ln in lines] == [
        (1, 1000, 4000)
    ]
    assert engine.rendered == ["I was waiting for the morning train."]
    # The project file keeps the setting: the next dub reads it back, a flag overrides it.
    assert main(args, engine_factory=_factory(ToneEngine())) == EXIT_OK
    assert len(json.loads(report.read_text())["lines"]) == 1
    no_merge = args + ["--no-merge-split-sentences"]
    assert main(no_merge, engine_factory=_factory(ToneEngine())) == EXIT_OK
    assert len(json.loads(report.read_text())["lines"]) == 2


@pytest.mark.parametrize(
    "out, words", [("x.avi", "unknown video type"), ("no/such/dir/x.mp4", "does not exist")]
)
def test_bad_output_fails_before_any_work(movie, tmp_path, capsys, out, words):
    engine = ToneEngine()
    code = main(
        [
            "dub",
            str(movie),
            "-o",
            str(tmp_path / out),
            "--work-dir",
            str(tmp_path / "w"),
            "--no-progress",
        ],
        engine_factory=_factory(engine),
    )
    assert code == EXIT_USAGE  # output-side mistakes are the command line's
    assert words in capsys.readouterr().err
    assert engine.voices == [] and not (tmp_path / "w").exists()


def test_secondary_outputs_never_overwrite_inputs(movie, tmp_path, capsys):
    before = movie.read_bytes()
    for flag in ("--dub-wav", "--report"):
        code = _dub(movie, tmp_path, flag, movie)
        assert code == EXIT_USAGE
        assert "is an input of this dub" in capsys.readouterr().err
    assert movie.read_bytes() == before
    code = main(
        [
            "dub",
            str(movie),
            "-o",
            str(tmp_path / "o.mp4"),
            "--report",
            str(tmp_path / "no" / "r.json"),
            "--no-progress",
        ],
        engine_factory=_factory(ToneEngine()),
    )
    assert code == EXIT_USAGE and not (tmp_path / "o.mp4").exists()


def test_voice_sample_in_a_compressed_format(movie, tmp_path):
    m4a = tmp_path / "voice.m4a"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=220:duration=3",
            "-c:a",
            "aac",
            str(m4a),
        ],
        check=True,
    )
    code = _dub(movie, tmp_path, "--voice", f"Ann={m4a}")
    assert code == EXIT_OK


def test_subtitles_entirely_past_the_end(tmp_path, capsys):
    video = mediagen.make_test_video(tmp_path / "short.mp4", duration_s=4, lines=())
    (tmp_path / "short.srt").write_text("1\n00:00:30,000 --> 00:00:32,000\nToo late.\n")
    code = _dub(video, tmp_path)
    assert code == EXIT_INPUT
    assert "lies within the video" in capsys.readouterr().err


def test_unknown_language_is_a_usage_error(movie, tmp_path, capsys):
    code = main(["dub", str(movie), "-o", str(tmp_path / "o.mp4"), "--language", "english"])
    assert code == EXIT_USAGE and "--language" in capsys.readouterr().err


def test_cuda_without_a_gpu_is_a_clear_error(movie, tmp_path, capsys, tiny_model_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code = main(
        [
            "dub",
            str(movie),
            "-o",
            str(tmp_path / "o.mp4"),
            "--model-dir",
            str(tiny_model_dir),
            "--device",
            "cuda",
            "--no-progress",
            "--work-dir",
            str(tmp_path / "w"),
        ]
    )
    assert code == EXIT_USAGE and "no CUDA GPU" in capsys.readouterr().err


def test_ctrl_c_cancels_cleanly(movie, tmp_path, capsys):
    import os
    import signal

    class Interrupted(ToneEngine):
        def synthesize(self, requests, progress=None, **engine_options):
            os.kill(os.getpid(), signal.SIGINT)  # the editor presses Ctrl-C mid-render
            return super().synthesize(requests, progress)

    # What the process started with (a job started in the background ignores SIGINT).
    before = signal.getsignal(signal.SIGINT)
    code = _dub(movie, tmp_path, engine=Interrupted())
    assert code == 130
    err = capsys.readouterr().err
    assert "cancel" in err and "Traceback" not in err
    assert not (tmp_path / "o.mp4").exists()
    assert signal.getsignal(signal.SIGINT) is before  # handler restored


def test_models_command_lists_what_is_there(tiny_model_dir, tmp_path, capsys):
    assert main(["models", "--model-dir", str(tiny_model_dir)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "complete" in out and "MISSING" not in out
    assert main(["models", "--model-dir", str(tmp_path)]) == EXIT_MODELS
    out = capsys.readouterr().out
    assert "MISSING indextts2/gpt.pth" in out and "download_models.py" in out
