"""Issue 26 item 11 for IndexTTS2 and IndexTTS-2.5: what the model cannot hold (its text
and semantic position tables, the flow model's block) is refused at planning by the
engine's `line_limit`, with the numbers, exactly where the render would fail; what the
render handles (IndexTTS2 stretching a slot beyond its table, natural mode) is not."""

from __future__ import annotations

import warnings

import pytest
import soundfile
import torch

from core.lines.limits import line_problem
from models.batching import RequestError
from models.contract import DurationMode, Sampling, SynthesisRequest
from models.indextts25.engine import IndexTTS25Engine
from models.units import frames_for
from tests.test_indextts25 import ref25  # noqa: F401  (the fixture)

GUIDED, EXACT, NATURAL, FREE = (
    DurationMode.GUIDED, DurationMode.EXACT, DurationMode.NATURAL, DurationMode.FREE,
)  # fmt: skip
SHORT = "Hello there."


@pytest.fixture(scope="module", autouse=True)
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def engine2(tiny_model_dir):
    from models.indextts2.engine import IndexTTS2Engine

    return IndexTTS2Engine.load(tiny_model_dir, device="cpu")


@pytest.fixture(scope="module")
def engine25(ref25) -> IndexTTS25Engine:  # noqa: F811
    return IndexTTS25Engine.load(ref25 / "checkpoints")


def test_indextts2_refuses_a_span_beyond_the_flow_models_block(engine2):
    block = engine2.parts.s2m.cfg.dit.block_size
    too_long = (block + 10) * 256 / 22050
    frames = frames_for(too_long)
    for mode in (GUIDED, EXACT, NATURAL):
        why = engine2.line_limit(SHORT, too_long, mode)
        assert why and f"{frames} mel frames" in why and f"at most {block}" in why, mode
    # the pipeline's question gets the same answer; free pace takes no span
    assert line_problem(SHORT, too_long, mode=NATURAL, engine=engine2) == why
    assert line_problem(SHORT, too_long, mode=FREE, engine=engine2) is None


def test_indextts2_keeps_what_it_renders(engine2):
    # 6 s is 150 tokens in one segment, the tiny table holds 100: stretched and flagged by
    # the render (tests/test_engine.py), so not refused here.
    assert engine2.parts.cfg.gpt.max_mel_tokens < 150
    for mode in (GUIDED, EXACT, NATURAL):
        assert engine2.line_limit(SHORT, 6.0, mode) is None
        assert line_problem(SHORT, 6.0, mode=mode, engine=engine2) is None
    assert engine2.line_limit(SHORT, None) is None
    assert engine2.line_limit("", 2.0, GUIDED) is None  # no text: the render says so


def test_indextts2_refuses_a_segment_beyond_the_text_table(engine2, monkeypatch):
    # The official splitter copies a quote after a sentence end into the segment, one
    # token past its limit; with the tiny model's limit equal to its table (80), that
    # segment does not fit the text position table.
    text = " ".join(["go"] * 39) + ' I." Then stop.'
    table = engine2.parts.cfg.gpt.max_text_tokens
    assert engine2.line_limit(text, None) is None  # the engine's own splitter: it fits
    monkeypatch.setattr(engine2, "split_mode", "official")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        longest = max(len(s) for s in engine2.text_segments(text))
        why = engine2.line_limit(text, None)
    assert longest == table + 1
    assert why and f"{table + 1} text tokens" in why and f"holds {table}" in why


@pytest.fixture(scope="module")
def voice25(engine25, ref25):  # noqa: F811
    audio, rate = soundfile.read(ref25 / "e2e" / "prompt.wav", dtype="float32")
    return engine25.prepare_voice(audio, rate)


def test_indextts25_refuses_a_slot_beyond_its_code_table_as_the_render_would(engine25, voice25):
    table = engine25.parts.t2s.cfg.mel_positions - 2
    codes = round(6.0 * 25)
    assert codes > table
    for mode in (GUIDED, EXACT):
        why = engine25.line_limit(SHORT, 6.0, mode)
        assert why and f"needs {codes} semantic codes" in why and f"holds {table}" in why
        assert line_problem(SHORT, 6.0, mode=mode, engine=engine25) == why
        req = SynthesisRequest(SHORT, voice25, duration_s=6.0, mode=mode, sampling=Sampling())
        with pytest.raises(RequestError, match=f"needs {codes} codes"):
            engine25.make_job(0, req)  # what the render does with it
    # natural mode decodes freely: the span only times the fit
    assert engine25.line_limit(SHORT, 6.0, NATURAL) is None
    assert line_problem(SHORT, 6.0, mode=NATURAL, engine=engine25) is None
    fits = 0.9 * table / 25
    assert engine25.line_limit(SHORT, fits, GUIDED) is None
    engine25.make_job(0, SynthesisRequest(SHORT, voice25, duration_s=fits, mode=GUIDED))


def test_indextts25_refuses_a_span_beyond_the_flow_models_block(engine25):
    block = engine25.parts.s2m.cfg.dit.block_size
    too_long = (block + 10) * 256 / 22050
    why = engine25.line_limit(SHORT, too_long, NATURAL)
    assert why and f"at most {block}" in why
    assert engine25.line_limit(SHORT, None) is None
    assert engine25.line_limit("   ", 2.0, GUIDED) is None
    # a language 2.5 does not speak is the render's to say
    assert engine25.line_limit(SHORT, 6.0, GUIDED, language="fi") is None
