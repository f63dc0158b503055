"""The one thread that owns the model: loading, scoring and Grad-CAM all run on it, in turn.

The model service is not thread-safe, so every call on it happens on this thread. Work is taken
in priority order: model loads, then the pending Grad-CAM request (the reader is waiting for it),
then one step of the current scoring job, so a heat map never waits for a whole folder to score.
Results leave as queued Qt signals carrying dataclasses and copied arrays.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from inference.api import Heatmap, ModelCard, Prediction, ScanEntry, StudyResult, XRayImage

log = logging.getLogger(__name__)

Loader = Callable[[Path, str], Any]  # (package, device) -> service
Scorer = Callable[..., Iterator[StudyResult]]  # score_studies(entries, service, batch_size=, cancelled=)


def default_loader(package: Path, device: str) -> Any:
    from inference.service import load_service  # imports torch: only ever on the model thread

    return load_service(package, device=device)


def default_scorer(entries: Sequence[ScanEntry], service: Any, **kwargs: Any) -> Iterator[StudyResult]:
    from inference.triage import score_studies

    return score_studies(entries, service, **kwargs)


@dataclass(frozen=True)
class ModelInfo:
    """What the GUI may hold of a loaded model: plain data, never the service itself."""

    package: Path
    card: ModelCard
    device: str
    precision: str


class _Observed:
    """Wraps the service to announce which studies a ``predict`` batch covers."""

    def __init__(self, service: Any, announce: Callable[[list[str]], None]) -> None:
        self._service, self._announce = service, announce

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def predict(self, images: Sequence[XRayImage]) -> list[Prediction]:
        self._announce(sorted({img.meta.study_uid or str(img.meta.path) for img in images}))
        return self._service.predict(images)


@dataclass
class _Job:
    id: int
    entries: list[ScanEntry]
    total: int
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    gen: Iterator[StudyResult] | None = None
    done: int = 0


class ModelThreadSignals(QObject):
    loaded = Signal(object)  # ModelInfo
    loadFailed = Signal(str)  # noqa: N815 (Qt signal naming)
    infoChanged = Signal(object)  # noqa: N815  ModelInfo, e.g. once the precision is settled
    scoringStarted = Signal(int, int)  # noqa: N815  job id, studies
    batchStarted = Signal(int, list)  # noqa: N815  job id, study uids being predicted
    scored = Signal(int, object)  # job id, StudyResult
    scoringFinished = Signal(int, bool, str)  # noqa: N815  job id, cancelled, error ('' if none)
    explained = Signal(object, object)  # key, Heatmap (values copied)
    explainFailed = Signal(object, str)  # noqa: N815  key, reason
    taskFinished = Signal(object, object, str)  # noqa: N815  key, result, error ('' if none)


class ModelThread:
    """Owns the service on a single long-lived thread; the public methods are called from the GUI."""

    def __init__(
        self, loader: Loader | None = None, scorer: Scorer | None = None, batch_size: int = 8
    ) -> None:
        self.signals = ModelThreadSignals()
        self._loader = loader or default_loader
        self._scorer = scorer or default_scorer
        self._batch_size = batch_size
        self._cond = threading.Condition()
        self._loads: list[tuple[Path, str]] = []
        self._tasks: list[tuple[object, Callable[[Any], Any]]] = []
        self._explain: tuple[object, XRayImage, str] | None = None
        self._job: _Job | None = None
        self._retired: list[_Job] = []  # replaced or cancelled jobs still to close and report
        self._next_id = 0
        self._stopping = False
        self._service: Any = None
        self.owner_ident: int | None = None
        self._thread = threading.Thread(target=self._loop, name="cxr-model-owner", daemon=True)
        self._thread.start()

    # -- GUI-side API ---------------------------------------------------------------------------
    def load(self, package: Path, device: str = "auto") -> None:
        with self._cond:
            self._loads.append((Path(package), device))
            self._cond.notify()

    def score(self, entries: Sequence[ScanEntry], studies: int) -> int:
        """Start scoring ``entries`` (replacing any running job); returns the job id."""
        with self._cond:
            self._cancel_job_locked()
            self._next_id += 1
            self._job = _Job(self._next_id, list(entries), studies)
            self._cond.notify()
            return self._next_id

    def cancel_scoring(self) -> None:
        with self._cond:
            self._cancel_job_locked()
            self._cond.notify()

    def explain(self, key: object, image: XRayImage, label: str) -> None:
        """Grad-CAM of ``label`` on ``image``; replaces any request not yet started."""
        pixels = np.array(image.pixels, copy=True)  # the GUI keeps its own array
        with self._cond:
            self._explain = (key, dataclasses.replace(image, pixels=pixels), label)
            self._cond.notify()

    def run_task(self, key: object, func: Callable[[Any], Any]) -> None:
        """Run ``func(service)`` on the model thread (e.g. a checkpoint import); see taskFinished."""
        with self._cond:
            self._tasks.append((key, func))
            self._cond.notify()

    @property
    def busy_scoring(self) -> bool:
        with self._cond:
            return self._job is not None

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Cancel everything queued, let the current step finish, and join the thread."""
        with self._cond:
            self._stopping = True
            self._cancel_job_locked()
            self._loads.clear()
            self._tasks.clear()
            self._explain = None
            self._cond.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- owner thread ---------------------------------------------------------------------------
    def _cancel_job_locked(self) -> None:
        if self._job is not None:
            self._job.cancel.set()
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
            return functools.partial(self._finish, self._retired.pop(0), True)
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
            self._finish(job, cancelled=True)

    def _do_load(self, package: Path, device: str) -> None:
        try:
            service = self._loader(package, device)
        except Exception as exc:
            log.warning("model load failed: %s", exc)
            self.signals.loadFailed.emit(f"{type(exc).__name__}: {exc}")
            return
        self._service = service
        self._info = ModelInfo(package, service.card, str(service.device), str(service.precision))
        self.signals.loaded.emit(self._info)

    def _check_info(self) -> None:
        """The service may settle device or precision on its first batch; tell the GUI."""
        info = getattr(self, "_info", None)
        if info is None or self._service is None:
            return
        device, precision = str(self._service.device), str(self._service.precision)
        if (device, precision) != (info.device, info.precision):
            self._info = dataclasses.replace(info, device=device, precision=precision)
            self.signals.infoChanged.emit(self._info)

    def _do_task(self, key: object, func: Callable[[Any], Any]) -> None:
        try:
            result = func(self._service)
        except Exception as exc:
            self.signals.taskFinished.emit(key, None, f"{type(exc).__name__}: {exc}")
        else:
            self.signals.taskFinished.emit(key, result, "")

    def _do_explain(self, key: object, image: XRayImage, label: str) -> None:
        if self._service is None:
            self.signals.explainFailed.emit(key, "no model loaded")
            return
        try:
            heatmap = self._service.explain(image, label)
        except Exception as exc:
            log.warning("Grad-CAM failed: %s", exc)
            self.signals.explainFailed.emit(key, f"{type(exc).__name__}: {exc}")
            return
        values = np.array(heatmap.values, dtype=np.float32, copy=True)
        self.signals.explained.emit(key, Heatmap(heatmap.label, values, heatmap.probability, heatmap.method))

    def _step_job(self) -> None:
        with self._cond:
            job = self._job
        if job is None:
            return
        if job.gen is None:
            if self._service is None:
                self._finish(job, cancelled=False, error="no model loaded")
                return
            service = _Observed(self._service, lambda uids: self.signals.batchStarted.emit(job.id, uids))
            job.gen = iter(
                self._scorer(job.entries, service, batch_size=self._batch_size, cancelled=job.cancel.is_set)
            )
            self.signals.scoringStarted.emit(job.id, job.total)
        try:
            result = next(job.gen)
        except StopIteration:
            self._finish(job, cancelled=job.cancel.is_set())
            return
        except Exception as exc:
            log.warning("scoring failed: %s", exc)
            self._finish(job, cancelled=False, error=f"{type(exc).__name__}: {exc}")
            return
        job.done += 1
        self.signals.scored.emit(job.id, result)
        self._check_info()

    def _finish(self, job: _Job, cancelled: bool, error: str = "") -> None:
        close = getattr(job.gen, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.exception("closing the scoring generator failed")
        with self._cond:
            if self._job is job:
                self._job = None
        self.signals.scoringFinished.emit(job.id, cancelled, error)
