"""Issue 22 item 4 on a whole dub with the tiny IndexTTS2 checkpoints: a line far too long
for its cue, followed by silence in the original, ends later than its cue by default (auto)
and never inside the next cue; `--extend-into-silence off` keeps it in its cue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import EXIT_OK, main
from tests import mediagen

# What the original says: short words, then silence until the next line.
SPOKEN = (
    (0.5, "Hi.", "en-us"),
    (2.2, "Yes.", "en-gb+f3"),
)
# What the dub says: the first line needs ~2.6 s at a natural pace in a 0.8 s cue.
SRT = """1
00:00:00,500 --> 00:00:01,300
Where have you been all this time, my old friend?

2
00:00:02,200 --> 00:00:03,000
Yes.
"""
CUE_END_MS, NEXT_START_MS = 1300, 2200


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("borrow-dub")
    video = folder / "clip.mp4"
    mediagen.make_test_video(video, duration_s=4, lines=SPOKEN)
    (folder / "clip.srt").write_text(SRT, encoding="utf-8")
    return video


@pytest.fixture
def clip(source, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    return mediagen.private_copy(source, tmp_path)


def dub(clip: Path, model_dir: Path, *extra: str) -> dict:
    folder = clip.parent
    report = folder / f"report{len(list(folder.glob('report*.json')))}.json"
    args = ["dub", str(clip), "-o", str(folder / f"{report.stem}.mp4"), "--model-dir"]
    args += [str(model_dir), "--no-progress", "--report", str(report), "--flow-steps", "2"]
    args += ["--device", "cpu", *extra]
    assert main(args) == EXIT_OK
    return json.loads(report.read_text())


def test_a_too_long_line_borrows_the_silence_after_its_cue_by_default(clip, tiny_model_dir):
    first, second = dub(clip, tiny_model_dir)["lines"]
    assert first["span_start_ms"] == 500
    assert CUE_END_MS < first["span_end_ms"] < NEXT_START_MS
    assert first["rendered_samples_22k"] == first["target_samples_22k"]
    # the next line keeps its own cue: it fits, and nothing may run into it
    assert (second["span_start_ms"], second["span_end_ms"]) == (NEXT_START_MS, 3000)


def test_off_keeps_the_line_in_its_cue(clip, tiny_model_dir):
    first, _ = dub(clip, tiny_model_dir, "--extend-into-silence", "off")["lines"]
    assert (first["span_start_ms"], first["span_end_ms"]) == (500, CUE_END_MS)
