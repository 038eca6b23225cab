"""RemotePool: the engine contract over N Ray actors, each a real engine on its own node.

Requests are spread by cost (the longest first, so the last one to finish is a short one),
results are handed back one by one the moment they arrive (the driver caches each at once),
and a dead worker's unfinished requests go to a live one; a request whose task failed twice
fails alone."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.contract import (
    STOPPED,
    Capabilities,
    ModelFilesMissing,
    ProgressFn,
    ResultFn,
    StopFn,
    SynthesisRequest,
    SynthesisResult,
    VoiceHandle,
)
from models.pool.connect import ClusterError
from models.pool.worker import EngineWorker, PoolVoice, WorkerReport

# A request is tried on at most this many workers: a second failure is its own.
MAX_TRIES = 2
_WAIT_S = 0.2  # how often a stop request is looked at while workers render


@dataclass(frozen=True)
class PoolSettings:
    workers: int = 2
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    start_timeout_s: float = 600.0  # loading a full-size engine on a cold node takes minutes
    # The most requests one synthesize call brings (the dub's render chunk): a GPU worker's
    # task is cut so that a chunk still reaches every worker.
    lines_in_flight: int = 8


class WorkerModelsMissing(ModelFilesMissing):
    """A worker's node lacks (or has damaged) model files: named per node, before any work."""

    def __init__(self, problems: Sequence[tuple[str, str, str]]) -> None:
        said = "\n".join(
            f"worker on {node} (model folder {folder}): {why}" for node, folder, why in problems
        )
        FileNotFoundError.__init__(
            self,
            f"{len(problems)} Ray worker(s) cannot render:\n{said}\nevery node needs the model "
            "folder at the same path as the driver, or DUBSMITH_MODEL_DIR set where `ray start` "
            "runs (dubsmith models download on that node)",
        )
        self.model_dir = Path(problems[0][1])
        self.missing = [f"{node}: {why.splitlines()[0]}" for node, _, why in problems]


def _cost(request: SynthesisRequest) -> float:
    """Seconds of speech the request asks for; free-paced lines by their text (~14 chars/s)."""
    return request.duration_s if request.duration_s is not None else len(request.text) / 14.0


@dataclass
class _Worker:
    actor: Any
    report: WorkerReport
    alive: bool = True
    busy: bool = False
    lines: int = 0  # rendered by it (the driver prints these)


@dataclass
class PoolStats:
    resubmitted: int = 0  # requests moved off a dead or failed worker
    died: list[str] = field(default_factory=list)


