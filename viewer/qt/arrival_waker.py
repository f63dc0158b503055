"""A team store's arrivals as they are committed: LISTEN on a connection of its own, on a thread of its
own, waking the viewer's watch after each NOTIFY, and after each (re)connection so that it catches up
with what arrived while nobody listened (a NOTIFY is not kept for a listener that is away)."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal

from inference.store import StoreError

log = logging.getLogger(__name__)
WAIT_S = 0.5  # how often the thread looks whether it is asked to stop
RETRY_S = 2.0  # how long it waits before listening again when the server was away


class ArrivalWaker(QObject):
    """``woke`` (a queued signal, on the GUI thread) when images arrived in the team store ``url``, and
    after each connection; :meth:`stop` ends the thread."""

    woke = Signal()

    def __init__(self, url: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._url = url
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="cxr-arrivals", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _listen(self) -> None:
        from inference.store.postgres_backend import ArrivalListener

        while not self._stopping.is_set():
            try:
                with ArrivalListener(self._url) as listener:
                    self.woke.emit()  # catch up with what arrived while nobody listened
                    while not self._stopping.is_set():
                        if listener.wait(WAIT_S):
                            self.woke.emit()
            except StoreError as exc:
                log.warning("not listening to the team store's arrivals: %s", exc)
                self._stopping.wait(RETRY_S)
