"""The whole dub with the tone test double in place of IndexTTS2, on generated media."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.job.pipeline import DubOptions, InputError, dub
from core.lines.render import Cancelled, CancelToken
from tests import mediagen
from tests.tone_engine import ToneEngine, tone_frequency


@pytest.fixture(scope="module")
def movie(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("movie")
    video = folder / "movie.mp4"
    mediagen.make_test_video(video, duration_s=24, srt_path=folder / "movie.srt")
    return video, folder / "movie.srt"


def _factory(engine):
    return lambda model_dir, device: engine


def _scratch_dub(video, tmp_path, out="o.mp4", engine=None, **options):
    """A dub with the tone double, a private work dir and no project file."""
    opts = DubOptions(output=tmp_path / out, work_dir=tmp_path / "w", save_project=False, **options)
    return dub(video, opts, engine_factory=_factory(engine or ToneEngine()))


def _movie_copy(movie: tuple[Path, Path], folder: Path, stem: str) -> Path:
    """The movie and its subtitles copied into a folder of their own as `stem`: its project
    file lands beside it, apart from every other test's."""
    video, srt = movie
    folder.mkdir()
    copy = folder / f"{stem}.mp4"
    copy.write_bytes(video.read_bytes())
    (folder / f"{stem}.srt").write_bytes(srt.read_bytes())
    return copy


def _ffmpeg(path: Path, *output: str, text: bool = False) -> bytes | str:
    """What ffmpeg writes to stdout reading `path` with these output options."""
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), *output, "-"]
    return subprocess.run(command, check=True, capture_output=True, text=text).stdout


def _decode(path: Path, stream: str = "a:0") -> np.ndarray:
    raw = _ffmpeg(path, "-map", f"0:{stream}", "-f", "f32le", "-ac", "1", "-ar", "48000")
    return np.frombuffer(raw, dtype=np.float32)


def _frames(path: Path) -> list[str]:
    out = _ffmpeg(path, "-map", "0:v:0", "-c", "copy", "-f", "framemd5", text=True)
    return [ln.split(",")[-1].strip() for ln in out.splitlines() if not ln.startswith("#")]


def test_dub_end_to_end(movie, tmp_path):
    video, srt = movie
    before = set(video.parent.iterdir())
    out = tmp_path / "out" / "dubbed.mp4"
    out.parent.mkdir()
    engine = ToneEngine()
    report = dub(
        video,
        DubOptions(
            output=out,
            work_dir=tmp_path / "work",
            report_path=tmp_path / "r.json",
            stems_dir=tmp_path / "stems",
        ),
        engine_factory=_factory(engine),
    )
    assert out.exists() and not report.failed
    # every usable cue was rendered exactly as long as its span
    assert len(report.lines) == 5
    for ln in report.lines:
        assert (
            ln.rendered_samples_22k
            == ln.target_samples_22k
            == round((ln.span_end_ms - ln.span_start_ms) / 1000 * 22050)
        )
        assert ln.placed_at_48k == round(ln.span_start_ms * 48)
    # the video stream is copied untouched
    assert _frames(out) == _frames(video)
    # nothing but the project file appeared next to the input
    after = set(video.parent.iterdir())
    assert {p.name for p in after - before} <= {"movie.dubsmith.json"}
    project = json.loads((video.parent / "movie.dubsmith.json").read_text())
    assert len(project["lines"]) == 5 and all(ln["takes"] for ln in project["lines"])
    # each line's tone begins at its span start (within 1 ms) in the stem-free dub
    audio = _decode(out)
    for ln in report.lines:
        f = tone_frequency(ln.index)  # seed = options.seed + cue index
        start = ln.placed_at_48k
        seg = audio[start : start + 4800]
        spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        peak = np.fft.rfftfreq(len(seg), 1 / 48000)[np.argmax(spectrum)]
        assert abs(peak - f) < 15, (ln.index, peak, f)
    assert sorted(p.name for p in (tmp_path / "stems").glob("*.wav")) == [
        f"cue{i:04d}.wav" for i in range(1, 6)
    ]
    rep = json.loads((tmp_path / "r.json").read_text())
    assert (
        rep["totals"]["lines"] == 5
        and rep["lines"][0]["placed_at_48k"] == report.lines[0].placed_at_48k
    )


