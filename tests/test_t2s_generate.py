"""T2S decoding: exact-length mode, free mode, batching, seeds, beams over the static cache."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from models.config import load_config
from models.contract import Sampling
from models.t2s import T2S, decode, generate, latents
from models.t2s.generate import _prompts
from models.t2s.gpt2 import prefix_mask


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models are overhead-bound: one thread is faster and steadier on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def long_model(reference_dir: Path) -> T2S:
    """Tiny architecture with room for 400+ tokens (the tiny checkpoint allows only 100)."""
    cfg = load_config(reference_dir / "checkpoints" / "config.yaml").gpt
    return T2S.build(dataclasses.replace(cfg, max_mel_tokens=420), seed=3)


@pytest.fixture(scope="module")
def tiny(reference_dir: Path) -> T2S:
    base = reference_dir / "checkpoints"
    return T2S.load(base / "gpt.pth", load_config(base / "config.yaml").gpt)


def _requests(model: T2S, n: int, rng: random.Random):
    lat = torch.randn(
        n, 32, model.dim, generator=torch.Generator().manual_seed(rng.randrange(1 << 30))
    )
    emo = 0.1 * torch.randn(n, model.dim)
    texts = [
        torch.tensor(
            [rng.randrange(2, model.cfg.number_text_tokens) for _ in range(rng.randint(3, 30))]
        )
        for _ in range(n)
    ]
    return lat, emo, texts


@pytest.mark.parametrize("mode", ["paper", "speed"])
def test_exact_mode_gives_exactly_t_tokens(long_model: T2S, mode: str) -> None:
    rng = random.Random(11 if mode == "paper" else 12)
    lat, emo, texts = _requests(long_model, 4, rng)
    targets = [rng.randint(10, 400) for _ in range(4)]
    conds = long_model.conds(lat, emo, duration_tokens=targets, duration_embedding=mode)
    stop = long_model.cfg.stop_mel_token
    settings = Sampling() if mode == "paper" else Sampling.greedy()
    out = decode(long_model, list(conds), texts, settings, targets, seeds=[1, 2, 3, 4])
    for d, t in zip(out, targets, strict=True):
        assert d.codes.numel() == t and d.stopped
        assert stop not in d.codes.tolist()


def test_exact_mode_mixed_with_free_and_beams(long_model: T2S) -> None:
    rng = random.Random(5)
    lat, emo, texts = _requests(long_model, 3, rng)
    targets = [37, None, 12]
    conds = list(long_model.conds(lat, emo, targets, "paper"))
    settings = dataclasses.replace(Sampling.official(), max_tokens=60)
    out = decode(long_model, conds, texts, settings, targets, seeds=[0, 1, 2])
    assert out[0].codes.numel() == 37 and out[2].codes.numel() == 12
    assert out[1].codes.numel() <= 60


def test_free_mode_stops_at_stop_token_or_bound(tiny: T2S) -> None:
    """The tiny checkpoint's stop bias makes rep-10 greedy stop at step 29 (gpt/ manifest)."""
    rng = random.Random(0)
    lat, emo, texts = _requests(tiny, 1, rng)
    conds = list(tiny.conds(lat, emo))
    short = decode(tiny, conds, texts, Sampling.greedy(max_tokens=5))[0]
    assert short.codes.numel() == 5 and not short.stopped
    long = decode(tiny, conds, texts, Sampling.greedy(max_tokens=99))[0]
    assert long.stopped == (long.codes.numel() < 99)
    assert tiny.cfg.stop_mel_token not in long.codes.tolist()
    assert tiny.cfg.start_mel_token not in long.codes.tolist()  # suppressed by our default


@pytest.mark.parametrize(
    "settings",
    [
        Sampling.greedy(max_tokens=50),
        Sampling(max_tokens=50),
        Sampling(num_beams=3, max_tokens=50),
    ],
    ids=["greedy", "sample", "beam_sample"],
)
def test_batched_equals_one_at_a_time(long_model: T2S, settings: Sampling) -> None:
    rng = random.Random(21)
    lat, emo, texts = _requests(long_model, 4, rng)
    targets = [None, 30, None, 45]
    conds = list(long_model.conds(lat, emo, targets, "paper"))
    seeds = [5, 6, 7, 8]
    batched = generate(long_model, conds, texts, settings, targets, seeds)
    for i in range(4):
        alone = generate(long_model, [conds[i]], [texts[i]], settings, [targets[i]], [seeds[i]])[0]
        assert torch.equal(alone, batched[i]), i
    lat_b = latents(long_model, conds, texts, batched)
    for i in range(4):
        (lat_1,) = latents(long_model, [conds[i]], [texts[i]], [batched[i]])
        assert lat_1.shape == (batched[i].numel(), long_model.dim)
        assert torch.allclose(lat_1, lat_b[i], atol=1e-5)


