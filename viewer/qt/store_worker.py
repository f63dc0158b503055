"""The viewer's store thread: the reader's writes (reviews, notes, archiving, overrides, claims, the
audit trail) run on it one at a time, in the order asked, never on the GUI thread; each answer comes
back as a queued Qt signal.

A call the team store's server could not take because it could not be reached is kept, with every
call after it, and asked again every few seconds until the server answers (:attr:`serverLost` once,
then :attr:`serverBack`): nothing the reader did is lost while the window stays open.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from inference.store import Store, StoreError, server_unreachable
from viewer.qt.workers import FunctionWorker, WorkerPool

log = logging.getLogger(__name__)
RETRY_MS = 2000


@dataclass
class _Call:
    work: Callable[[Store], Any]
    done: Callable[[Any], None] | None
    failed: Callable[[Exception], None] | None


class StoreWorker(QObject):
    """Runs calls on ``store`` on one thread of its own, in order; see the module's notes."""

    serverLost = Signal(str)  # noqa: N815  why: the first call the server could not take
    serverBack = Signal()  # noqa: N815  the kept calls are being written

    def __init__(self, store: Store, parent: QObject | None = None, retry_ms: int = RETRY_MS) -> None:
        super().__init__(parent)
        self._store = store
        self._pool = WorkerPool(max_threads=1)
        self._calls: deque[_Call] = deque()
        self._running: FunctionWorker | None = None
        self._lost = False
        self._closed = False
        self._retry = QTimer(self, singleShot=True, interval=retry_ms)
        self._retry.timeout.connect(self._run_next)

    @property
    def lost(self) -> bool:
        """The server could not be reached at the last try: calls are being kept."""
        return self._lost

    @property
    def pending(self) -> int:
        """Calls asked and not yet answered (kept ones included)."""
        return len(self._calls)

    def submit(
        self,
        work: Callable[[Store], Any],
        done: Callable[[Any], None] | None = None,
        failed: Callable[[Exception], None] | None = None,
    ) -> None:
        """Run ``work(store)`` on the store thread after every call asked before; ``done(result)`` or
        ``failed(exception)`` follow on the GUI thread (a refusal, never an unreachable server)."""
        if self._closed:
            return
        self._calls.append(_Call(work, done, failed))
        if self._running is None and not self._retry.isActive():
            self._run_next()

    @Slot()
    def _run_next(self) -> None:
        if self._closed or self._running is not None or not self._calls:
            return
        worker = FunctionWorker(self._calls[0].work, self._store)
        worker.signals.returned.connect(self._on_returned)
        worker.signals.errored.connect(self._on_errored)
        self._running = worker
        self._pool.start(worker)

    @Slot(object)
    def _on_returned(self, result: object) -> None:
        self._running = None
        if self._closed:
            return
        call = self._calls.popleft()
        if self._lost:
            self._lost = False
            log.info("the team store answers again: %d kept call(s) to write", len(self._calls) + 1)
            self.serverBack.emit()
        try:
            if call.done is not None:
                call.done(result)
        finally:  # a failing answer must not hold up the calls after it
            self._run_next()

    @Slot(object)
    def _on_errored(self, exc: Exception) -> None:
        self._running = None
        if self._closed:
            return
        if server_unreachable(exc):
            if not self._lost:
                self._lost = True
                log.warning("the team store cannot be reached: keeping the reader's changes")
                self.serverLost.emit(str(exc))
            self._retry.start()
            return
        call = self._calls.popleft()
        try:
            if call.failed is not None:
                call.failed(exc)
        finally:
            self._run_next()

    def close(self, timeout_ms: int = 10_000) -> int:
        """Write what is still asked (unless the server is away), then close the store, on the store
        thread; returns how many calls could not be written."""
        self._closed = True
        self._retry.stop()
        self._pool.pool.waitForDone(timeout_ms)  # the call in flight: its answer will not be taken
        if self._running is not None and self._calls:
            self._calls.popleft()
            self._running = None
        calls = [] if self._lost else [call.work for call in self._calls]
        unwritten = len(self._calls) - len(calls)
        self._calls.clear()
        self._pool.start(FunctionWorker(_last_calls, self._store, calls))
        self._pool.pool.waitForDone(timeout_ms)
        if unwritten:
            log.warning("the team store could not be reached: %d change(s) not written", unwritten)
        return unwritten


def _last_calls(store: Store, calls: list[Callable[[Store], Any]]) -> None:
    try:
        for work in calls:
            try:
                work(store)
            except (StoreError, KeyError) as exc:
                log.warning("a store call at closing failed: %s", type(exc).__name__)
    finally:
        store.close()
