"""Rendering on a Ray cluster: an engine factory whose engines are pools of remote engines
(models/pool). The dub and the batch take it where they take a local factory; nothing else
in core/ knows the lines render elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.engines import RegistryFactory
from core.options import DubOptions
from models.contract import Engine
from models.pool import PoolSettings, RemotePool, connect
from models.pool.connect import ALREADY_JOINED, check_address, disconnect
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
