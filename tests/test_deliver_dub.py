"""Issue 23 end to end, with the tiny IndexTTS2 checkpoints: `dubsmith dub VIDEO -o OUT
--deliver DIR --loudness ebu-r128` writes the timelines (every clip within 1 ms of the
report's placement when read back), 48 kHz 24-bit stems as long as the video, a mix at
-23 +- 0.5 LUFS under -1 dBTP by ffmpeg's meter, and the QC report with its pictures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import opentimelineio as otio
import pytest
import soundfile as sf

from app.cli import EXIT_OK, EXIT_USAGE, main
from core.media.probe import probe
from tests import mediagen
from tests.deliver_meter import ffmpeg_loudness
from tests.test_deliver_timeline import check_timeline

LINES = (
    (0.5, "Where have you been?", "en-us"),
    (3.0, "Waiting for the train.", "en-gb+f3"),
    (5.2, "It never came.", "en-us"),
)


@pytest.fixture
def clip(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    video = tmp_path / "clip.mp4"
    mediagen.make_test_video(video, duration_s=7, lines=LINES)
    mediagen.write_srt(tmp_path / "clip.srt", LINES, 7, default_len_s=1.6)
    return video


def test_dub_delivers_timelines_stems_loudness_and_qc_report(clip, tiny_model_dir):
    folder = clip.parent
    out, deliver, report_path = folder / "out.mp4", folder / "delivery", folder / "report.json"
    code = main(
        ["dub", str(clip), "-o", str(out), "--model-dir", str(tiny_model_dir), "--no-progress",
         "--report", str(report_path), "--flow-steps", "2", "--device", "cpu",
         "--deliver", str(deliver), "--loudness", "ebu-r128"]
    )  # fmt: skip
    assert code == EXIT_OK
    assert out.is_file()
    report = json.loads(report_path.read_text())
    placements = {ln["index"]: ln["placed_at_48k"] for ln in report["lines"]}
    assert len(placements) == len(LINES) and None not in placements.values()

    # Timelines: each read back by OpenTimelineIO, each line within 1 ms of its placement.
    for ext in ("otio", "xml", "aaf"):
        tl = otio.adapters.read_from_file(str(deliver / f"out.{ext}"))
        check_timeline(tl, placements, ext)
        assert len(tl.video_tracks()) == 1

    # Stems: 48 kHz 24-bit, exactly the video's length (the product's probe), and within
    # a frame of what ffprobe says the file lasts.
    media = probe(clip)
    n = round(media.duration_s * 48000)
    assert abs(n - 7.0 * 48000) <= 48000 / 25
    speakers = {ln["speaker"] for ln in report["lines"]}
    names = ["mix", "dialogue", "music-effects", *(f"dialogue.{s}" for s in speakers)]
    for name in names:
        info = sf.info(deliver / f"out.{name}.wav")
        assert (info.samplerate, info.subtype, info.frames) == (48000, "PCM_24", n), name

    # Loudness by ffmpeg's meter, and the report says what it measured.
    got = ffmpeg_loudness(deliver / "out.mix.wav")
    assert got["I"] == pytest.approx(-23.0, abs=0.5)
    assert got["TP"] <= -1.0
    loud = report["delivery"]["loudness"]
    assert loud["preset"] == "ebu-r128" and loud["target_lufs"] == -23.0
    assert loud["integrated_lufs"] == pytest.approx(got["I"], abs=0.2)
    assert loud["true_peak_dbtp"] == pytest.approx(got["TP"], abs=0.3)
    assert loud["range_lu"] is not None and loud["passes"]

    # The QC report: one self-contained page with its pictures.
    html = (deliver / "out.qc.html").read_text()
    # Loudness, timeline, seconds per speaker; without a whisper model the listening
    # charts are a note saying so (an empty chart would read as all zeros).
    assert html.count("<svg") >= 3
    assert html.count("<svg") + html.count("not measured: the listening check") == 6
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|file:|/)""", html)
    assert "PASS" in html and "ebu-r128" in html
    for ln in report["lines"]:
        assert f"<td>{ln['speaker']}</td>" in html


def test_a_delivery_folder_that_would_overwrite_an_input_is_refused(clip, tmp_path, capsys):
    # out.mix.wav would land on a file the dub reads (a voice sample given by the editor).
    voice = tmp_path / "out.mix.wav"
    sf.write(voice, [0.0] * 48000, 48000)
    code = main(["dub", str(clip), "-o", str(tmp_path / "out.mp4"), "--deliver", str(tmp_path),
                 "--voice", f"S1={voice}", "--no-progress"])  # fmt: skip
    assert code == EXIT_USAGE
    assert "--deliver" in capsys.readouterr().err
    code = main(["dub", str(clip), "-o", str(tmp_path / "o.mp4"), "--deliver", str(clip),
                 "--no-progress"])  # fmt: skip
    assert code == EXIT_USAGE


def test_batch_delivers_each_job_under_its_own_name(tmp_path, monkeypatch):
    from tests.tone_engine import ToneEngine

    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    videos = tmp_path / "videos"
    for name, lines in (("one", LINES[:2]), ("two", LINES[1:])):
        mediagen.make_test_video(
            videos / f"{name}.mp4", duration_s=7, lines=lines, srt_path=videos / f"{name}.srt"
        )
    deliver = tmp_path / "delivery"
    code = main(
        ["batch", str(videos), "-o", str(tmp_path / "out"), "--deliver", str(deliver),
         "--loudness", "atsc-a85", "--no-progress", "--work-dir", str(tmp_path / "work")],
        engine_factory=lambda model_dir, device: ToneEngine(),
    )  # fmt: skip
    assert code == EXIT_OK
    mixes = sorted(deliver.glob("*.mix.wav"))
    assert len(mixes) == 2 and len(list(deliver.glob("*.aaf"))) == 2
    assert len(list(deliver.glob("*.qc.html"))) == 2
    for mix in mixes:
        got = ffmpeg_loudness(mix)
        assert got["I"] == pytest.approx(-24.0, abs=0.5) and got["TP"] <= -2.0
