"""`dubsmith demo`: a two-speaker sample made by the product itself, dubbed with the
installed models (here the tiny reference checkpoints)."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pysubs2
import pytest

from app.cli import EXIT_MODELS, EXIT_OK, main
from core.job import demo
from core.media import sample_media

REPO = Path(__file__).resolve().parents[1]


def probe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)


@pytest.mark.slow
def test_demo_dubs_a_two_speaker_sample_with_the_tiny_models(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    out_dir = tmp_path / "demo"
    code = main(
        ["demo", "-o", str(out_dir), "--model-dir", str(tiny_model_dir), "--device", "cpu",
         "--flow-steps", "2", "--no-progress"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    dubbed = out_dir / demo.DUBBED_NAME
    for path in (out_dir / demo.VIDEO_NAME, out_dir / demo.SUBTITLES_NAME, dubbed):
        assert str(path) in captured.out  # says where each file is

    info = probe(dubbed)
    kinds = [s["codec_type"] for s in info["streams"]]
    assert "video" in kinds and "audio" in kinds
    assert abs(float(info["format"]["duration"]) - demo.DURATION_S) < 0.5

    sample = probe(out_dir / demo.VIDEO_NAME)
    assert {s["codec_type"] for s in sample["streams"]} == {"video", "audio"}
    subs = pysubs2.load(str(out_dir / demo.SUBTITLES_NAME))
    assert [e.name for e in subs] == ["Ada", "Ben", "Ada", "Ben"]
    assert all(e.end > e.start for e in subs)

    report = json.loads((out_dir / demo.REPORT_NAME).read_text())
    assert len(report["lines"]) == len(demo.LINES)
    assert all(line["error"] is None for line in report["lines"])


def test_demo_without_models_says_how_to_fetch_them(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    out_dir = tmp_path / "demo"
    code = main(
        ["demo", "-o", str(out_dir), "--model-dir", str(tmp_path / "none"), "--no-progress"]
    )
    captured = capsys.readouterr()
    assert code == EXIT_MODELS
    assert "indextts2/gpt.pth" in captured.err and "dubsmith models download" in captured.err
    assert "Traceback" not in captured.err
    assert (out_dir / demo.VIDEO_NAME).is_file()  # the sample is there to look at anyway
    assert not (out_dir / demo.DUBBED_NAME).exists()


def test_the_sample_generator_is_the_products_own():
    for module in (sample_media, demo):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = {
            (n.module or "") if isinstance(n, ast.ImportFrom) else a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in n.names
        }
        assert not any(name.split(".")[0] == "tests" for name in imported)
    assert {line.voice for line in demo.LINES} == {"en-us", "en-gb+f3"}  # two voices
    assert len({line.speaker for line in demo.LINES}) == 2


def test_a_missing_tool_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(sample_media.shutil, "which", lambda name: None)
    with pytest.raises(sample_media.SampleMediaError, match="espeak-ng is not installed"):
        sample_media.speak("Hello.", "en-us")
