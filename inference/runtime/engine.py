"""The reading engine: one thread owns the model; loading, scoring and Grad-CAM all run on it, in turn.

The model service is not thread-safe, so every call on it happens on this thread. Work waits in a
priority queue: model loads first, then tasks (e.g. a checkpoint import), then the pending Grad-CAM
request (the reader is waiting for it), then one study of the current scoring job, so a heat map
never waits for a whole folder to score. Callers get futures; a listener gets events (dataclasses
and copied arrays) from the owner thread. The command line, the viewer (through a thin Qt adapter)
and batch or PACS code all use this one engine. Qt-free.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inference.api import (
    Heatmap,
    ImageMeta,
    ModelCard,
    Prediction,
    PreparedImage,
    ScanEntry,
    StudyResult,
    TriageService,
    XRayImage,
)
from inference.io import ReadError
from inference.runtime.heavy_import import collection_paused
from inference.runtime.network_input import prepare_image
from inference.runtime.scoring import RunCounts, score_studies
from inference.store import Store, StoreError

log = logging.getLogger(__name__)

Loader = Callable[[Path, str], TriageService]  # (package, device) -> service
Task = Callable[[TriageService | None], Any]  # run on the owner thread with the loaded service
Scorer = Callable[..., Iterator[StudyResult]]  # score_studies(entries, service, batch_size=, cancelled=, ...)


POLL_S = 0.5  # how often follow() looks up from an empty queue
BACKGROUND_NICENESS = 10  # the model thread's nice value above the caller's (Linux)


def run_below_normal_priority() -> None:
    """Lower the calling thread's scheduling priority (and so that of the threads it starts: torch's
    and the readers'), so that on a machine with few cores the thread that draws the GUI is not
    kept waiting for a core: `bench/gui_stalls.py` measured the longest stall while scoring at
    56-63 ms without it and 31-40 ms with it, the same scoring time. Linux only (a thread's nice value);
    elsewhere nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICENESS)
    except OSError as exc:  # a sandbox may forbid it: scoring works the same, the GUI may stall more
        log.info("could not lower the model thread's priority: %s", exc)


def default_loader(package: Path, device: str) -> TriageService:
    with collection_paused():  # other threads (the GUI) keep running: see inference.runtime.heavy_import
        from inference.runtime.service import load_service  # the runtime modules: off the viewer start-up

        return load_service(package, device=device)


def default_scorer(
    entries: Sequence[ScanEntry], service: TriageService, **kwargs: Any
) -> Iterator[StudyResult]:
    return score_studies(entries, service, **kwargs)


@dataclass(frozen=True)
class ModelInfo:
    """What a caller may hold of a loaded model: plain data, never the service itself."""

    package: Path
    card: ModelCard
    device: str
    precision: str
    backend: str  # the runtime that scores: torch, or onnx (ONNX Runtime on the CPU)


# -- events, delivered to the listener on the owner thread ------------------------------------------
@dataclass(frozen=True)
class ModelLoaded:
    info: ModelInfo


@dataclass(frozen=True)
class ModelFailed:
    reason: str


@dataclass(frozen=True)
class ScoringStarted:
    job: int
    studies: int


@dataclass(frozen=True)
class BatchStarted:
    job: int
    study_uids: list[str]


@dataclass(frozen=True)
class StudyScored:
    job: int
    result: StudyResult


@dataclass(frozen=True)
class ScoringFinished:
    job: int
    cancelled: bool
    error: str  # "" when none
    counts: RunCounts
    store_failed: bool = False  # the error: the store could not be read or written (a StoreError)


Event = ModelLoaded | ModelFailed | ScoringStarted | BatchStarted | StudyScored | ScoringFinished
Listener = Callable[[Event], None]


class _Observed:
    """The service, announcing which studies each ``predict`` batch covers."""

    def __init__(self, service: TriageService, announce: Callable[[list[str]], None]) -> None:
        self._service, self._announce = service, announce
        self.card, self.device, self.precision = service.card, service.device, service.precision
        self.backend, self.gate, self.prepare, self.explain = (
            service.backend, service.gate, service.prepare, service.explain
        )  # fmt: skip

    def predict(self, images: Sequence[XRayImage | PreparedImage]) -> list[Prediction]:
        self._announce(sorted({img.meta.study_uid or str(img.meta.path) for img in images}))
        return self._service.predict(images)


@dataclass
class ScoringJob:
    """One scoring run: ``done`` resolves to its :class:`RunCounts` when it ends (cancelled or not)."""

    id: int
    entries: list[ScanEntry]
    studies: int
    done: Future[RunCounts] = dataclasses.field(default_factory=Future)
    counts: RunCounts = dataclasses.field(default_factory=RunCounts)
    _cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    _results: Iterator[StudyResult] | None = None

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


