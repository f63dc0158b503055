"""Studies arriving live: a light watch on the study store for images that another process (``cxr-triage
listen``, ``pull``, ``triage``, another window) recorded, so that the worklist shows them without any
action of the reader.

A timer on the GUI thread asks the store, on a worker thread, for the images recorded after the last
one seen; the session takes them like opened files (stored results are reused, the rest are scored).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QTimer, Slot

from inference.api import ScanEntry
from inference.store import Store
from viewer.qt.workers import FunctionWorker, WorkerPool

POLL_MS = 2500


def _poll(store: Store, after: int | None) -> tuple[int, list[ScanEntry]]:
    """(last sequence number, images recorded after ``after``); at the first poll, only where the store is."""
    if after is None:
        return store.last_image_seq(), []
    last, images = store.images_since(after)
    return last, [image.entry for image in images]


class StoreWatcher(QObject):
    """Polls ``store`` every ``interval_ms`` off the GUI thread and hands new images to ``take``.

    ``take(entries)`` returns False when it cannot take them now (the worklist is being rebuilt); the
    same images are then offered again at the next poll. One poll at a time; :meth:`stop` ends it.
    """

    def __init__(
        self,
        store: Store,
        pool: WorkerPool,
        take: Callable[[Sequence[ScanEntry]], bool],
        interval_ms: int = POLL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._store, self._pool, self._take = store, pool, take
        self._seen: int | None = None
        self._polling: FunctionWorker | None = None
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.poll)

    def start(self) -> None:
        self.poll()  # where the store is now: what was there before is the store's worklist
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @Slot()
    def poll(self) -> None:
        if self._polling is not None:
            return
        worker = FunctionWorker(_poll, self._store, self._seen)
        worker.signals.returned.connect(self._on_polled)
        worker.signals.errored.connect(self._on_failed)
        self._polling = worker
        self._pool.start(worker)

    @Slot(object)
    def _on_polled(self, answer: tuple[int, list[ScanEntry]]) -> None:
        self._polling = None
        last, entries = answer
        if self._timer.isActive() and (not entries or self._take(entries)):
            self._seen = last

    @Slot(object)
    def _on_failed(self, _exc: Exception) -> None:
        self._polling = None  # the store was busy or closing: the next poll asks again