def test_second_run_uses_the_take_cache(movie, tmp_path):
    video, _ = movie
    engine = ToneEngine()
    opts = DubOptions(output=tmp_path / "a.mp4", work_dir=tmp_path / "work", save_project=False)
    dub(video, opts, engine_factory=_factory(engine))
    assert len(engine.rendered) == 5
    engine2 = ToneEngine()
    opts.output = tmp_path / "b.mp4"
    report = dub(video, opts, engine_factory=_factory(engine2))
    assert engine2.rendered == [] and all(ln.cached for ln in report.lines)


def test_failed_line_is_reported_and_left_silent(movie, tmp_path):
    video, _ = movie
    engine = ToneEngine(fail_texts=["The train never came, did it?"])
    report = dub(
        video,
        DubOptions(output=tmp_path / "o.mp4", work_dir=tmp_path / "w", save_project=False),
        engine_factory=_factory(engine),
    )
    assert [ln.index for ln in report.failed] == [3]
    assert any("cue 3: not rendered" in str(w) for w in report.warnings)
    assert (tmp_path / "o.mp4").exists()


def test_cancel_stops_before_writing(movie, tmp_path):
    video, _ = movie
    token = CancelToken()

    def progress(step, done, total):
        if step == "render":
            token.cancel()

    with pytest.raises(Cancelled):
        dub(
            video,
            DubOptions(output=tmp_path / "o.mp4", work_dir=tmp_path / "w", save_project=False),
            engine_factory=_factory(ToneEngine()),
            progress=progress,
            cancel=token,
        )
    assert not (tmp_path / "o.mp4").exists()


