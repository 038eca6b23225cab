"""The command line's --cluster flags: render a dub or a batch on a Ray cluster."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from app.cli.codes import EXIT_USAGE


def add_cluster_flags(d: argparse.ArgumentParser) -> None:
    d.add_argument(
        "--cluster",
        metavar="ADDRESS",
        default=None,
        help="render the lines on a Ray cluster: ray://HOST:PORT, HOST:PORT, auto (RAY_ADDRESS) "
        "or local (a Ray runtime on this machine); needs dubsmith[cluster]",
    )
    d.add_argument("--workers", type=int, default=2, help="Ray workers (one engine each)")
    d.add_argument(
        "--gpus-per-worker", type=float, default=0.0, help="GPUs per Ray worker (0: CPUs)"
    )


def run_on_cluster(args, run: Callable[[object], int]) -> int:
    """Join the cluster (a wrong address or a missing Ray fails here, before any work), run
    the command with the cluster's engine factory, then say where it ran."""
    from models.pool import ClusterError, ray_available
    from models.pool.connect import INSTALL_HINT

    if not ray_available():
        print(f"error: {INSTALL_HINT}", file=sys.stderr)
        return EXIT_USAGE
    from core.job.cluster import ClusterFactory, ClusterSettings

    try:
        factory = ClusterFactory(ClusterSettings(args.cluster, args.workers, args.gpus_per_worker))
        joined = factory.connect()
    except (ClusterError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"joined {joined}; starting {args.workers} Ray worker(s)", file=sys.stderr)
    try:
        code = run(factory)
        for line in factory.summary():
            print(line)
        return code
    finally:
        factory.close()
