"""Ray itself: joining or starting it, the distributed scan, and the pool of scorer actors."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ray

from inference.api import ScanEntry
from inference.cluster.scan import merge, plan_units, scan_unit
from inference.cluster.worker import Scorer

LOCAL = "local"
OBJECT_STORE_BYTES = 100 * 1024 * 1024  # a local Ray's shared memory: only paths and results travel
MAX_RESTARTS = 3  # a worker process that dies is started again this many times
MAX_TASK_RETRIES = 3  # and the batches it held are retried on it

_scan_unit = ray.remote(num_cpus=1)(scan_unit)


def connect(address: str, workers: int | None) -> int:
    """Start a local Ray (``address`` "local") or join the cluster at ``address``; returns how many
    workers to run: ``workers``, or one per CPU that Ray has."""
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address == LOCAL:
        ray.init(
            num_cpus=workers,
            include_dashboard=False,
            object_store_memory=OBJECT_STORE_BYTES,
            _node_ip_address="127.0.0.1",  # a local Ray listens on loopback only
            **quiet,
        )
    else:
        ray.init(address=address, **quiet)
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if workers is not None and workers > cpus:
        raise ValueError(f"--workers {workers} needs {workers} CPUs, the Ray cluster has {cpus}")
    return workers or cpus


def scan_entries(paths: Sequence[Path], exclude: Sequence[Path]) -> list[ScanEntry]:
    """``scan(paths)``, its folders read by Ray tasks in parallel (headers only)."""
    units = plan_units(paths, exclude)
    rows = ray.get([_scan_unit.remote(unit) for unit in units])
    return merge(paths, units, rows)


def start_scorers(
    package: Path, weights_sha256: str, device: str, workers: int, backend: str = "auto"
) -> tuple[list[Any], set[str]]:
    """``workers`` scorer actors, each with the package loaded; returns them and their node ids.
    A worker that cannot load the package raises :class:`ray.exceptions.RayError`."""
    actor = ray.remote(
        num_cpus=1,
        num_gpus=1 if device == "cuda" else 0,
        max_restarts=MAX_RESTARTS,
        max_task_retries=MAX_TASK_RETRIES,
    )(Scorer)
    scorers: list[Any] = [
        actor.remote(str(package.resolve()), weights_sha256, device, backend) for _ in range(workers)
    ]
    places = ray.get([s.where.remote() for s in scorers])
    return scorers, {node for node, _ in places}


def shutdown(scorers: Sequence[Any]) -> None:
    """Stop this run's workers and leave Ray (a local Ray stops; a cluster keeps running)."""
    for scorer in scorers:
        ray.kill(scorer)
    ray.shutdown()