def test_video_without_audio_needs_voice_files(tmp_path):
    video = mediagen.make_silent_video(tmp_path / "silent.mp4", duration_s=6)
    (tmp_path / "silent.srt").write_text("1\n00:00:01,000 --> 00:00:03,000\nHello there.\n")
    from core.speakers.voices import VoiceError

    with pytest.raises(VoiceError, match="every voice must come from a sample file"):
        dub(
            video,
            DubOptions(output=tmp_path / "o.mp4", work_dir=tmp_path / "w", save_project=False),
            engine_factory=_factory(ToneEngine()),
        )
    sample = tmp_path / "voice.wav"
    t = np.arange(48000 * 2) / 48000
    sf.write(sample, (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000)
    report = _scratch_dub(video, tmp_path, voices={"speaker": sample})
    assert len(report.lines) == 1 and (tmp_path / "o.mp4").exists()


def test_missing_subtitles_is_a_clear_input_error(tmp_path):
    video = mediagen.make_silent_video(tmp_path / "lonely.mp4", duration_s=2)
    with pytest.raises(InputError, match="no subtitles found next to lonely.mp4"):
        dub(
            video,
            DubOptions(output=tmp_path / "o.mp4", work_dir=tmp_path / "w"),
            engine_factory=_factory(ToneEngine()),
        )


def test_output_equal_to_input_is_refused(movie, tmp_path):
    video, _ = movie
    with pytest.raises(InputError, match=r"is an input of this dub \(the video\)"):
        dub(
            video,
            DubOptions(output=video, work_dir=tmp_path / "w"),
            engine_factory=_factory(ToneEngine()),
        )


def test_spans_grow_into_silence_but_not_into_speech(movie, tmp_path):
    video, _ = movie
    report = _scratch_dub(video, tmp_path, changes={"extend_into_silence_ms": 1000})
    for ln in report.lines:
        # cues end 2.5 s after their start; the next line's speech begins 5 s after it
        assert ln.span_end_ms - ln.span_start_ms == 3500, ln
    report = _scratch_dub(video, tmp_path, "o2.mp4", changes={"extend_into_silence_ms": 5000})
    # a long allowance stops before the next line's speech (within a 20 ms frame and the 40 ms guard)
    first = report.lines[0]
    assert 4900 <= first.span_end_ms <= 4960


def test_dub_track_language_comes_from_the_subtitle_name(movie, tmp_path):
    video, srt = movie
    tagged = tmp_path / "movie.de.srt"
    tagged.write_bytes(srt.read_bytes())
    out = tmp_path / "o.mkv"
    dub(
        video,
        DubOptions(output=out, subtitles=tagged, work_dir=tmp_path / "w", save_project=False),
        engine_factory=_factory(ToneEngine()),
    )
    tags = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream_tags=language",
            "-of",
            "csv=p=0",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert tags == "ger"


def test_a_crash_mid_render_keeps_the_takes_so_far(tmp_path):
    folder = tmp_path / "crash"
    folder.mkdir()
    video = mediagen.make_test_video(folder / "c.mp4", duration_s=24, srt_path=folder / "c.srt")

    class Crashing(ToneEngine):
        def synthesize(self, requests, progress=None, **engine_options):
            if len(self.calls) == 1:  # the second batch dies
                raise RuntimeError("driver crashed")
            return super().synthesize(requests, progress)

    opts = DubOptions(output=tmp_path / "o.mp4", work_dir=tmp_path / "w", batch_size=2)
    with pytest.raises(RuntimeError, match="driver crashed"):
        dub(video, opts, engine_factory=_factory(Crashing()))
    project = json.loads((folder / "c.dubsmith.json").read_text())
    with_takes = [ln["index"] for ln in project["lines"] if ln["takes"]]
    assert with_takes == [1, 2] and len(project["lines"]) == 5
    # a second run re-renders only the lines that had no take
    engine = ToneEngine()
    dub(video, opts, engine_factory=_factory(engine))
    assert len(engine.rendered) == 3


def test_two_videos_with_one_stem_keep_separate_projects(tmp_path):
    folder = tmp_path / "same"
    folder.mkdir()
    mp4 = mediagen.make_test_video(
        folder / "film.mp4", duration_s=12, lines=mediagen.DEFAULT_LINES[:2]
    )
    mkv = mediagen.make_test_video(
        folder / "film.mkv", duration_s=6, lines=mediagen.DEFAULT_LINES[:1]
    )
    (folder / "three.srt").write_text(
        "1\n00:00:01,000 --> 00:00:03,000\nOne.\n\n2\n00:00:05,000 --> 00:00:07,000\nTwo.\n"
    )
    (folder / "one.srt").write_text("1\n00:00:01,000 --> 00:00:03,000\nOther film.\n")
    common = dict(work_dir=tmp_path / "w")
    dub(
        mp4,
        DubOptions(output=tmp_path / "a.mp4", subtitles=folder / "three.srt", **common),
        engine_factory=_factory(ToneEngine()),
    )
    dub(
        mkv,
        DubOptions(output=tmp_path / "b.mp4", subtitles=folder / "one.srt", **common),
        engine_factory=_factory(ToneEngine()),
    )
    first = json.loads((folder / "film.dubsmith.json").read_text())
    second = json.loads((folder / "film.mkv.dubsmith.json").read_text())
    assert [ln["text"] for ln in first["lines"]] == ["One.", "Two."]
    assert [ln["text"] for ln in second["lines"]] == ["Other film."]


def test_lines_gone_from_the_subtitles_leave_the_project(movie, tmp_path):
    folder = tmp_path / "edit"
    copy = _movie_copy(movie, folder, "m")
    opts = DubOptions(output=tmp_path / "o.mp4", work_dir=tmp_path / "w")
    dub(copy, opts, engine_factory=_factory(ToneEngine()))
    (folder / "m.srt").write_text("1\n00:00:01,000 --> 00:00:03,000\nOnly this now.\n")
    dub(copy, opts, engine_factory=_factory(ToneEngine()))
    project = json.loads((folder / "m.dubsmith.json").read_text())
    assert [(ln["index"], ln["text"]) for ln in project["lines"]] == [(1, "Only this now.")]


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_subtitle_track_is_the_clean_utf8_text(movie, tmp_path, ext):
    video, _ = movie
    subs = tmp_path / "fr.srt"
    subs.write_bytes(
        "1\r\n00:00:01,000 --> 00:00:03,000\r\n<i>Où étiez-vous passé ?</i>\r\n".encode("cp1252")
    )
    out = tmp_path / f"o.{ext}"
    dub(
        video,
        DubOptions(
            output=out,
            subtitles=subs,
            changes={"subtitle_track": True},
            work_dir=tmp_path / "w",
            save_project=False,
        ),
        engine_factory=_factory(ToneEngine()),
    )
    text = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(out), "-map", "0:s:0", "-f", "srt", "-"],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    assert "Où étiez-vous passé ?" in text and "<i>" not in text