def test_seed_controls_sampling(long_model: T2S) -> None:
    rng = random.Random(8)
    lat, emo, texts = _requests(long_model, 1, rng)
    conds = list(long_model.conds(lat, emo))
    s = Sampling(max_tokens=40, temperature=1.5, top_p=1.0, top_k=0, repetition_penalty=1.0)
    a = generate(long_model, conds, texts, s, seeds=[1])[0]
    b = generate(long_model, conds, texts, s, seeds=[1])[0]
    c = generate(long_model, conds, texts, s, seeds=[2])[0]
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def _teacher_forced_logprob(
    model: T2S, cond: torch.Tensor, text: torch.Tensor, codes: torch.Tensor
) -> float:
    """Sum of log p(code_k | prefix) from one uncached forward pass."""
    prompt = _prompts(model, [cond], [text])[0]
    fed = model.mel_embed(codes[None, :-1], torch.arange(2, codes.numel() + 1))[0]
    x = torch.cat((prompt, fed))[None]
    valid = torch.ones(1, x.shape[1], dtype=torch.bool)
    h = model.gpt(x, prefix_mask(valid, 0, x.shape[1]))
    logp = F.log_softmax(model.mel_logits(h[0, prompt.shape[0] - 1 :]), dim=-1)
    return float(logp[torch.arange(codes.numel()), codes].sum())


def test_beam_search_score_matches_teacher_forcing(long_model: T2S) -> None:
    """The beam hypotheses' scores equal an uncached re-scoring: the cache reordering is right."""
    rng = random.Random(3)
    lat, emo, texts = _requests(long_model, 2, rng)
    conds = list(long_model.conds(lat, emo))
    s = Sampling(do_sample=False, num_beams=3, repetition_penalty=1.0, suppress_start=False)
    out = decode(long_model, conds, texts, s, targets=[25, 40])
    with torch.inference_mode():
        for d, c, t in zip(out, conds, texts, strict=True):
            assert d.beam_score == pytest.approx(
                _teacher_forced_logprob(long_model, c, t, d.codes), abs=1e-3
            )
            greedy = decode(
                long_model, [c], [t], dataclasses.replace(s, num_beams=1), [d.codes.numel()]
            )[0]
            # Beam search keeps 3 hypotheses; its best is at least as likely as greedy's here.
            assert d.beam_score >= _teacher_forced_logprob(long_model, c, t, greedy.codes) - 1e-3


def test_target_beyond_position_table_refused(tiny: T2S) -> None:
    conds = list(tiny.conds(torch.zeros(1, 32, 64), torch.zeros(1, 64)))
    with pytest.raises(ValueError, match="position table"):
        generate(tiny, conds, [torch.tensor([5, 6])], Sampling(), targets=[400])


@pytest.mark.parametrize(
    "settings",
    [
        Sampling.greedy(max_tokens=60),
        Sampling(max_tokens=60),
        Sampling(num_beams=3, max_tokens=60),
    ],
    ids=["greedy", "sample", "beam_sample"],
)
def test_growing_cache_and_row_chunks_give_identical_results(
    long_model: T2S, settings: Sampling, monkeypatch
) -> None:
    """A cache grown in small chunks, and requests split into row chunks, decode exactly as
    one preallocated batch does (codes, stop flags, beam scores)."""
    rng = random.Random(31)
    lat, emo, texts = _requests(long_model, 5, rng)
    targets = [None, 40, None, 9, None]
    conds = list(long_model.conds(lat, emo, targets, "paper"))
    seeds = [3, 1, 4, 1, 5]
    whole = decode(
        long_model, conds, texts, settings, targets, seeds, max_rows=None, cache_chunk=None
    )

    caches = []
    new_cache = long_model.gpt.new_cache

    def spy(rows: int, max_len: int):
        cache = new_cache(rows, max_len)
        caches.append((rows, max_len, cache))
        return cache

    monkeypatch.setattr(long_model.gpt, "new_cache", spy)
    chunked = decode(long_model, conds, texts, settings, targets, seeds, max_rows=6, cache_chunk=4)
    per_call = max(1, 6 // settings.num_beams)
    assert [r for r, _, _ in caches] == [
        len(conds[i : i + per_call]) for i in range(0, 5, per_call)
    ]
    assert any(cache.max_len > start for _, start, cache in caches)  # the cache did grow
    for a, b in zip(whole, chunked, strict=True):
        assert torch.equal(a.codes, b.codes)
        assert a.stopped == b.stopped
        # Another batch shape sums in another order: scores agree to float rounding.
        if a.beam_score is None:
            assert b.beam_score is None
        else:
            assert b.beam_score == pytest.approx(a.beam_score, rel=1e-6)


def test_default_cache_starts_small_for_free_rows(long_model: T2S, monkeypatch) -> None:
    """Free rows with a large max_tokens no longer reserve prompt + max_tokens positions."""
    rng = random.Random(2)
    lat, emo, texts = _requests(long_model, 2, rng)
    conds = list(long_model.conds(lat, emo))
    sizes = []
    new_cache = long_model.gpt.new_cache

    def spy(rows: int, max_len: int):
        sizes.append(max_len)
        return new_cache(rows, max_len)

    monkeypatch.setattr(long_model.gpt, "new_cache", spy)
    settings = Sampling.greedy(max_tokens=400)
    out = decode(long_model, conds, texts, settings, cache_chunk=16)
    with torch.inference_mode():
        prompt = max(p.shape[0] for p in _prompts(long_model, conds, texts))
    assert sizes == [prompt + 16]
    alone = decode(long_model, conds, texts, settings, cache_chunk=None)
    assert all(torch.equal(a.codes, b.codes) for a, b in zip(out, alone, strict=True))
