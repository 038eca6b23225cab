from __future__ import annotations

import numpy as np

from core.lines.render import TakeCache, render, take_key
from models.contract import EmotionSource, EmotionSpec, SynthesisRequest, VoiceHandle
from tests.tone_engine import ToneEngine


def _req(text, d=1.0, seed=0, voice="v1", emotion=None):
    return SynthesisRequest(
        text=text,
        voice=VoiceHandle(voice),
        duration_s=d,
        seed=seed,
        emotion=emotion or EmotionSpec(),
    )


def test_take_key_changes_with_everything_that_shapes_audio():
    base = take_key("e", _req("hello"))
    assert take_key("e", _req("hello")) == base
    for other in (
        _req("hello!"),
        _req("hello", d=1.1),
        _req("hello", seed=1),
        _req("hello", voice="v2"),
        _req("hello", emotion=EmotionSpec(EmotionSource.VECTOR, vector=(0.5,) + (0.0,) * 7)),
    ):
        assert take_key("e", other) != base
    assert take_key("other-engine", _req("hello")) != base
    ref = np.ones(100, np.float32)
    a = _req(
        "x", emotion=EmotionSpec(EmotionSource.REFERENCE, reference_audio=ref, reference_rate=22050)
    )
    b = _req(
        "x",
        emotion=EmotionSpec(
            EmotionSource.REFERENCE, reference_audio=ref * 0.5, reference_rate=22050
        ),
    )
    assert take_key("e", a) != take_key("e", b)


def test_only_changed_lines_rerender(tmp_path):
    cache = TakeCache(tmp_path)
    engine = ToneEngine()
    reqs = [_req("one", seed=1), _req("two", seed=2), _req("three", seed=3)]
    first = render(engine, reqs, cache, batch_size=2)
    assert first.rendered == 3 and engine.calls == [2, 1]
    reqs[1] = _req("two, edited", seed=2)
    engine2 = ToneEngine()
    second = render(engine2, reqs, cache)
    assert engine2.rendered == ["two, edited"] and second.rendered == 1
    assert [t.cached for t in second.takes] == [True, False, True]
    np.testing.assert_array_equal(second.takes[0].audio, first.takes[0].audio)


def test_failures_are_per_request(tmp_path):
    engine = ToneEngine(fail_texts=["bad"])
    out = render(engine, [_req("good"), _req("bad"), _req("fine")], TakeCache(tmp_path))
    assert out.errors == {1: "synthetic failure"}
    assert out.takes[1] is None and out.takes[0] is not None and out.takes[2] is not None
    # a failed take is not cached: the next run tries again
    engine2 = ToneEngine()
    render(engine2, [_req("bad")], TakeCache(tmp_path))
    assert engine2.calls == [1]


def test_wrong_length_from_engine_is_an_error(tmp_path):
    class Short(ToneEngine):
        def synthesize(self, requests, progress=None, **engine_options):
            res = super().synthesize(requests)
            for r in res:
                r.audio = r.audio[:-1]
            return res

    out = render(Short(), [_req("x")], TakeCache(tmp_path))
    assert "samples" in out.errors[0]


def test_free_pace_takes_any_length_and_notes_survive_the_cache(tmp_path):
    from models.contract import DurationMode

    class Free(ToneEngine):
        def synthesize(self, requests, progress=None, **engine_options):
            res = super().synthesize(requests)
            for r in res:
                r.audio = r.audio[:1234]
                r.notes.append("the model's vocabulary lacks '☃'")
            return res

    req = SynthesisRequest(
        text="snow ☃", voice=VoiceHandle("v"), duration_s=1.0, mode=DurationMode.FREE
    )
    out = render(Free(), [req], TakeCache(tmp_path))
    assert not out.errors and len(out.takes[0].audio) == 1234
    again = render(ToneEngine(), [req], TakeCache(tmp_path))
    assert again.takes[0].cached and again.takes[0].notes == ["the model's vocabulary lacks '☃'"]


def test_progress_is_reported_per_request_within_a_batch(tmp_path):
    seen = []
    reqs = [_req(f"line {i}", seed=i) for i in range(5)]
    render(
        ToneEngine(),
        reqs,
        TakeCache(tmp_path),
        batch_size=4,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert {1, 2, 3} <= {d for d, _ in seen}  # inside the first batch of 4


def test_engines_with_another_identity_do_not_share_takes(tmp_path):
    class A(ToneEngine):
        identity = "tone|model-a"

    class B(ToneEngine):
        identity = "tone|model-b"

    reqs = [_req("same line")]
    render(A(), reqs, TakeCache(tmp_path))
    b = B()
    out = render(b, reqs, TakeCache(tmp_path))
    assert b.rendered == ["same line"] and not out.takes[0].cached
