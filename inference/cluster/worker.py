"""The scorer a Ray actor runs: one model package loaded once, batches of files in, results out.

Only paths go to a worker and only :class:`ImageResult` rows come back; the weights are read from
the package on the worker's own disk and must match the sha256 the driver read from the card.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ray

from inference.api import PreparedImage
from inference.runtime.network_input import prepare_image
from inference.runtime.scoring import image_result, predict_each
from inference.runtime.service import load_service
from inference.store import ImageResult

PRECISION = "fp32"  # every worker alike, so a result never depends on which worker scored it


class WeightsMismatch(RuntimeError):
    """The package a worker found is not the one the driver asked for."""


@dataclass(frozen=True)
class ScoredBatch:
    """One batch's outcome, in the order of its items, and where it was scored."""

    results: tuple[ImageResult, ...]
    node_id: str
    worker_pid: int
    precision: str
    device: str


class Scorer:
    """Decode, prepare and score batches with one model package (held by one Ray actor)."""

    def __init__(
        self, package: str, weights_sha256: str, device: str = "auto", backend: str = "auto"
    ) -> None:
        self._service = load_service(Path(package), device, precision=PRECISION, backend=backend)
        found = self._service.card.weights_sha256
        if found != weights_sha256:
            raise WeightsMismatch(
                f"the model package {package} on this node has weights {found[:12]}…, "
                f"the driver's card names {weights_sha256[:12]}…"
            )

    def where(self) -> tuple[str, int]:
        """This worker's Ray node id and process id."""
        return ray.get_runtime_context().get_node_id(), os.getpid()

    def score(self, items: Sequence[tuple[str, str]]) -> ScoredBatch:
        """Results of ``items`` (image UID, path): a file that cannot be read or scored is an error row."""
        prepared = [(uid, prepare_image(Path(path), self._service)) for uid, path in items]
        scores = iter(predict_each(self._service, [p for _, p in prepared if isinstance(p, PreparedImage)]))
        gate = self._service.gate
        results = tuple(image_result(uid, item, scores, gate) for uid, item in prepared)
        node, pid = self.where()
        return ScoredBatch(results, node, pid, self._service.precision, self._service.device)
