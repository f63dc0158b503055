"""Studies arriving live: a light watch on the study store for images that another process (``cxr-triage
listen``, ``pull``, ``triage``, another window) recorded, so that the worklist shows them without any
action of the reader.

The store is asked, on a worker thread, for the images recorded after the last one seen; the session
takes them like opened files (stored results are reused, the rest are scored). A team store is asked
when its server says images arrived (LISTEN/NOTIFY, :class:`ArrivalWaker`) and after each
reconnection; a SQLite file, which cannot notify, is asked every 2.5 s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QTimer, Slot

from inference.api import ScanEntry
from inference.store import Store
from viewer.qt.arrival_waker import ArrivalWaker
from viewer.qt.workers import FunctionWorker, WorkerPool

POLL_MS = 2500


def _poll(store: Store, after: int | None) -> tuple[int, list[ScanEntry]]:
    """(last sequence number, images recorded after ``after``); at the first poll, only where the store is."""
    if after is None:
        return store.last_image_seq(), []
    last, images = store.images_since(after)
    return last, [image.entry for image in images]


class StoreWatcher(QObject):
    """Asks ``store`` off the GUI thread for new images, when a team store's server says some arrived,
    else every ``interval_ms``, and hands them to ``take``.

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
        self._again = False  # woken while a poll was under way: ask once more after it
        self._running = False
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.poll)
        self._retry = QTimer(self, interval=interval_ms, singleShot=True)  # told, but not taken yet
        self._retry.timeout.connect(self.poll)
        url = store.server_url
        self._waker = ArrivalWaker(url, parent=self) if url else None
        if self._waker is not None:
            self._waker.woke.connect(self.poll)

    @property
    def polls_on_a_timer(self) -> bool:
        """Asked every ``interval_ms`` (a SQLite store) rather than when told (a team store)."""
        return self._timer.isActive()

    def start(self) -> None:
        self._running = True
        self.poll()  # where the store is now: what was there before is the store's worklist
        if self._waker is not None:
            self._waker.start()
        else:
            self._timer.start()

    def stop(self) -> None:
        self._running = False
        self._timer.stop()
        self._retry.stop()
        if self._waker is not None:
            self._waker.stop()

    @Slot()
    def poll(self) -> None:
        if self._polling is not None:
            self._again = True
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
        if self._running and (not entries or self._take(entries)):
            self._seen = last
            self._poll_again(done=True)
        else:
            self._poll_again(done=False)

    @Slot(object)
    def _on_failed(self, _exc: Exception) -> None:
        self._polling = None  # the store was busy or closing: the next poll asks again
        self._poll_again(done=False)

    def _poll_again(self, done: bool) -> None:
        """Woken meanwhile: at once. Told of images not taken yet: again in a while (a timer that
        polls anyway asks then)."""
        again, self._again = self._again, False
        if not self._running:
            return
        if again:
            self.poll()
        elif not done and self._waker is not None:
            self._retry.start()
