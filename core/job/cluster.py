"""Rendering on a Ray cluster: an engine factory whose engines are pools of remote engines
(models/pool). The dub and the batch take it where they take a local factory; nothing else
in core/ knows the lines render elsewhere."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.job.options import DubOptions
from core.models.engines import EngineCache, EngineFactory, RegistryFactory, default_engine_factory
from models.contract import Engine
from models.pool import ClusterError, PoolSettings, RemotePool, connect, ray_available
from models.pool.connect import (
    ALREADY_JOINED,
    INSTALL_HINT,
    check_address,
    disconnect,
    probe,
)
from models.registry import DEFAULT_ENGINE


@dataclass(frozen=True)
class ClusterSettings:
    address: str  # ray://host:port, host:port, auto (RAY_ADDRESS) or local
    workers: int = 2
    gpus_per_worker: float = 0.0
    local_cpus: int | None = None  # `local`: the CPUs the runtime may use (None: all)

    def __post_init__(self) -> None:
        check_address(self.address)  # a wrong address is refused before anything starts
        if self.workers < 1:
            raise ValueError("--workers must be at least 1")
        if self.gpus_per_worker < 0:
            raise ValueError("--gpus-per-worker cannot be negative")


class ClusterFactory(RegistryFactory):
    """A registered engine, loaded on every worker of the cluster: one pool per engine and
    model folder, shared by a batch's jobs. The workers' device is theirs, not the
    driver's: a GPU each when --gpus-per-worker is given, else their CPUs."""

    def __init__(
        self,
        settings: ClusterSettings,
        name: str = DEFAULT_ENGINE,
        pools: dict[tuple[str, str], RemotePool] | None = None,
    ) -> None:
        super().__init__(name)
        self.settings = settings
        self.pools: dict[tuple[str, str], RemotePool] = {} if pools is None else pools
        self.joined: str | None = None
        self.render_on: RenderOn | None = None  # the desk's choice it was made for

    def connect(self) -> str:
        """Join the cluster (said in words); fails with ClusterError before any work."""
        if self.joined is None:
            self.joined = connect(self.settings.address, num_cpus=self.settings.local_cpus)
        return self.joined

    def __call__(self, model_dir: Path | None, device: str, precision: str | None = None) -> Engine:
        self.connect()
        key = (self.entry.name, str(model_dir))
        if key not in self.pools:
            s = self.settings
            on = "cuda" if s.gpus_per_worker > 0 else "cpu"
            self.pools[key] = RemotePool(
                self.entry.name,
                model_dir,
                on,
                precision,
                PoolSettings(
                    workers=s.workers,
                    gpus_per_worker=s.gpus_per_worker,
                    lines_in_flight=DubOptions.batch_size,  # the dub's render chunk
                ),
            )
        return self.pools[key]

    def named(self, name: str) -> ClusterFactory:
        view = ClusterFactory(self.settings, name, self.pools)
        view.joined = self.joined
        return view

    def summary(self) -> list[str]:
        """What the driver prints after the run: workers, GPUs, lines per worker."""
        s = self.settings
        out = []
        for pool in self.pools.values():
            per = ", ".join(f"{node}: {n}" for node, n in pool.lines_per_worker())
            gpus = s.gpus_per_worker * s.workers
            text = (
                f"ran on Ray ({self.joined}) with {s.workers} workers, {gpus:g} GPU(s); "
                f"{pool.name} lines per worker: {per}"
            )
            if pool.stats.died:
                text += f"; {len(pool.stats.died)} worker(s) died, {pool.stats.resubmitted} "
                text += "line(s) moved to others"
            out.append(text)
        return out

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()
        if self.joined not in (None, ALREADY_JOINED):  # a runtime someone else joined stays
            disconnect()
            self.joined = None


# --- the desk's "Render on" (Settings) ----------------------------------------------------------


@dataclass(frozen=True)
class RenderOn:
    """Where the desk renders its lines: this computer, or a Ray cluster's workers."""

    cluster: bool = False
    address: str = "local"
    workers: int = 2

    def cluster_settings(self) -> ClusterSettings:
        return ClusterSettings(self.address.strip(), self.workers)


def render_on_problem(choice: RenderOn, *, reach: bool = True) -> str | None:
    """Why the cluster cannot be used as chosen (None: it can, or this computer is chosen):
    Ray not installed, an address that is none, or (`reach`) nothing answering there. Only
    looks: no runtime starts and no cluster is joined."""
    if not choice.cluster:
        return None
    if not ray_available():
        return INSTALL_HINT
    try:
        address = check_address(choice.cluster_settings().address)
        if reach and address not in ("local", "auto"):
            probe(address, timeout_s=5.0)
    except (ClusterError, ValueError) as exc:
        return str(exc).replace("--cluster ", "the address ").replace("--workers", "workers")
    if address == "auto" and not os.environ.get("RAY_ADDRESS"):
        return "the address auto needs RAY_ADDRESS (e.g. ray://head:10001) to be set"
    return None


def render_on_factory(choice: RenderOn, here: EngineFactory | None = None) -> EngineFactory:
    """The engine factory for `choice`: `here` (this computer's, the default when None), or
    a ClusterFactory that joins the cluster at the first dub (nothing starts before). Ask
    render_on_problem first: a choice it refuses raises ClusterError here."""
    if not choice.cluster:
        return here or default_engine_factory
    problem = render_on_problem(choice, reach=False)
    if problem:
        raise ClusterError(problem)
    factory = ClusterFactory(choice.cluster_settings())
    factory.render_on = choice
    return factory


def engines_for(
    engines: EngineCache, choice: RenderOn, here: EngineFactory | None = None, *, busy: bool
) -> EngineCache:
    """The desk's engines after `choice`: `engines` itself when the choice changes nothing
    (the loaded engines stay), else a new cache on `here` (this computer's) or on a cluster
    pool that joins at the next dub. The old cluster's workers are let go unless dubs still
    run on them (`busy`: they end with the desk)."""
    old = engines.factory
    was_cluster = isinstance(old, ClusterFactory)
    if not choice.cluster and not was_cluster:
        return engines
    if choice.cluster and was_cluster and old.render_on == choice:
        return engines
    new = EngineCache(render_on_factory(choice, here))
    if was_cluster and not busy:
        old.close()
    return new


def release_engines(engines: EngineCache) -> None:
    """The desk is closing: a cluster's workers are let go now, not at the process's exit."""
    if isinstance(engines.factory, ClusterFactory):
        engines.factory.close()
