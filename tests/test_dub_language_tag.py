"""The dub track carries a language tag even when neither --language nor the subtitle name
gives one (issue 20, defect 8): what the lines are written in, as ISO 639-2."""

from __future__ import annotations

import json
import subprocess

from core.job.options import DubOptions
from core.job.pipeline import DubJob
from tests import mediagen
from tests.tone_engine import ToneEngine


def test_a_dub_of_english_lines_in_a_plain_srt_is_tagged_eng(tmp_path, monkeypatch):
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    video = tmp_path / "clip.mp4"  # clip.srt: no language in the name
    mediagen.make_test_video(
        video, duration_s=8, lines=mediagen.DEFAULT_LINES[:2], srt_path=tmp_path / "clip.srt"
    )
    out = tmp_path / "out.mp4"
    engine = ToneEngine()
    job = DubJob(
        video,
        DubOptions(output=out, save_project=False, changes={"speakers": 1}),
        engine_factory=lambda _d, _dev: engine,
    )
    job.run()
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_streams", "-of", "json",
         str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    tags = json.loads(probe.stdout)["streams"][0].get("tags", {})
    assert tags.get("language") == "eng"
