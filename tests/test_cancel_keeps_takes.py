"""A cancel keeps every finished line: each take is cached the moment the engine hands it
over, the engine stops at its next stage boundary, and the re-run renders only the rest."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from core.lines.render import Cancelled, CancelToken, TakeCache, render
from models.contract import DurationMode, Sampling, SynthesisRequest, VoiceHandle
from tests import mediagen
from tests.tone_engine import ToneEngine

TEXTS = ["One line here.", "Another line.", "A third one.", "And the fourth.", "Five.", "Six."]


def _requests(voice: VoiceHandle, pairs: bool = False, **kw) -> list[SynthesisRequest]:
    """Six lines of rising length; `pairs`: two and two of the same length (the CPU batches
    only lines whose shapes match, so each pair is one batch)."""
    return [
        SynthesisRequest(
            text=t, voice=voice, duration_s=0.6 + 0.1 * (i // 2 if pairs else i), seed=i, **kw
        )
        for i, t in enumerate(TEXTS)
    ]


def _cancel_after(token: CancelToken, n: int):
    seen = []

    def on_take(pos, take):
        seen.append(pos)
        if len(seen) == n:
            token.cancel()

    return on_take, seen


def test_a_cancel_between_lines_keeps_the_finished_ones(tmp_path):
    engine, token = ToneEngine(), CancelToken()
    on_take, seen = _cancel_after(token, 2)
    cache = TakeCache(tmp_path)
    with pytest.raises(Cancelled):
        render(
            engine, _requests(VoiceHandle("v")), cache, batch_size=6, cancel=token, on_take=on_take
        )
    assert len(seen) == 2 and len(list(tmp_path.glob("*.wav"))) == 2
    assert len(engine.requests) == 2  # the engine stopped, it did not render the rest

    again = ToneEngine()
    out = render(again, _requests(VoiceHandle("v")), cache, batch_size=6)
    assert [r.text for r in again.requests] == TEXTS[2:] and out.rendered == 4
    assert all(t is not None for t in out.takes)


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    from models.indextts2.engine import IndexTTS2Engine

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    eng = IndexTTS2Engine.load(tiny_model_dir, device="cpu")
    eng.max_batch = 2
    yield eng
    torch.set_num_threads(old)


class Counting:
    """The real engine, counting the requests it is asked to render."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.asked: list[str] = []
        self.identity = engine.identity
        self.max_batch = engine.max_batch

    def prepare_voice(self, audio, rate):
        return self.engine.prepare_voice(audio, rate)

    def synthesize(self, requests, progress=None, **kw):
        self.asked += [r.text for r in requests]
        return self.engine.synthesize(requests, progress, **kw)


@pytest.mark.slow
def test_a_cancel_mid_batch_keeps_the_batch_already_finished_real_engine(engine, tmp_path):
    voice = engine.prepare_voice(mediagen.speak("A voice for the test.", "en-us"), mediagen.RATE)
    fast = dataclasses.replace(Sampling.greedy(), diffusion_steps=2)
    requests = _requests(voice, pairs=True, sampling=fast, mode=DurationMode.EXACT)
    token = CancelToken()
    on_take, seen = _cancel_after(token, 1)  # cancel as the first line arrives
    cache = TakeCache(tmp_path)
    counting = Counting(engine)
    with pytest.raises(Cancelled):
        render(counting, requests, cache, batch_size=6, cancel=token, on_take=on_take)
    # The batch of two finished together: both are kept; the engine rendered no other batch.
    assert len(seen) == 2 and len(list(tmp_path.glob("*.wav"))) == 2

    rerun = Counting(engine)
    out = render(rerun, requests, cache, batch_size=6)
    assert len(rerun.asked) == 4 and out.rendered == 4
    assert sorted(rerun.asked) == sorted(set(TEXTS) - {requests[i].text for i in seen})
    assert all(
        t is not None and len(t.audio) == r.target_samples()
        for t, r in zip(out.takes, requests, strict=True)
    )
