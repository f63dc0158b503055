"""Opened files and folders indexed into the session's worklist, on the I/O pool.

One scan at a time: a newer one supersedes the last (each carries a token, so the batches of a stale
scan still queued to the GUI thread are told apart and dropped). A writable store records the files
as they are found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Slot

from inference.api import ScanEntry
from inference.store import Store, StoreError, cannot_write
from viewer.core import wording
from viewer.core.batching import batched_by_time
from viewer.qt.session_host import SessionHost
from viewer.qt.store_access import StoreAccess, refused_to_login
from viewer.qt.workers import GeneratorWorker


def _index(
    token: int, scan, paths: Sequence[Path], store: Store | None, cancelled: Callable[[], bool]
) -> Iterator[tuple[int, list[ScanEntry], str]]:
    """Batches of scanned files, each with "" or why the store could not record them (then no more
    is recorded: the files are indexed all the same)."""
    for batch in batched_by_time(scan(paths, cancelled)):
        failure = ""
        if store is not None:
            try:
                store.record(batch)  # the files are in the store from now on, scored or not
            except StoreError as exc:
                failure = cannot_write(exc) or refused_to_login(exc)
                if not failure:
                    raise
                store = None
        yield token, batch, failure


class _IndexWorker(GeneratorWorker):
    """Returns its token whether it ran out or was cancelled, so stale scans can be told apart."""

    def __init__(self, token: int, scan, paths: Sequence[Path], store: Store | None) -> None:
        super().__init__(_index, token, scan, paths, store, pass_cancelled=True)
        self.token = token

    def work(self) -> int:
        super().work()
        return self.token


class FolderIndexer(QObject):
    """Indexes for one :class:`TriageSession`; scoring follows a scan that ran to its end."""

    def __init__(self, session: SessionHost, store_access: StoreAccess, parent: QObject) -> None:
        super().__init__(parent)
        self._session = session
        self._store_access = store_access
        self._worker: _IndexWorker | None = None
        self._token = 0
        self._indexed = 0

    @property
    def running(self) -> bool:
        return self._worker is not None

    def stop(self) -> None:
        """Ask the running scan to stop; what it indexed stays."""
        if self._worker is not None:
            self._worker.quit()

    def start(self, paths: Sequence[Path]) -> None:
        s = self._session
        self._indexed = 0
        self._token += 1
        store = s.store if self._store_access.records else None  # a read-only store records nothing
        worker = _IndexWorker(self._token, s.backend.scan, [Path(p) for p in paths], store)
        worker.signals.yielded.connect(self._on_indexed)
        worker.signals.errored.connect(self._on_index_error)
        worker.signals.returned.connect(self._on_index_finished)
        self._worker = worker
        s.progressChanged.emit("Indexing…", 0, 0)
        s.io.start(worker)

    @Slot(object)
    def _on_indexed(self, item: tuple[int, list[ScanEntry], str]) -> None:
        token, entries, failure = item
        if failure:
            self._store_access.mark_unwritable(failure)
        if token != self._token or self._session.closed:
            return  # a superseded scan
        self._session.worklist_model.add_entries(entries)
        self._store_access.indexed_meanwhile(entries)
        self._indexed += len(entries)
        self._session.progressChanged.emit(f"Indexing… {self._indexed} files", 0, 0)

    @Slot(object)
    def _on_index_error(self, exc: Exception) -> None:
        self._session.message.emit(f"Indexing stopped: {exc}")
        if self._worker is not None:
            self._on_index_finished(self._worker.token)

    @Slot(object)
    def _on_index_finished(self, token: object) -> None:
        s = self._session
        worker = self._worker
        if worker is None or token != worker.token or s.closed:
            return
        self._worker = None
        studies = len(s.worklist_model.worklist)
        if worker.abort_requested:  # the reader pressed Cancel: keep what was indexed, score nothing
            s.message.emit(
                f"Indexing cancelled after {wording.files(self._indexed)} ({wording.studies(studies)})"
            )
        else:
            s.message.emit(f"Indexed {wording.files(self._indexed)} in {wording.studies(studies)}")
            s.score_queued()
        s.maybe_idle()
