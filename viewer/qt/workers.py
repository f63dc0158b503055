"""superqt-style workers: a ``QRunnable`` whose signals live on a separate ``QObject``.

Signals are past tense (``started``, ``yielded``, ``returned``, ``errored``, ``finished``) and are
emitted from the pool thread; Qt queues them to receivers in the GUI thread. Cancel is
cooperative: :meth:`quit` sets a flag that generator workers check between items.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)  # the exception
    finished = Signal()


class _Worker(QRunnable):
    def __init__(self) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns the runnable; the pool must not delete it
        self.signals = WorkerSignals()
        self._quit = threading.Event()
        self._done = threading.Event()

    def quit(self) -> None:
        """Ask the worker to stop at its next check."""
        self._quit.set()

    @property
    def abort_requested(self) -> bool:
        return self._quit.is_set()

    @property
    def is_done(self) -> bool:
        return self._done.is_set()

    def run(self) -> None:
        self.signals.started.emit()
        try:
            result = self.work()
        except Exception as exc:  # delivered to the GUI thread, never raised in the pool
            log.warning("worker failed: %s", exc, exc_info=True)
            self.signals.errored.emit(exc)
        else:
            self.signals.returned.emit(result)
        finally:
            self._done.set()
            self.signals.finished.emit()

    def work(self) -> Any:
        raise NotImplementedError


class FunctionWorker(_Worker):
    """Runs ``func(*args, **kwargs)`` once; its value comes back through ``returned``."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._call = lambda: func(*args, **kwargs)

    def work(self) -> Any:
        return self._call()


class GeneratorWorker(_Worker):
    """Iterates ``func(*args, **kwargs)``, emitting ``yielded`` per item until exhausted or quit.

    ``func`` may accept a ``cancelled`` keyword (a zero-argument callable), passed when
    ``pass_cancelled`` is true, so that it can stop inside long steps too.
    """

    def __init__(
        self, func: Callable[..., Iterator[Any] | Generator[Any, None, Any]], *args: Any,
        pass_cancelled: bool = False, **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__()
        if pass_cancelled:
            kwargs["cancelled"] = self._quit.is_set
        self._make = lambda: func(*args, **kwargs)

    def work(self) -> Any:
        gen = self._make()
        try:
            while not self._quit.is_set():
                try:
                    item = next(gen)
                except StopIteration as stop:
                    return stop.value
                self.signals.yielded.emit(item)
        finally:
            close = getattr(gen, "close", None)
            if close is not None:
                close()
        return None


class WorkerPool:
    """A private ``QThreadPool`` that remembers its workers so that shutdown can cancel and wait."""

    def __init__(self, max_threads: int = 2) -> None:
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(max_threads)
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()

    def start(self, worker: _Worker) -> _Worker:
        with self._lock:
            self._workers = {w for w in self._workers if not w.is_done}
            self._workers.add(worker)
        self.pool.start(worker)
        return worker

    def active(self) -> list[_Worker]:
        with self._lock:
            return [w for w in self._workers if not w.is_done]

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel queued work, ask running workers to quit, and wait for the pool."""
        self.pool.clear()
        for worker in self.active():
            worker.quit()
        return self.pool.waitForDone(timeout_ms)
