"""Joining a Ray cluster (or starting a local Ray runtime) for the remote engine pool."""

from __future__ import annotations

import importlib.util
import os
import re
import socket

INSTALL_HINT = (
    "rendering on a Ray cluster needs Ray, which is not installed: "
    'pip install "dubsmith[cluster]" (or pip install "ray==2.60.*")'
)

# host:port, or ray://host:port for Ray Client; host a name or an IPv4/IPv6 address.
_ADDRESS = re.compile(r"^(ray://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


ALREADY_JOINED = "the Ray runtime this process had already joined"


class ClusterError(RuntimeError):
    """The cluster cannot be reached or cannot run the pool; the message says why."""


class RayMissing(ClusterError):
    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


def ray_available() -> bool:
    return importlib.util.find_spec("ray") is not None


def check_address(address: str) -> str:
    """The address as Ray takes it: `local` (None: start a runtime here), `auto` (RAY_ADDRESS
    or a cluster started on this machine), host:port or ray://host:port."""
    address = address.strip()
    if address in ("local", "auto"):
        return address
    match = _ADDRESS.match(address)
    if not match or not 0 < int(match.group(3)) < 65536:
        raise ClusterError(
            f"--cluster {address!r} is not a cluster address: give ray://HOST:PORT (Ray Client, "
            "port 10001 by default), HOST:PORT (the head's GCS port, 6379 by default), "
            "auto (RAY_ADDRESS) or local (a Ray runtime on this machine)"
        )
    return address


def connect(address: str, num_cpus: int | None = None, timeout_s: float = 30.0) -> str:
    """Join the cluster at `address` (see check_address); `num_cpus` caps a local runtime.
    Returns how it was joined, in words. Usage statistics stay off and no dashboard starts:
    the product sends nothing anywhere."""
    address = check_address(address)
    if not ray_available():
        raise RayMissing()
    # Read by ray when it starts its processes: no usage report leaves this machine.
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if address == "auto" and not os.environ.get("RAY_ADDRESS"):
        raise ClusterError("--cluster auto needs RAY_ADDRESS (e.g. ray://head:10001) to be set")
    if address not in ("local", "auto"):
        probe(address, timeout_s)
    import ray

    if ray.is_initialized():
        return ALREADY_JOINED
    kwargs: dict = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    if address == "local":
        kwargs["num_cpus"] = num_cpus
    else:
        kwargs["address"] = address
        if address.startswith("ray://"):
            kwargs = {"logging_level": "ERROR"}  # Ray Client takes no runtime options
            kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except Exception as exc:  # ConnectionError, TimeoutError, RuntimeError from ray
        try:
            ray.shutdown()
        except Exception:  # noqa: BLE001 - nothing to shut down
            pass
        raise ClusterError(f"cannot join the Ray cluster at {address}: {exc}") from exc
    return "a local Ray runtime" if address == "local" else f"the Ray cluster at {address}"


def probe(address: str, timeout_s: float) -> None:
    """Ray waits on an address nobody answers for a long while (minutes for a GCS): a port
    that nothing listens on is said at once."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=min(timeout_s, 10)):
            pass
    except OSError as exc:
        raise ClusterError(
            f"cannot join the Ray cluster at {address}: nothing answers there ({exc}); "
            "is `ray start --head` running on that machine, and is the port open?"
        ) from exc


def disconnect() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()
