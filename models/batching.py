"""How the IndexTTS engines (2.0 and 2.5) run a list of requests: one job per request,
validated before any decoding (a bad request fails alone), sorted, rendered in batches, a
batch halved on failure (out-of-memory above all) until a request that still fails fails
alone, each result handed on as soon as it exists and the rest marked STOPPED once the
caller says stop.

The engines differ in their jobs and stages only; they pass those in as callables, and a
job is any object with the attributes of `BatchJob`.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import torch

from models.contract import (
    STOPPED,
    ModelFilesMissing,
    ProgressFn,
    ResultFn,
    StopFn,
    SynthesisRequest,
    SynthesisResult,
)

log = logging.getLogger(__name__)


class RequestError(ValueError):
    """A request that cannot be rendered; the message is shown to the editor."""


class BatchJob(Protocol):
    index: int
    request: SynthesisRequest
    plan: Any  # the slot (None: free length)
    codes: list[torch.Tensor]
    audio: Any
    flagged: str | None
    notes: list[str]
    error: str | None
    timings: dict[str, float]


J = TypeVar("J", bound=BatchJob)


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def error_message(exc: BaseException) -> str:
    """What the editor reads: our own errors as they are worded, others with their type."""
    if isinstance(exc, (RequestError, ModelFilesMissing)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def check_sampling(req: SynthesisRequest, *, flow_prompt: bool = True) -> None:
    """Settings that would fail (or hang) a decode: refused before any work, so the
    request fails alone instead of sinking its batch. `flow_prompt`: the engine honours
    flow_prompt_s (2.5 always gives the flow model the whole prompt)."""
    s = req.sampling
    problems = []
    if s.do_sample and not s.temperature > 0:
        problems.append(f"temperature {s.temperature} (sampling needs > 0)")
    if not s.repetition_penalty > 0:
        problems.append(f"repetition_penalty {s.repetition_penalty} (needs > 0)")
    if int(s.max_tokens) < 1:
        problems.append(f"max_tokens {s.max_tokens} (needs >= 1)")
    if int(s.num_beams) < 1:
        problems.append(f"num_beams {s.num_beams} (needs >= 1)")
    if not 0.0 <= float(s.stop_window) < 1.0:
        problems.append(f"stop_window {s.stop_window} (needs 0 <= w < 1)")
    if s.diffusion_steps is not None and int(s.diffusion_steps) < 1:
        problems.append(f"diffusion_steps {s.diffusion_steps} (needs >= 1)")
    if flow_prompt and s.flow_prompt_s is not None and not s.flow_prompt_s > 0:
        problems.append(f"flow_prompt_s {s.flow_prompt_s} (needs > 0, or None: all)")
    if problems:
        raise RequestError("invalid sampling settings: " + ", ".join(problems))


def job_result(job: BatchJob) -> SynthesisResult:
    if job.error is not None or job.audio is None:
        return SynthesisResult(
            None,
            job.request.target_samples(),
            error=job.error or "rendering produced no audio",
            timings=dict(job.timings),
        )
    return SynthesisResult(
        job.audio,
        job.request.target_samples() if job.plan is not None else None,
        flagged=job.flagged,
        notes=list(job.notes),
        timings={k: round(v, 6) for k, v in job.timings.items()},
        tokens=sum(int(c.numel()) for c in job.codes),
        fit=getattr(job, "fit", None),
    )


def release_memory(device: torch.device) -> None:
    gc.collect()  # frames of the failed batch may sit in reference cycles
    if device.type == "cuda":
        torch.cuda.empty_cache()


def render_halving(
    jobs: list[J],
    render: Callable[[list[J], StopFn], None],
    forget: Callable[[J], None],
    device: torch.device,
    stop: StopFn = lambda: False,
) -> None:
    """Render jobs in place; halve the batch on failure, so that a request that cannot be
    rendered fails alone. `forget` drops what an unfinished stage of a job left (finished
    stages are kept for the retry). Once `stop()` says so, nothing more begins."""
    live = [j for j in jobs if j.error is None]
    if not live or stop():
        return
    oom, message = False, ""
    try:
        render(live, stop)
        return
    except Exception as exc:  # noqa: BLE001
        # Only note what happened: recursing from here would keep the traceback, and
        # with it the failed frames' KV caches and activations, alive during the retry.
        oom, message = is_oom(exc), error_message(exc)
    release_memory(device)
    if len(live) == 1:
        live[0].error = (
            "out of GPU memory even alone; try a shorter line or voice prompt" if oom else message
        )
        log.warning("request %d failed: %s", live[0].index, live[0].error)
        return
    if not oom:
        log.info("a batch of %d failed (%s); rendering it in halves", len(live), message)
    for job in live:
        forget(job)
    half = len(live) // 2
    render_halving(live[:half], render, forget, device, stop)
    render_halving(live[half:], render, forget, device, stop)


def run_batches(
    requests: Sequence[SynthesisRequest],
    make_job: Callable[[int, SynthesisRequest], J],
    order: Callable[[J], Any],
    batches: Callable[[list[J]], Iterable[list[J]]],
    render: Callable[[list[J], StopFn], None],
    progress: ProgressFn | None = None,
    on_result: ResultFn | None = None,
    should_stop: StopFn | None = None,
) -> list[SynthesisResult]:
    """The engines' synthesize(): see the module docstring. `order` sorts the jobs (voice
    first, its prompt is shared, then length, less padding); `batches` cuts them."""
    total = len(requests)
    results: list[SynthesisResult | None] = [None] * total
    stop = should_stop or (lambda: False)

    def finish(index: int, result: SynthesisResult) -> None:
        results[index] = result
        if on_result:
            on_result(index, result)

    jobs: list[J] = []
    for i, req in enumerate(requests):
        try:
            jobs.append(make_job(i, req))
        except Exception as exc:  # noqa: BLE001 - one bad request must not sink the rest
            finish(i, SynthesisResult(None, req.target_samples(), error=error_message(exc)))
    done = sum(r is not None for r in results)
    if progress:
        progress(done, total)
    jobs.sort(key=order)
    for chunk in batches(jobs):
        if stop():
            break
        render(chunk, stop)
        for job in chunk:
            if job.audio is not None or job.error is not None:
                finish(job.index, job_result(job))
        done += len(chunk)
        if progress:
            progress(done, total)
    return [
        r if r is not None else SynthesisResult(None, req.target_samples(), error=STOPPED)
        for r, req in zip(results, requests, strict=True)
    ]
