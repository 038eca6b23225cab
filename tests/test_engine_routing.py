"""Language routing across engines (core/models/engines.py choose_engine, the dub's `engine`
stage) and the done-when of issue 15: a German dub through the CLI renders with VoxCPM2
(a random-weight folder in the package's layout), every line exactly as long as its
span, and says which engine rendered what."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from app.cli import EXIT_MODELS, EXIT_OK, EXIT_USAGE, main
from core.errors import EngineUnavailable, OptionError
from core.language import detect_language
from core.models.engines import EngineCache, RegistryFactory, choose_engine, installed_engines
from models.contract import Capabilities, DurationControl, EmotionSource
from models.registry import ENGINES, EngineEntry
from models.units import samples_for
from tests.mediagen import make_test_video, write_srt
from tests.voxcpm2_fixture import make_voxcpm2_folder


def _installed(monkeypatch, *names: str) -> None:
    """Registered engines whose files count as present (the others' real checks run on
    an empty model directory, and fail)."""
    for name in names:
        monkeypatch.setitem(ENGINES, name, dataclasses.replace(ENGINES[name], check=lambda d: None))


def _fake_indextts25(monkeypatch, installed: bool) -> None:
    def missing(d: Path) -> None:
        from models.contract import ModelFilesMissing

        raise ModelFilesMissing(d, ["indextts25/config.yaml"], "fetch it")

    caps = Capabilities(
        languages=("zh", "en", "ja", "es", "ar"),
        sample_rate=22050,
        duration_control=DurationControl.EXACT,
        emotion_inputs=frozenset(EmotionSource),
    )
    monkeypatch.setitem(
        ENGINES,
        "indextts25",
        EngineEntry(
            name="indextts25",
            title="IndexTTS-2.5",
            capabilities=lambda d: caps,
            check=(lambda d: None) if installed else missing,
            load=lambda d, dev: None,
            line_embedder=lambda d, dev: None,
            missing_emotion={},
        ),
    )


def test_english_and_chinese_go_to_indextts2(tmp_path, monkeypatch):
    _installed(monkeypatch, "indextts2", "voxcpm2")
    for lang in ("en", "zh"):
        choice = choose_engine(lang, tmp_path)
        assert choice.name == "indextts2" and choice.reason == "the preferred engine for it"


def test_other_languages_go_to_the_first_installed_engine_that_speaks_them(tmp_path, monkeypatch):
    _installed(monkeypatch, "indextts2", "voxcpm2")
    choice = choose_engine("de", tmp_path)
    assert (choice.name, choice.title) == ("voxcpm2", "VoxCPM2")
    assert "German (de)" in choice.describe()
    assert isinstance(choice.factory, RegistryFactory) and choice.factory.entry.name == "voxcpm2"


def test_indextts25_is_preferred_for_its_languages_when_installed(tmp_path, monkeypatch):
    _installed(monkeypatch, "indextts2", "voxcpm2")
    _fake_indextts25(monkeypatch, installed=True)
    assert choose_engine("ja", tmp_path).name == "indextts25"
    assert choose_engine("en", tmp_path).name == "indextts2"  # zh/en stay with IndexTTS2
    assert choose_engine("de", tmp_path).name == "voxcpm2"
    _fake_indextts25(monkeypatch, installed=False)
    choice = choose_engine("ja", tmp_path)
    assert choice.name == "voxcpm2" and "IndexTTS-2.5 not installed" in choice.reason


def test_english_without_indextts2_goes_to_voxcpm2_and_says_why(tmp_path, monkeypatch):
    _installed(monkeypatch, "voxcpm2")
    choice = choose_engine("en", tmp_path)
    assert choice.name == "voxcpm2" and "IndexTTS2" in choice.reason
    assert "not installed" in choice.reason


def test_a_language_no_installed_engine_speaks_is_refused_naming_what_they_speak(
    tmp_path, monkeypatch
):
    _installed(monkeypatch, "indextts2")
    with pytest.raises(EngineUnavailable) as exc:
        choose_engine("de", tmp_path)
    msg = str(exc.value)
    assert "no installed engine speaks German (de)" in msg
    assert "IndexTTS2 speaks zh, en" in msg
    assert "dubsmith models download voxcpm2" in msg
    with pytest.raises(EngineUnavailable, match="Swahili|sw"):
        choose_engine("sw", tmp_path)


def test_engine_flag_wins_but_must_speak_the_language(tmp_path, monkeypatch):
    _installed(monkeypatch, "indextts2", "voxcpm2")
    assert choose_engine("en", tmp_path, requested="voxcpm2").name == "voxcpm2"
    with pytest.raises(OptionError) as exc:
        choose_engine("de", tmp_path, requested="indextts2")
    assert "IndexTTS2 does not speak German (de)" in str(exc.value)
    assert "--engine voxcpm2" in str(exc.value) and exc.value.setting == "engine"
    with pytest.raises(OptionError, match="unknown speech engine"):
        choose_engine("de", tmp_path, requested="nope")


def test_unknown_language_keeps_the_default_engine(tmp_path, monkeypatch):
    _installed(monkeypatch, "indextts2", "voxcpm2")
    assert choose_engine(None, tmp_path).name == "indextts2"


def test_a_single_engine_factory_is_used_as_given(tmp_path):
    def factory(model_dir, device):  # pragma: no cover - not called here
        raise AssertionError

    choice = choose_engine("de", tmp_path, factory=factory)
    assert choice.factory is factory


def test_engine_cache_loads_each_named_engine_once(tmp_path, monkeypatch):
    loads = []

    class Counting(RegistryFactory):
        def __call__(self, model_dir, device, precision=None):
            loads.append((self.entry.name, precision))
            return object()

        def named(self, name):
            return Counting(name)

    cache = EngineCache(Counting())
    vox = cache.named("voxcpm2")
    assert vox(tmp_path, "cpu") is vox(tmp_path, "cpu")
    assert cache.named("voxcpm2") is vox
    cache.named("indextts2")(tmp_path, "cpu", precision="bf16")
    assert loads == [("voxcpm2", None), ("indextts2", "bf16")]  # the precision reaches the load


def test_installed_engines_say_what_is_missing(tmp_path):
    status = installed_engines(tmp_path)
    assert status["voxcpm2"] and "model files missing" in status["voxcpm2"]


def test_the_subtitles_language_is_detected_from_their_text():
    assert detect_language(["Ich weiß nicht, was das ist.", "Wir sind nicht da."]) == "de"
    assert detect_language(["¿Qué es esto? No lo sé.", "Yo no estoy aquí con la casa."]) == "es"
    assert detect_language(["OK"]) is None


# --- the done-when: a German dub through the CLI ---------------------------------------------

GERMAN = (
    (0.5, "Guten Morgen, wie geht es dir?", "de"),
    (3.0, "Ich habe lange auf den Zug gewartet.", "de+f3"),
)


@pytest.fixture(scope="module")
def german_film(tmp_path_factory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("film")
    video = make_test_video(root / "film.mp4", duration_s=6, lines=GERMAN)
    srt = write_srt(root / "film.de.srt", GERMAN, 6, default_len_s=1.7)
    models = root / "models"
    make_voxcpm2_folder(models / "voxcpm2")
    return video, srt, models


def test_a_german_dub_renders_with_voxcpm2_exactly_in_its_spans(
    german_film, tmp_path, monkeypatch, capsys
):
    video, srt, models = german_film
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    out, report_path = tmp_path / "out.mp4", tmp_path / "report.json"
    args = ["dub", str(video), str(srt), "-o", str(out), "--model-dir", str(models)]
    args += ["--report", str(report_path), "--no-progress", "--device", "cpu"]
    code = main(args)
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert out.is_file()
    assert "engine: VoxCPM2 renders the lines in German (de)" in captured.err
    assert "rendered by voxcpm2: 2 line(s) at 48000 Hz" in captured.out
    assert "fitted to their spans" in captured.out and "candidate(s) rendered" in captured.out
    report = json.loads(report_path.read_text())
    assert len(report["lines"]) == 2
    for line in report["lines"]:
        span_s = line["target_samples_22k"] / 22050
        assert line["engine"] == "voxcpm2" and line["sample_rate"] == 48000
        assert line["rendered_samples"] == samples_for(span_s, 48000)  # exactly its span
        assert line["rendered_samples_22k"] == line["target_samples_22k"]
        assert line["fit_method"] in ("natural", "paced", "closest")
        assert line["fit_candidates"] >= 1 and abs(line["fit_stretch"]) <= 0.062
        assert line["error"] is None
    # The default emotion (the original's delivery) is not VoxCPM2's: it says so.
    assert "cannot copy a delivery from a reference clip" in captured.err

    # A second run serves every take from the cache: the key holds the engine identity.
    assert main(args) == EXIT_OK
    again = json.loads(report_path.read_text())
    assert all(line["cached"] for line in again["lines"])


def test_the_engine_flag_refuses_an_engine_that_cannot_speak_it(german_film, tmp_path, capsys):
    video, srt, models = german_film
    code = main(
        ["dub", str(video), str(srt), "-o", str(tmp_path / "o.mp4"), "--model-dir", str(models)]
        + ["--engine", "indextts2", "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert "--engine: IndexTTS2 does not speak German (de): it speaks zh, en" in err


def test_a_language_without_an_installed_engine_fails_before_any_work(
    german_film, tmp_path, monkeypatch, capsys
):
    video, srt, _ = german_film
    monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / "cache"))
    empty = tmp_path / "nomodels"
    empty.mkdir()
    code = main(
        ["dub", str(video), str(srt), "-o", str(tmp_path / "o.mp4"), "--model-dir", str(empty)]
        + ["--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == EXIT_MODELS
    assert "no installed engine speaks German (de)" in err
    assert "dubsmith models download voxcpm2" in err
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.wav"))


# --- the prompt's transcript reaches engines that take one ------------------------------------


def test_the_prompt_transcript_goes_only_to_engines_that_take_it(tmp_path, monkeypatch):
    import numpy as np

    from core.job.options import DubOptions
    from core.job.pipeline import DubJob
    from core.speakers.voices import VoicePrompt
    from tests.tone_engine import ToneEngine

    class Listening(ToneEngine):
        capabilities = dataclasses.replace(ToneEngine.capabilities, prompt_transcript=True)

        def prepare_voice(self, audio, sample_rate, *, transcript=None):
            self.transcripts.append(transcript)
            return super().prepare_voice(audio, sample_rate)

    prompt = VoicePrompt("s1", np.zeros(22050, np.float32), 22050, "cut", prompt_text="Hallo du.")
    for engine, expected in ((Listening(), ["Hallo du."]), (ToneEngine(), None)):
        if expected is not None:
            engine.transcripts = []
        job = DubJob(tmp_path / "v.mp4", DubOptions(output=tmp_path / "o.mp4"))
        job.engine = engine
        monkeypatch.setattr(job, "choose_prompts", lambda: {"s1": prompt})
        job._voices(lambda done, total: None)  # ToneEngine takes no transcript: none given
        assert "s1" in job.voices
        if expected is not None:
            assert engine.transcripts == expected


def test_a_cache_around_a_single_engine_is_not_routed(tmp_path):
    from tests.tone_engine import ToneEngine

    cache = EngineCache(lambda model_dir, device: ToneEngine())
    choice = choose_engine("de", tmp_path, factory=cache)
    assert choice.factory is cache and choice.name == "given"


# --- the language each line is spoken in -------------------------------------------------------

SPANISH = (
    (0.5, "Buenos días, ¿cómo estás?", "es"),
    (3.0, "这是中文。", "cmn"),
)


def test_a_spanish_dub_asks_for_spanish_and_a_chinese_line_keeps_its_script(tmp_path, monkeypatch):
    """Lines in a Spanish dub are spoken as Spanish by an engine that speaks it (their Latin
    script alone would say English); a line in Chinese characters stays Chinese."""
    from core.job.options import DubOptions
    from core.job.pipeline import dub
    from tests.tone_engine import ToneEngine

    class Multilingual(ToneEngine):
        capabilities = dataclasses.replace(ToneEngine.capabilities, languages=("zh", "en", "es"))

    video = make_test_video(tmp_path / "film.mp4", duration_s=6, lines=SPANISH)
    asked = {}
    for lang in ("es", "en"):
        monkeypatch.setenv("DUBSMITH_CACHE_DIR", str(tmp_path / f"cache.{lang}"))  # no cached take
        srt = write_srt(tmp_path / f"film.{lang}.srt", SPANISH, 6, default_len_s=1.7)
        engine = Multilingual()
        dub(
            video,
            DubOptions(output=tmp_path / f"out.{lang}.mp4", subtitles=srt, device="cpu"),
            engine_factory=lambda d, dev, e=engine: e,
        )
        asked[lang] = {r.text: r.language for r in engine.requests}
    assert asked["es"] == {"Buenos días, ¿cómo estás?": "es", "这是中文。": "zh"}
    assert asked["en"] == {"Buenos días, ¿cómo estás?": "en", "这是中文。": "zh"}