def test_a_lines_own_emotion_from_the_project_file_is_used(movie, tmp_path):
    from core import project as proj
    from models.contract import EmotionSource

    folder = tmp_path / "emo"
    copy = _movie_copy(movie, folder, "e")
    opts = DubOptions(output=tmp_path / "o.mp4", work_dir=tmp_path / "w")
    dub(copy, opts, engine_factory=_factory(ToneEngine()))  # creates e.dubsmith.json
    project = proj.load_project(folder / "e.dubsmith.json")
    by_index = {ln.index: ln for ln in project.lines}
    by_index[2].emotion = proj.Emotion(
        mode=proj.EmotionMode.VECTOR, vector=(0.0, 0.8) + (0.0,) * 6, alpha=0.6
    )
    by_index[4].emotion = proj.Emotion(mode=proj.EmotionMode.TEXT, text="quietly furious")
    by_index[3].emotion = proj.Emotion(mode=proj.EmotionMode.ORIGINAL)  # explicit, alpha 1
    by_index[5].emotion = proj.Emotion(
        mode=proj.EmotionMode.REFERENCE, reference_path=folder / "gone.wav"
    )
    project.save(folder / "e.dubsmith.json")

    engine = ToneEngine()
    opts.changes = {"emotion": "voice"}  # the dub's default now differs from the first run
    report = dub(copy, opts, engine_factory=_factory(engine))
    emo = {r.seed: r.emotion for r in engine.requests}  # seed = cue index here
    assert emo[2].source is EmotionSource.VECTOR and emo[2].vector[1] == 0.8 and emo[2].alpha == 0.6
    assert emo[4].source is EmotionSource.TEXT and emo[4].text == "quietly furious"
    # cue 3 keeps the original delivery it asked for explicitly (its take is reused); cues
    # 1 and 5 follow the new default (voice; cue 5's file is gone, with a warning)
    assert set(emo) == {1, 2, 4, 5}
    assert emo[1].source is EmotionSource.VOICE and emo[5].source is EmotionSource.VOICE
    assert any(
        str(w).startswith("cue 5: its emotion setting cannot be used") for w in report.warnings
    )


def test_a_project_in_memory_sees_every_take_as_it_lands(movie, tmp_path):
    """The window hands its own project to the dub: takes arrive in it, no reload."""
    from core import project as proj
    from core.job.pipeline import JobEvents

    folder = tmp_path / "mem"
    copy = _movie_copy(movie, folder, "m")
    project = proj.Project(video_path=copy, path=folder / "m.dubsmith.json")
    seen: list[tuple[int, int]] = []

    class Events(JobEvents):
        def line_rendered(self, index, take):
            line = next(ln for ln in project.lines if ln.index == index)
            seen.append((index, len(line.takes)))  # the take is in the project already

    opts = DubOptions(output=tmp_path / "o.mp4", work_dir=tmp_path / "w")
    report = dub(
        copy, opts, engine_factory=_factory(ToneEngine()), events=Events(), project=project
    )
    assert seen == [(ln.index, 1) for ln in report.lines]
    assert proj.load_project(folder / "m.dubsmith.json").lines[0].takes  # and it is saved