def follow(
    job: ScoringJob,
    events: queue.Queue[Event],
    on_result: Callable[[StudyResult], None],
    idle_timeout: float | None = None,
) -> str:
    """:func:`follow_job`, returning why scoring failed ("" when it did not)."""
    finished = follow_job(job, events, on_result, idle_timeout)
    return finished.error if finished is not None else ""


def follow_job(
    job: ScoringJob,
    events: queue.Queue[Event],
    on_result: Callable[[StudyResult], None],
    idle_timeout: float | None = None,
) -> ScoringFinished | None:
    """Take the engine's events from ``events`` (the queue its listener fills), handing each study
    ``job`` scores to ``on_result``, until the job finishes (its ``ScoringFinished``) or
    ``idle_timeout`` seconds pass without an event (None). Waits in short steps, so that Ctrl+C and
    signals are seen while it waits."""
    while True:
        try:
            event = events.get(timeout=idle_timeout if idle_timeout is not None else POLL_S)
        except queue.Empty:
            if idle_timeout is not None:
                return None
            continue
        if isinstance(event, StudyScored) and event.job == job.id:
            on_result(event.result)
        elif isinstance(event, ScoringFinished) and event.job == job.id:
            return event


class Engine:
    """Owns the model service on one long-lived thread; every public method may be called from any thread."""

    def __init__(
        self,
        listener: Listener | None = None,
        *,
        loader: Loader | None = None,
        scorer: Scorer | None = None,
        store: Store | None = None,
        batch_size: int = 8,
    ) -> None:
        self._listener = listener or (lambda event: None)
        self._loader = loader or default_loader
        self._scorer = scorer or default_scorer
        self.store = store
        self._batch_size = batch_size
        self._cond = threading.Condition()
        self._loads: list[tuple[Path, str, Future[ModelInfo]]] = []
        self._tasks: list[tuple[Task, Future[Any]]] = []
        self._explain: tuple[ImageMeta, tuple[int, int], str, Future[Heatmap]] | None = None
        self._explained: tuple[tuple[Path, int, int] | None, PreparedImage] | None = None  # owner thread
        self._job: ScoringJob | None = None
        self._retired: list[ScoringJob] = []  # replaced or cancelled jobs still to close and report
        self._next_id = 0
        self._stopping = False
        self._service: TriageService | None = None
        self.info: ModelInfo | None = None
        self.owner_ident: int | None = None
        self._thread = threading.Thread(target=self._loop, name="cxr-model-owner", daemon=True)
        self._thread.start()

    # -- callers' API ------------------------------------------------------------------------------
    def load(self, package: Path, device: str = "auto") -> Future[ModelInfo]:
        future: Future[ModelInfo] = Future()
        with self._cond:
            self._loads.append((Path(package), device, future))
            self._cond.notify()
        return future

    def score(self, entries: Sequence[ScanEntry], studies: int) -> ScoringJob:
        """Start scoring ``entries`` (cancelling any running job)."""
        with self._cond:
            self._cancel_job_locked()
            self._next_id += 1
            job = ScoringJob(self._next_id, list(entries), studies)
            self._job = job
            self._cond.notify()
            return job

    def cancel_scoring(self) -> None:
        with self._cond:
            self._cancel_job_locked()
            self._cond.notify()

    def explain(self, image: XRayImage, label: str, replaceable: bool = True) -> Future[Heatmap]:
        """Grad-CAM of ``label`` over ``image`` (the image shown), made from the network input scoring
        takes from its file, so that it explains the input that was scored. A ``replaceable`` request
        (what the reader looks at) not yet started is replaced, and cancelled, by the next one; another
        (an annotated image being exported or sent) runs as a task and is never cancelled that way."""
        shape = (int(image.pixels.shape[0]), int(image.pixels.shape[1]))
        if not replaceable:
            return self.run_task(lambda _service: self._heatmap(image.meta, shape, label))
        future: Future[Heatmap] = Future()
        with self._cond:
            if self._explain is not None:
                self._explain[3].cancel()
            self._explain = (image.meta, shape, label, future)
            self._cond.notify()
        return future

    def run_task(self, func: Task) -> Future[Any]:
        """Run ``func(service)`` on the owner thread (e.g. a checkpoint import); the service is None
        while no model is loaded."""
        future: Future[Any] = Future()
        with self._cond:
            self._tasks.append((func, future))
            self._cond.notify()
        return future

    @property
    def busy_scoring(self) -> bool:
        with self._cond:
            return self._job is not None

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Cancel everything queued, let the current step finish, and join the thread."""
        with self._cond:
            self._stopping = True
            self._cancel_job_locked()
            for *_, future in self._loads:
                future.cancel()
            for _, future in self._tasks:
                future.cancel()
            if self._explain is not None:
                self._explain[3].cancel()
            self._loads.clear()
            self._tasks.clear()
            self._explain = None
            self._cond.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- owner thread ------------------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        try:
            self._listener(event)
        except Exception:  # a listener's bug must not stop the model
            log.exception("engine listener failed on %s", type(event).__name__)

    def _cancel_job_locked(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self._retired.append(self._job)
            self._job = None

    def _next_action(self) -> Callable[[], None] | None:
        """Under the lock: the highest-priority piece of work, or None to stop."""
        while not (
            self._stopping or self._retired or self._loads or self._tasks or self._explain or self._job
        ):
            self._cond.wait()
        if self._stopping:
            return None
        if self._retired:
            return functools.partial(self._finish, self._retired.pop(0))
        if self._loads:
            return functools.partial(self._do_load, *self._loads.pop(0))
        if self._tasks:
            return functools.partial(self._do_task, *self._tasks.pop(0))
        if self._explain:
            request, self._explain = self._explain, None
            return functools.partial(self._do_explain, *request)
        return self._step_job

    def _loop(self) -> None:
        self.owner_ident = threading.get_ident()
        run_below_normal_priority()
        while True:
            with self._cond:
                action = self._next_action()
            if action is None:
                break
            try:
                action()
            except Exception:  # the owner thread must survive anything a model does
                log.exception("model thread step failed")
        for job in self._retired:
            self._finish(job)

    def _do_load(self, package: Path, device: str, future: Future[ModelInfo]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            service = self._loader(package, device)
        except Exception as exc:
            log.warning("model load failed: %s", exc)
            reason = f"{type(exc).__name__}: {exc}"
            future.set_exception(exc)
            self._emit(ModelFailed(reason))
            return
        self._service = service
        self._explained = None  # prepared for the previous model
        self.info = ModelInfo(package, service.card, service.device, service.precision, service.backend)
        future.set_result(self.info)
        self._emit(ModelLoaded(self.info))

    def _do_task(self, func: Task, future: Future[Any]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(func(self._service))
        except Exception as exc:
            future.set_exception(exc)

    def _do_explain(
        self, meta: ImageMeta, shape: tuple[int, int], label: str, future: Future[Heatmap]
    ) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            heatmap = self._heatmap(meta, shape, label)
        except Exception as exc:
            log.warning("Grad-CAM failed: %s", exc)
            future.set_exception(exc)
            return
        future.set_result(heatmap)

    def _heatmap(self, meta: ImageMeta, shape: tuple[int, int], label: str) -> Heatmap:
        """The heat map of one request, its values the caller's own copy (owner thread)."""
        if self._service is None:
            raise RuntimeError("no model loaded")
        heatmap = self._service.explain(self._network_input(meta, self._service), label, shape)
        values = np.array(heatmap.values, dtype=np.float32, copy=True)
        return Heatmap(heatmap.label, values, heatmap.probability, heatmap.method)

    def _network_input(self, meta: ImageMeta, service: TriageService) -> PreparedImage:
        """The network input scoring takes from the image's file, kept for the file last explained
        (while its size and modification time stay the same): another finding costs no read."""
        try:
            stat = os.stat(meta.path)
            key: tuple[Path, int, int] | None = (meta.path, stat.st_size, stat.st_mtime_ns)
        except OSError:
            key = None  # the reader says why
        if key is None or self._explained is None or self._explained[0] != key:
            prepared = prepare_image(meta.path, service)
            if isinstance(prepared, str):
                raise ReadError(prepared)
            self._explained = (key, dataclasses.replace(prepared, meta=meta))
        return self._explained[1]

    def _step_job(self) -> None:
        with self._cond:
            job = self._job
        if job is None:
            return
        if job._results is None:
            if self._service is None:
                self._finish(job, error="no model loaded")
                return
            service = _Observed(self._service, lambda uids: self._emit(BatchStarted(job.id, uids)))
            job._results = iter(
                self._scorer(
                    job.entries, service, batch_size=self._batch_size, cancelled=job._cancel.is_set,
                    store=self.store, counts=job.counts,
                )
            )  # fmt: skip
            self._emit(ScoringStarted(job.id, job.studies))
        try:
            result = next(job._results)
        except StopIteration:
            self._finish(job)
            return
        except Exception as exc:
            log.warning("scoring failed: %s", exc)
            self._finish(job, error=f"{type(exc).__name__}: {exc}", store_failed=isinstance(exc, StoreError))
            return
        self._emit(StudyScored(job.id, result))

    def _finish(self, job: ScoringJob, error: str = "", store_failed: bool = False) -> None:
        close = getattr(job._results, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.exception("closing the scoring generator failed")
        with self._cond:
            if self._job is job:
                self._job = None
        if not job.done.done():
            job.done.set_result(job.counts)
        self._emit(ScoringFinished(job.id, job.cancelled, error, job.counts, store_failed))
