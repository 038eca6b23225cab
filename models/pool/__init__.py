"""A pool of remote engines on a Ray cluster, behind the engine contract (models/contract.py).

Ray is an optional extra (`pip install "dubsmith[cluster]"`): nothing here imports it until a
pool is started, so the rest of models/ never needs it."""

from models.pool.connect import ClusterError, RayMissing, connect, ray_available
from models.pool.remote import PoolSettings, RemotePool, WorkerModelsMissing

__all__ = [
    "ClusterError",
    "PoolSettings",
    "RayMissing",
    "RemotePool",
    "WorkerModelsMissing",
    "connect",
    "ray_available",
]
