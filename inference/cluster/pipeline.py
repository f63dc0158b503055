"""The driver's loop: batches of planned images onto the scorer pool, results into the store.

At most ``IN_FLIGHT_PER_WORKER`` batches wait on each worker (back-pressure: the driver never reads
ahead of what the pool can take, and pixels are decoded only on workers). Each batch that comes back
is committed to the store at once, by the driver alone. A worker that dies is restarted by Ray and
its batch retried there; a batch that still fails is split into single images, and an image that
fails alone becomes an error row, so one poisonous file cannot sink the run.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import ActorDiedError, RayError

from inference.api import Status, StudyResult
from inference.cluster.worker import ScoredBatch
from inference.store import ImageResult, Store
from inference.worklist.studies import RunCounts, StudyImages

IN_FLIGHT_PER_WORKER = 2  # one batch being scored, one waiting: the worker never idles on the driver


class ClusterError(RuntimeError):
    """The run cannot go on (every worker died); a plain message."""


@dataclass(frozen=True)
class Item:
    """One image to score and the study member its result belongs to."""

    study: StudyImages
    index: int  # member index in the study
    uid: str
    path: str


@dataclass(frozen=True)
class Batch:
    items: tuple[Item, ...]


OnBatch = Callable[[int, Sequence[StudyResult]], None]  # images done, studies finished by this batch


class ClusterScoring:
    """Score the ``todo`` images of ``studies`` on ``scorers`` (Ray actor handles of
    :class:`~inference.cluster.worker.Scorer`), committing each batch to ``store``."""

    def __init__(
        self,
        studies: Sequence[StudyImages],
        scorers: Sequence[Any],
        store: Store,
        weights_sha256: str,
        preprocessing: str,
        *,
        batch_size: int,
        counts: RunCounts,
        on_batch: OnBatch | None = None,
    ) -> None:
        self._scorers = dict(enumerate(scorers))
        self._load = dict.fromkeys(self._scorers, 0)
        self._store, self._weights, self._preprocessing = store, weights_sha256, preprocessing
        self._counts, self.on_batch = counts, on_batch
        self._queue: deque[Batch] = deque(_batches(studies, batch_size))
        self._pending: dict[Any, tuple[int, Batch]] = {}  # object ref -> (scorer, batch)
        self._remaining = {id(s): len(s.todo) for s in studies}
        self.finished = [s.result() for s in studies if not s.todo]
        self.nodes: set[str] = set()  # Ray node ids that returned results
        self.to_score = sum(len(b.items) for b in self._queue)
        self._stopped = False

    def run(self, timeout: float | None = None) -> None:
        """Submit and collect until every batch is back (or, after :meth:`stop`, until the batches
        in flight are back or ``timeout`` seconds pass without one)."""
        self._fill()
        while self._pending:
            ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=timeout)
            if not ready:
                return
            self._collect(ready[0])
            self._fill()

    def stop(self) -> None:
        """Submit nothing more; what is in flight still lands in the store when :meth:`run` drains it."""
        self._stopped = True

    def _fill(self) -> None:
        while self._queue and not self._stopped:
            scorer = min(self._load, key=self._load.__getitem__, default=None)
            if scorer is None:
                raise ClusterError("every worker died; see the Ray logs of the nodes")
            if self._load[scorer] >= IN_FLIGHT_PER_WORKER:
                return
            batch = self._queue.popleft()
            ref = self._scorers[scorer].score.remote([(item.uid, item.path) for item in batch.items])
            self._pending[ref] = (scorer, batch)
            self._load[scorer] += 1

    def _collect(self, ref: Any) -> None:
        scorer, batch = self._pending.pop(ref)
        self._load[scorer] -= 1
        try:
            scored: ScoredBatch = ray.get(ref)
        except ActorDiedError as exc:  # restarts used up: the worker is gone for good
            del self._load[scorer], self._scorers[scorer]
            self._retry(batch, exc)
        except RayError as exc:  # the worker crashed on this batch, retries used up
            self._retry(batch, exc)
        else:
            self._apply(batch, scored.results, precision=scored.precision, device=scored.device)
            self.nodes.add(scored.node_id)

    def _retry(self, batch: Batch, exc: RayError) -> None:
        """A failed batch is retried image by image; an image that fails alone is an error row."""
        if len(batch.items) > 1:
            self._queue.extendleft(Batch((item,)) for item in reversed(batch.items))
            return
        reason = f"a worker failed while scoring this image ({type(exc).__name__})"
        self._apply(batch, [ImageResult(batch.items[0].uid, Status.ERROR, reason=reason)])

    def _apply(
        self, batch: Batch, results: Sequence[ImageResult], precision: str = "", device: str = ""
    ) -> None:
        """Commit one batch (each result with the fingerprint of the content its scan found), then fill
        in its studies; studies with nothing left are finished."""
        results = [
            dataclasses.replace(result, fingerprint=item.study.members[item.index].meta.fingerprint)
            for item, result in zip(batch.items, results, strict=True)
        ]
        results = self._store.save_results(
            results, self._weights, preprocessing=self._preprocessing, precision=precision, device=device
        )
        done: list[StudyResult] = []
        for item, result in zip(batch.items, results, strict=True):
            item.study.outcomes[item.index] = result
            self._counts.scored += result.status is Status.SCORED
            self._counts.errors += result.status is Status.ERROR
            self._remaining[id(item.study)] -= 1
            if not self._remaining[id(item.study)]:
                done.append(item.study.result())
        self.finished += done
        if self.on_batch is not None:
            self.on_batch(len(results), done)


def _batches(studies: Iterable[StudyImages], size: int) -> list[Batch]:
    """The images still to score, in study order, cut into batches of ``size``."""
    items = [
        Item(study, index, uid, str(study.members[index].meta.path))
        for study in studies
        for index, uid in study.todo
    ]
    return [Batch(tuple(items[i : i + size])) for i in range(0, len(items), size)]
