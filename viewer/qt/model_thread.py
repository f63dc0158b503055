"""The Qt face of :class:`inference.runtime.engine.Engine`: engine events and futures become queued signals.

The engine owns the model on its own thread; this adapter only translates. Signals are emitted
from the engine's thread and reach GUI-thread slots queued, carrying dataclasses and copied arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from inference.api import Heatmap, ScanEntry, XRayImage
from inference.runtime.engine import (
    BatchStarted,
    Engine,
    Event,
    Loader,
    ModelFailed,
    ModelInfo,
    ModelLoaded,
    Scorer,
    ScoringFinished,
    ScoringStarted,
    StudyScored,
)
from inference.store import Store

__all__ = ["Loader", "ModelInfo", "ModelThread", "ModelThreadSignals", "Scorer"]


class ModelThreadSignals(QObject):
    loaded = Signal(object)  # ModelInfo
    loadFailed = Signal(str)  # noqa: N815 (Qt signal naming)
    scoringStarted = Signal(int, int)  # noqa: N815  job id, studies
    batchStarted = Signal(int, list)  # noqa: N815  job id, study uids being predicted
    scored = Signal(int, object)  # job id, StudyResult
    scoringFinished = Signal(int, bool, str)  # noqa: N815  job id, cancelled, error ('' if none)
    explained = Signal(object, object)  # key, Heatmap (values copied)
    explainFailed = Signal(object, str)  # noqa: N815  key, reason
    taskFinished = Signal(object, object, str)  # noqa: N815  key, result, error ('' if none)


class ModelThread:
    """An :class:`Engine` whose events and results arrive as :class:`ModelThreadSignals`."""

    def __init__(
        self,
        loader: Loader | None = None,
        scorer: Scorer | None = None,
        batch_size: int = 8,
        store: Store | None = None,
    ) -> None:
        self.signals = ModelThreadSignals()
        self.engine = Engine(self._relay, loader=loader, scorer=scorer, store=store, batch_size=batch_size)

    def _relay(self, event: Event) -> None:
        s = self.signals
        match event:
            case ModelLoaded(info):
                s.loaded.emit(info)
            case ModelFailed(reason):
                s.loadFailed.emit(reason)
            case ScoringStarted(job, studies):
                s.scoringStarted.emit(job, studies)
            case BatchStarted(job, uids):
                s.batchStarted.emit(job, uids)
            case StudyScored(job, result):
                s.scored.emit(job, result)
            case ScoringFinished(job, cancelled, error, _counts):
                s.scoringFinished.emit(job, cancelled, error)

    # -- the GUI's API -----------------------------------------------------------------------------
    def load(self, package: Path, device: str = "auto") -> None:
        self.engine.load(package, device)

    def score(self, entries: Sequence[ScanEntry], studies: int) -> int:
        """Start scoring ``entries`` (replacing any running job); returns the job id."""
        return self.engine.score(entries, studies).id

    def cancel_scoring(self) -> None:
        self.engine.cancel_scoring()

    def explain(self, key: object, image: XRayImage, label: str) -> None:
        """Grad-CAM of ``label`` on ``image``; replaces any request not yet started."""
        self.engine.explain(image, label).add_done_callback(lambda f: self._explained(key, f))

    def _explained(self, key: object, future: Future[Heatmap]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self.signals.explained.emit(key, future.result())
        else:
            self.signals.explainFailed.emit(key, _reason(error))

    def run_task(self, key: object, func: Callable[[Any], Any]) -> None:
        """Run ``func(service)`` on the model thread (e.g. a checkpoint import); see taskFinished."""
        self.engine.run_task(func).add_done_callback(lambda f: self._task_done(key, f))

    def _task_done(self, key: object, future: Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        result = None if error else future.result()
        self.signals.taskFinished.emit(key, result, _reason(error) if error else "")

    @property
    def busy_scoring(self) -> bool:
        return self.engine.busy_scoring

    @property
    def owner_ident(self) -> int | None:
        return self.engine.owner_ident

    @property
    def _thread(self) -> Any:  # tests check that shutdown joined it
        return self.engine._thread

    def shutdown(self, timeout: float = 30.0) -> bool:
        return self.engine.shutdown(timeout)


def _reason(error: BaseException) -> str:
    return str(error) if isinstance(error, RuntimeError) else f"{type(error).__name__}: {error}"