class RemotePool:
    """An Engine (models/contract.py) whose requests render on Ray actors."""

    # One call may bring all of a dub's lines: they are spread over the workers in tasks of
    # task_size, each result handed back as it lands and a stop honoured within _WAIT_S.
    spreads_requests = True

    def __init__(
        self,
        engine_name: str,
        model_dir: Path | None,
        device: str,
        precision: str | None,
        settings: PoolSettings,
    ) -> None:
        import ray

        if settings.workers < 1:
            raise ClusterError("--workers must be at least 1")
        self.settings = settings
        self.stats = PoolStats()
        self._check_room(ray, settings)
        actor_class = ray.remote(EngineWorker).options(
            num_cpus=settings.cpus_per_worker,
            num_gpus=settings.gpus_per_worker,
            max_restarts=0,  # a dead worker's requests are moved by synthesize()
        )
        folder = str(model_dir) if model_dir else None
        actors = [
            actor_class.remote(engine_name, folder, device, precision)
            for _ in range(settings.workers)
        ]
        try:
            reports = ray.get([a.start.remote() for a in actors], timeout=settings.start_timeout_s)
        except Exception as exc:
            for a in actors:
                ray.kill(a)
            raise ClusterError(f"the Ray workers did not start: {exc}") from exc
        problems = [(r.node, r.model_dir, r.problem) for r in reports if r.problem]
        identities = {r.identity for r in reports if not r.problem}
        if problems or len(identities) > 1:
            for a in actors:
                ray.kill(a)
            if problems:
                raise WorkerModelsMissing(problems)
            nodes = ", ".join(f"{r.node}: {r.identity}" for r in reports)
            raise ClusterError(f"the workers' model files differ (same dub, same files): {nodes}")
        self.workers = [_Worker(a, r) for a, r in zip(actors, reports, strict=True)]
        first = reports[0]
        self.name = first.name
        self.identity = first.identity  # the one-machine engine's: the take cache is shared
        self._capabilities: Capabilities = first.capabilities
        # On CPUs a batch renders no faster than its lines one by one: one line a task keeps
        # every worker busy; on GPUs same-length neighbours go together.
        batch = first.max_batch if first.device.startswith("cuda") else 1
        self.task_size = max(1, min(batch, settings.lines_in_flight // settings.workers))
        self.max_batch = max(1, first.max_batch) * settings.workers

    @staticmethod
    def _check_room(ray, settings: PoolSettings) -> None:
        """Refuse a pool the cluster cannot place (it would wait for ever)."""
        have = ray.cluster_resources()
        need_cpu = settings.cpus_per_worker * settings.workers
        need_gpu = settings.gpus_per_worker * settings.workers
        if need_gpu > have.get("GPU", 0.0):
            raise ClusterError(
                f"{settings.workers} worker(s) x {settings.gpus_per_worker:g} GPU need "
                f"{need_gpu:g} GPU(s); the cluster has {have.get('GPU', 0.0):g}"
            )
        if need_cpu > have.get("CPU", 0.0):
            raise ClusterError(
                f"{settings.workers} worker(s) need {need_cpu:g} CPU(s); the cluster has "
                f"{have.get('CPU', 0.0):g}"
            )

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def actors(self) -> list[Any]:
        return [w.actor for w in self.workers]

    def lines_per_worker(self) -> list[tuple[str, int]]:
        return [(w.report.node, w.lines) for w in self.workers]

    def prepare_voice(
        self, audio: np.ndarray, sample_rate: int, transcript: str | None = None
    ) -> VoiceHandle:
        """Ships the prompt once to the object store; every live worker prepares it now, so
        no line waits on it later."""
        import ray
        from ray.exceptions import RayActorError

        ref = ray.put(np.asarray(audio))
        asked = [
            (w, w.actor.prepare_voice.remote(ref, sample_rate, transcript))
            for w in self.workers
            if w.alive
        ]
        keys = set()
        for w, key in asked:
            try:
                keys.add(ray.get(key))
            except RayActorError:  # a dead worker: the others render its share
                w.alive = False
                self.stats.died.append(w.report.node)
        if not keys:
            raise ClusterError("every Ray worker died")
        if len(keys) != 1:
            raise ClusterError(f"the workers prepared one voice differently: {sorted(keys)}")
        return VoiceHandle(key=keys.pop(), data=PoolVoice([ref], sample_rate, transcript))

    def synthesize(
        self,
        requests: Sequence[SynthesisRequest],
        progress: ProgressFn | None = None,
        *,
        on_result: ResultFn | None = None,
        should_stop: StopFn | None = None,
    ) -> list[SynthesisResult]:
        import ray
        from ray.exceptions import RayActorError

        n = len(requests)
        results: list[SynthesisResult | None] = [None] * n
        order = sorted(range(n), key=lambda i: -_cost(requests[i]))
        size = max(1, self.task_size)
        pending: deque[list[int]] = deque(order[s : s + size] for s in range(0, n, size))
        tries: Counter[int] = Counter()
        inflight: dict[Any, tuple[_Worker, list[int]]] = {}
        done = 0

        def hand(i: int, res: SynthesisResult) -> None:
            nonlocal done
            results[i] = res
            done += 1
            if on_result:
                on_result(i, res)
            if progress:
                progress(done, n)

        def feed() -> None:
            for w in self.workers:
                if w.alive and not w.busy and pending:
                    chunk = pending.popleft()
                    w.busy = True
                    inflight[w.actor.render.remote([requests[i] for i in chunk])] = (w, chunk)

        def failed(chunk: list[int], why: str) -> None:
            for i in chunk:
                tries[i] += 1
                if tries[i] >= MAX_TRIES:
                    hand(i, SynthesisResult(None, requests[i].target_samples(), error=why))
                else:  # alone from now on: a request that fails again fails by itself
                    self.stats.resubmitted += 1
                    pending.appendleft([i])

        feed()
        stopped = False
        while inflight:
            if should_stop and should_stop():
                stopped = True
                break
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=_WAIT_S)
            if not ready:
                continue
            w, chunk = inflight.pop(ready[0])
            w.busy = False
            try:
                out = ray.get(ready[0])
            except RayActorError as exc:
                w.alive = False
                self.stats.died.append(w.report.node)
                failed(chunk, f"its Ray worker on {w.report.node} died: {exc}")
            except Exception as exc:  # noqa: BLE001 - the task raised: its lines fail alone
                failed(chunk, f"the Ray worker on {w.report.node} failed: {exc}")
            else:
                feed()  # the worker gets its next lines before this batch is cached
                for i, res in zip(chunk, out, strict=True):
                    w.lines += res.ok
                    hand(i, res)
            feed()
            if pending and not any(x.alive for x in self.workers):
                for i in [i for chunk in pending for i in chunk]:
                    hand(
                        i,
                        SynthesisResult(
                            None, requests[i].target_samples(), error="every Ray worker died"
                        ),
                    )
                pending.clear()
        if stopped:
            # Each worker finishes the line it is on (a line is never cut short: ray.cancel of
            # a running actor task can take the worker down) and gets nothing more; a next call
            # queues behind it.
            for w, _ in inflight.values():
                w.busy = False
        for i in range(n):
            if results[i] is None:
                results[i] = SynthesisResult(None, requests[i].target_samples(), error=STOPPED)
        return [r for r in results if r is not None]

    def close(self) -> None:
        import ray

        for w in self.workers:
            try:
                ray.kill(w.actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
            w.alive = False
