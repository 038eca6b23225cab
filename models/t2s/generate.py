"""Batched KV-cached decoding of semantic codes, and the GPT latent pass (H_GPT) for S2M.

    settings = Sampling.official()        # release defaults: 3-beam sampling, rep 10
    codes = generate(model, conds, text_ids, settings, targets=[None, 120], seeds=[1, 2])
    h_gpt = latents(model, conds, text_ids, codes)   # list of [N_i, D]

- conds: one [34, D] (or [1, 34, D]) tensor per request, from T2S.conds(); text_ids: one 1-D
  tensor of BPE ids per request (no start/stop needed). Requests may differ in text length and
  voice: prompts are left-padded and masked; positions are per row, so a request decodes the
  same codes alone or in a batch (up to float rounding in the attention sums).
- targets[i] = None: free mode, the stop token ends the row (or settings.max_tokens, which
  counts the stop token as the official max_mel_tokens does). targets[i] = T: exact mode,
  the stop token is forbidden before T and forced at T, so exactly T codes come back.
  targets[i] = StopWindow(lo, hi): guided mode, the stop token is forbidden before lo codes
  and forced once hi are out (T is StopWindow(T, T)).
- Decoded.forced: the row ended without choosing the stop token (T, the window's end or
  the bound ended it); Decoded.stop_wish: the first step (= codes out by then) at which the
  stop token was the most likely one after the repetition penalty, before any constraint
  (None: never while the row decoded; beams: on the leading beam).
- seeds[i] seeds a per-request torch.Generator, so sampling does not depend on the batch.
- Returned codes never include the stop token. decode() gives the details (stopped or cut
  by the length bound, per-step processed scores for parity checks).

Semantics follow the official IndexTTS2 path (GPT2InferenceModel + HF generate):
- Prompt: [conds; text; start code], the start code at semantic position 0; the k-th
  generated code is fed at position k + 1 (the official get_fixed_embedding offset).
- Repetition penalty (HF RepetitionPenaltyLogitsProcessor) over all previous ids *including*
  the prompt's fake ids, i.e. code 1 and the start code are penalised from the first step.
- Sampling warpers in HF order: temperature, top-k, top-p (min 2 tokens kept with beams).
- Beams (num_beams > 1) follow HF beam search / beam sample: log-softmax, processors, add
  beam scores, pick 2 * num_beams candidates (top-k, or multinomial without replacement then
  sorted), finished hypotheses scored sum_logprob / len ** length_penalty, HF's is_done rule.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from models.contract import Sampling
from models.t2s.gpt2 import prefix_mask
from models.t2s.model import T2S


@dataclass(frozen=True)
class StopWindow:
    """Guided decoding: the stop token allowed from `lo` codes on, forced once `hi` are out."""

    lo: int
    hi: int

    def __post_init__(self) -> None:
        if not 1 <= self.lo <= self.hi:
            raise ValueError(f"a stop window needs 1 <= lo <= hi, got [{self.lo}, {self.hi}]")


def _window(target: int | StopWindow | None) -> StopWindow | None:
    return StopWindow(target, target) if isinstance(target, int) else target


@dataclass
class Decoded:
    codes: Tensor  # (N,) int64, without the stop token
    stopped: bool  # False when cut by max_tokens (the official code warns in that case)
    scores: Tensor | None = field(default=None, repr=False)  # (steps, V) processed scores
    beam_score: float | None = None  # beams: the hypothesis score (sum of processed log-probs)
    forced: bool = False  # ended by T, the window's end or max_tokens, not by a stop token
    stop_wish: int | None = None  # first step at which the stop token was the likeliest


# ---- logits processing ------------------------------------------------------------------------
def apply_repetition_penalty(scores: Tensor, seen: Tensor, penalty: float) -> Tensor:
    if penalty == 1.0:
        return scores
    penalised = torch.where(scores < 0, scores * penalty, scores / penalty)
    return torch.where(seen, penalised, scores)


def apply_warpers(scores: Tensor, s: Sampling, min_keep: int) -> Tensor:
    if s.temperature != 1.0:
        scores = scores / s.temperature
    if s.top_k and s.top_k > 0:
        k = min(max(s.top_k, min_keep), scores.shape[-1])
        kth = torch.topk(scores, k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, -float("inf"))
    if s.top_p < 1.0:
        sorted_scores, order = torch.sort(scores, descending=False, dim=-1)
        cum = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        remove = cum <= (1 - s.top_p)
        remove[..., -min_keep:] = False
        scores = scores.masked_fill(remove.scatter(-1, order, remove), -float("inf"))
    return scores


# ---- prompt --------------------------------------------------------------------------------
def _prompts(model: T2S, conds: Sequence[Tensor], text_ids: Sequence[Tensor]) -> list[Tensor]:
    """Per request: [conds; text embeddings; start code at position 0] -> (P_i, D)."""
    cfg = model.cfg
    dev = model.mel_head.weight.device
    start = torch.tensor([[cfg.start_mel_token]], device=dev)
    start_emb = model.mel_embed(start, 0)[0]
    out = []
    for c, t in zip(conds, text_ids, strict=True):
        c = c.reshape(-1, c.shape[-1]).to(dev)
        out.append(torch.cat((c, model.text_embedding_sequence(t.to(dev)), start_emb)))
    return out


def _left_pad(seqs: list[Tensor]) -> tuple[Tensor, Tensor]:
    length = max(s.shape[0] for s in seqs)
    x = seqs[0].new_zeros(len(seqs), length, seqs[0].shape[-1])
    valid = torch.zeros(len(seqs), length, dtype=torch.bool, device=x.device)
    for i, s in enumerate(seqs):
        x[i, length - s.shape[0] :] = s
        valid[i, length - s.shape[0] :] = True
    return x, valid


# ---- decoding ------------------------------------------------------------------------------
# Rows decoded together (requests x beams): more rows share each step's weight reads, but the
# KV cache grows with rows x length. Larger request lists are decoded in chunks.
MAX_ROWS = 16
# The KV cache starts at prompt + this many positions (or the longest exact target) and grows
# by this much when full, instead of holding prompt + max_tokens (1500) positions per row
# from the start: free rows usually stop long before the bound.
CACHE_CHUNK = 256


@torch.inference_mode()
def decode(
    model: T2S,
    conds: Sequence[Tensor],
    text_ids: Sequence[Tensor],
    settings: Sampling,
    targets: Sequence[int | StopWindow | None] | None = None,
    seeds: Sequence[int] | None = None,
    record_scores: bool = False,
    timings: dict[str, float] | None = None,
    max_rows: int | None = MAX_ROWS,
    cache_chunk: int | None = CACHE_CHUNK,
) -> list[Decoded]:
    """See the module docstring. `timings`, when given, receives prefill_s, decode_s, steps
    (summed over chunks). At most `max_rows` rows (requests x beams, at least one request)
    decode together; `cache_chunk` None preallocates the whole cache (same results)."""
    n = len(conds)
    if targets is not None:
        for t in targets:
            if isinstance(t, int) and t < 1:
                raise ValueError(f"target token count must be >= 1, got {t}")
    windows = [_window(t) for t in targets] if targets is not None else [None] * n
    seeds = list(seeds) if seeds is not None else [0] * n
    if not (len(text_ids) == len(windows) == len(seeds) == n):
        raise ValueError("conds, text_ids, targets and seeds must have one entry per request")
    if n == 0:
        return []
    cfg = model.cfg
    budgets = [w.hi if w is not None else settings.max_tokens for w in windows]
    max_new = max(budgets)
    if max_new + 1 > cfg.mel_positions:
        raise ValueError(
            f"{max_new} tokens exceed the semantic position table ({cfg.mel_positions} rows)"
        )
    per_call = n
    if max_rows is not None:
        per_call = max(1, int(max_rows) // max(1, settings.num_beams))
    if timings is not None:
        timings.update(prefill_s=0.0, decode_s=0.0, steps=0.0)
    out: list[Decoded] = []
    for lo in range(0, n, per_call):
        hi = lo + per_call
        part: dict[str, float] = {}
        out += _decode_rows(
            model,
            conds[lo:hi],
            text_ids[lo:hi],
            settings,
            windows[lo:hi],
            seeds[lo:hi],
            record_scores,
            part,
            cache_chunk,
        )
        if timings is not None:
            for key, value in part.items():
                timings[key] += value
    return out


def _decode_rows(
    model: T2S,
    conds: Sequence[Tensor],
    text_ids: Sequence[Tensor],
    settings: Sampling,
    targets: list[StopWindow | None],
    seeds: list[int],
    record_scores: bool,
    timings: dict[str, float],
    cache_chunk: int | None,
) -> list[Decoded]:
    """decode() for one chunk of requests, all decoded together."""
    t_start = time.perf_counter()
    n = len(conds)
    cfg = model.cfg
    budgets = [t.hi if t is not None else settings.max_tokens for t in targets]
    max_new = max(budgets)
    x, valid = _prompts_batch(model, conds, text_ids)
    dev = x.device
    gens = [torch.Generator(device=dev).manual_seed(int(s)) for s in seeds]
    prompt_len = x.shape[1]
    first = max_new
    if cache_chunk is not None:
        # Exact rows surely reach their target: room for that at once, free rows grow.
        exact = [t.hi for t in targets if t is not None]
        first = min(max_new, max([max(1, int(cache_chunk)), *exact]))
    cache = model.gpt.new_cache(n, prompt_len + first)
    valid = torch.cat((valid, torch.ones(n, max_new, dtype=torch.bool, device=dev)), dim=1)
    hidden = model.gpt(x, prefix_mask(valid, 0, prompt_len), cache, 0)
    logits = model.mel_logits(hidden[:, -1])
    del hidden, x
    t_prefill = time.perf_counter()

    seen = torch.zeros(n, cfg.number_mel_codes, dtype=torch.bool, device=dev)
    seen[:, 1] = True  # fake prompt ids are all 1 ...
    seen[:, cfg.start_mel_token] = True  # ... plus the start code
    step_args = _StepArgs(
        model, cache, valid, prompt_len, targets, budgets, settings, max(1, cache_chunk or 1)
    )
    if settings.num_beams > 1:
        out = _beam_decode(step_args, logits, seen, gens)
    else:
        out = _sample_decode(step_args, logits, seen, gens, record_scores)
    timings["prefill_s"] = t_prefill - t_start
    timings["decode_s"] = time.perf_counter() - t_prefill
    timings["steps"] = float(step_args.steps)
    return out


def _prompts_batch(model: T2S, conds, text_ids) -> tuple[Tensor, Tensor]:
    return _left_pad(_prompts(model, conds, text_ids))


def _grow_cache(cache, new_len: int) -> None:
    """Longer KV buffers with the same contents, one layer at a time (the old one is freed
    before the next is allocated, so the peak is one layer above the new size)."""
    for bufs in (cache.k, cache.v):
        for i, buf in enumerate(bufs):
            rows, heads, old_len, head_dim = buf.shape
            grown = buf.new_zeros(rows, heads, new_len, head_dim)
            grown[:, :, :old_len] = buf
            bufs[i] = grown
            del buf, grown
    cache.max_len = new_len


def _expand_cache_rows(cache, index: Tensor) -> None:
    """Row r of the cache becomes old row index[r], layer by layer (no second full copy)."""
    for bufs in (cache.k, cache.v):
        for i in range(len(bufs)):
            bufs[i] = bufs[i].index_select(0, index)


@dataclass
class _StepArgs:
    model: T2S
    cache: object
    valid: Tensor
    prompt_len: int
    targets: list[StopWindow | None]
    budgets: list[int]
    settings: Sampling
    cache_chunk: int = CACHE_CHUNK  # positions added when the cache is full
    steps: int = 0  # decode steps fed so far (timings)

    def constrain(self, scores: Tensor, step: int, row_targets: list[StopWindow | None]) -> Tensor:
        cfg = self.model.cfg
        if self.settings.suppress_start:
            scores[:, cfg.start_mel_token] = -float("inf")
        for i, t in enumerate(row_targets):
            if t is not None and step < t.lo:
                scores[i, cfg.stop_mel_token] = -float("inf")
        return scores

    def feed(self, tokens: Tensor, step: int) -> Tensor:
        """Feed the codes chosen at `step` (0-based) and return the next logits."""
        m = self.model
        self.steps += 1
        # The (step+1)-th generated code sits at semantic position step + 2 (official offset).
        x = m.mel_embed(tokens[:, None], step + 2)
        pos = self.prompt_len + step
        if pos + 1 > self.cache.max_len:
            limit = self.valid.shape[1]  # prompt + the largest budget
            _grow_cache(self.cache, min(limit, pos + 1 + self.cache_chunk))
        mask = self.valid[:, None, None, : pos + 1]
        return m.mel_logits(m.gpt(x, mask, self.cache, pos)[:, -1])


def _sample_decode(a: _StepArgs, logits: Tensor, seen: Tensor, gens, record: bool) -> list[Decoded]:
    s, cfg = a.settings, a.model.cfg
    n = logits.shape[0]
    stop = cfg.stop_mel_token
    out_codes: list[list[int]] = [[] for _ in range(n)]
    stopped = [False] * n
    chose_stop = [False] * n
    done = [False] * n
    steps_scores: list[Tensor] = []
    wishes: list[Tensor] = []  # per step: the stop token is each row's likeliest
    for step in range(max(a.budgets)):
        scores = apply_repetition_penalty(logits.float(), seen, s.repetition_penalty)
        wishes.append(scores.argmax(dim=-1) == stop)
        scores = a.constrain(scores, step, a.targets)
        if s.do_sample:
            scores = apply_warpers(scores, s, min_keep=1)
            probs = scores.softmax(dim=-1)
            tokens = torch.cat(
                [torch.multinomial(probs[i], 1, generator=gens[i]) for i in range(n)]
            )
        else:
            tokens = scores.argmax(dim=-1)
        if record:
            steps_scores.append(scores.clone())
        chosen = tokens.tolist()  # one host sync per step, not one per row
        for i in range(n):
            if done[i]:
                continue
            tok = chosen[i]
            if tok == stop:
                done[i] = stopped[i] = chose_stop[i] = True
                continue
            out_codes[i].append(tok)
            # Free mode: max_tokens counts the stop token, as the official bound does.
            if a.targets[i] is not None and len(out_codes[i]) == a.targets[i].hi:
                done[i] = stopped[i] = True  # the stop is forced at T: no need to decode it
            elif a.targets[i] is None and len(out_codes[i]) >= a.budgets[i]:
                done[i] = True
        if all(done):
            break
        tokens = torch.where(torch.tensor(done, device=tokens.device), stop, tokens)
        seen[torch.arange(n), tokens] = True
        logits = a.feed(tokens, step)
    wished = torch.stack(wishes).T.tolist()  # (n, steps), one host sync
    result = []
    for i in range(n):
        sc = torch.stack([x[i] for x in steps_scores]) if record else None
        # The row decoded one step per code, plus the step that chose the stop token.
        alive = len(out_codes[i]) + int(chose_stop[i])
        wish = next((k for k in range(alive) if wished[i][k]), None)
        codes = torch.tensor(out_codes[i], dtype=torch.long)
        result.append(Decoded(codes, stopped[i], sc, forced=not chose_stop[i], stop_wish=wish))
    return result


@dataclass
class _Hyp:
    score: float
    codes: list[int]
    stopped: bool
    forced: bool = False


class _BeamHyps:
    """HF BeamHypotheses (early_stopping=False)."""

    def __init__(self, num_beams: int, length_penalty: float) -> None:
        self.num_beams, self.lp = num_beams, length_penalty
        self.beams: list[_Hyp] = []
        self.worst = 1e9

    def add(
        self, codes: list[int], sum_logprobs: float, gen_len: int, stopped: bool, forced: bool
    ) -> None:
        score = sum_logprobs / (gen_len**self.lp)
        if len(self.beams) < self.num_beams or score > self.worst:
            self.beams.append(_Hyp(score, codes, stopped, forced))
            if len(self.beams) > self.num_beams:
                ranked = sorted((h.score, j) for j, h in enumerate(self.beams))
                del self.beams[ranked[0][1]]
                self.worst = ranked[1][0]
            else:
                self.worst = min(score, self.worst)

    def is_done(self, best_sum_logprobs: float, gen_len: int) -> bool:
        if len(self.beams) < self.num_beams:
            return False
        return self.worst >= best_sum_logprobs / (gen_len**self.lp)


def _pick_candidates(cand: Tensor, k: int, do_sample: bool, gen) -> tuple[Tensor, Tensor]:
    """cand: (nb * V,) scores -> k (score, flat index) pairs, best first."""
    if not do_sample:
        return torch.topk(cand, k)
    probs = cand.softmax(dim=-1)
    nonzero = int((probs > 0).sum())
    idx = torch.multinomial(probs, min(k, nonzero), replacement=False, generator=gen)
    if idx.numel() < k:
        # HF would raise here; fill with the best remaining candidates (scores -inf).
        rest = cand.clone()
        rest[idx] = float("inf")
        extra = torch.topk(
            rest.masked_fill(rest == float("inf"), -float("inf")), k - idx.numel()
        ).indices
        idx = torch.cat((idx, extra))
    vals = cand[idx]
    order = torch.sort(vals, descending=True).indices
    return vals[order], idx[order]


def _beam_decode(a: _StepArgs, logits: Tensor, seen: Tensor, gens) -> list[Decoded]:
    s, cfg = a.settings, a.model.cfg
    nb, n = s.num_beams, logits.shape[0]
    stop, vocab = cfg.stop_mel_token, cfg.number_mel_codes
    rows = n * nb
    # Every beam starts from the same prompt: expand prefill results instead of recomputing.
    expand = torch.arange(n, device=logits.device).repeat_interleave(nb)
    _expand_cache_rows(a.cache, expand)
    a.valid = a.valid[expand]
    logits, seen = logits[expand], seen[expand]
    row_targets = [a.targets[r // nb] for r in range(rows)]
    beam_scores = torch.zeros(n, nb, device=logits.device)
    beam_scores[:, 1:] = -1e9
    beam_scores = beam_scores.view(-1)
    histories: list[list[int]] = [[] for _ in range(rows)]
    hyps = [_BeamHyps(nb, s.length_penalty) for _ in range(n)]
    done = [False] * n
    wish: list[int | None] = [None] * n
    max_new = max(a.budgets)
    for step in range(max_new):
        scores = F.log_softmax(logits.float(), dim=-1)
        scores = apply_repetition_penalty(scores, seen, s.repetition_penalty)
        leading = (scores[::nb].argmax(dim=-1) == stop).tolist()  # row 0 of each: the best
        for b in range(n):
            if wish[b] is None and not done[b] and leading[b]:
                wish[b] = step
        scores = a.constrain(scores, step, row_targets)
        if s.do_sample:
            scores = apply_warpers(scores, s, min_keep=2)
        cand = (scores + beam_scores[:, None]).view(n, nb * vocab)
        next_scores = torch.zeros(rows, device=logits.device)
        next_tokens = torch.full((rows,), stop, dtype=torch.long, device=logits.device)
        parents = torch.zeros(rows, dtype=torch.long, device=logits.device)
        gen_len = step + 1
        for b in range(n):
            base = b * nb
            if done[b]:
                parents[base : base + nb] = base
                continue
            vals, idx = _pick_candidates(cand[b], 2 * nb, s.do_sample, gens[b])
            filled = 0
            for rank, (v, flat) in enumerate(zip(vals.tolist(), idx.tolist(), strict=True)):
                parent, tok = base + flat // vocab, flat % vocab
                if tok == stop:
                    if rank >= nb:
                        continue
                    hyps[b].add(list(histories[parent]), v, gen_len, stopped=True, forced=False)
                else:
                    next_scores[base + filled] = v
                    next_tokens[base + filled] = tok
                    parents[base + filled] = parent
                    filled += 1
                if filled == nb:
                    break
            done[b] = hyps[b].is_done(float(vals.max()), gen_len)
        beam_scores = next_scores
        histories = [
            histories[int(p)] + [int(t)]
            for p, t in zip(parents.tolist(), next_tokens.tolist(), strict=True)
        ]
        seen = seen[parents]
        seen[torch.arange(rows), next_tokens] = True
        # Exact targets (or a window's end): the stop is forced; every live beam ends here.
        for b in range(n):
            t = a.targets[b]
            if not done[b] and t is not None and gen_len == t.hi:
                for r in range(b * nb, b * nb + nb):
                    score = float(beam_scores[r])
                    hyps[b].add(list(histories[r]), score, gen_len, stopped=True, forced=True)
                done[b] = True
            elif not done[b] and t is None and gen_len >= a.budgets[b]:
                for r in range(b * nb, b * nb + nb):
                    score = float(beam_scores[r])
                    hyps[b].add(list(histories[r]), score, gen_len, stopped=False, forced=True)
                done[b] = True
        if all(done):
            break
        if step > 0:
            a.cache.reorder(parents, a.prompt_len, a.prompt_len + step)
        logits = a.feed(next_tokens, step)
    out = []
    for b in range(n):
        best = max(hyps[b].beams, key=lambda h: h.score)
        codes = torch.tensor(best.codes, dtype=torch.long)
        out.append(
            Decoded(
                codes, best.stopped, beam_score=best.score, forced=best.forced, stop_wish=wish[b]
            )
        )
    return out


def generate(
    model: T2S,
    conds: Sequence[Tensor],
    text_ids: Sequence[Tensor],
    settings: Sampling,
    targets: Sequence[int | StopWindow | None] | None = None,
    seeds: Sequence[int] | None = None,
) -> list[Tensor]:
    """Semantic codes per request (1-D int64, stop token excluded)."""
    return [d.codes for d in decode(model, conds, text_ids, settings, targets, seeds)]


# ---- GPT latent pass ---------------------------------------------------------------------------
@torch.inference_mode()
def latents(
    model: T2S, conds: Sequence[Tensor], text_ids: Sequence[Tensor], codes: Sequence[Tensor]
) -> list[Tensor]:
    """H_GPT per request: UnifiedVoice.forward(...) for the codes -> (N_i, D).

    The sequence is [conds; start, text, stop; start, codes, stop] with positions from 0 in
    both segments; the result is final_norm(hidden) at [start, codes] (stop dropped), as the
    official forward returns `mel_logits[:, :-2]` of its latent.
    """
    if not codes:  # nothing decoded (a stop at the first step): nothing to pass
        return []
    cfg = model.cfg
    dev = model.mel_head.weight.device
    seqs, mel_lens = [], []
    for c, t, k in zip(conds, text_ids, codes, strict=True):
        c = c.reshape(-1, c.shape[-1]).to(dev)
        text = t.reshape(-1).long().to(dev)
        text_seq = F.pad(
            F.pad(text, (1, 0), value=cfg.start_text_token), (0, 1), value=cfg.stop_text_token
        )
        text_emb = model.text_embedding(text_seq) + model.text_pos_embedding(
            torch.arange(text_seq.shape[0], device=dev)
        )
        mel = k.reshape(-1).long().to(dev)
        mel_seq = F.pad(
            F.pad(mel, (1, 0), value=cfg.start_mel_token), (0, 1), value=cfg.stop_mel_token
        )
        mel_emb = model.mel_embed(mel_seq[None], torch.arange(mel_seq.shape[0], device=dev))[0]
        seqs.append(torch.cat((c, text_emb, mel_emb)))
        mel_lens.append(mel.shape[0])
    x, valid = _left_pad(seqs)
    hidden = model.final_norm(model.gpt(x, prefix_mask(valid, 0, x.shape[1])))
    total = x.shape[1]
    return [hidden[i, total - (m + 2) : total - 2].clone() for i, m in enumerate(mel_lens)]
