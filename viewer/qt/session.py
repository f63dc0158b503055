"""The viewer's background machinery behind one QObject: indexing, image reading, the model thread.

Widgets talk to a :class:`TriageSession` and listen to its signals; it never touches a widget.
Indexing and reading run on a small I/O pool, the model on :class:`ModelThread`. Scored results
are coalesced and applied to the worklist a few times a second.

With a study store the worklist is the store's: loading a model shows every study the store holds
(results reused for these weights, the rest queued for scoring), opening files adds to it, and
reviews, archiving and the reader's actions are written to it (the audit trail), on the store thread,
never on the GUI thread. A store that cannot be written (a read-only file or folder, a full disk) is
used read-only: the session says so once (:attr:`store_notice`, :attr:`storeReadOnly`), writes
nothing more, and scores in memory. On a team store, the study shown is claimed
(:class:`StudyClaims`), arrivals come with the server's NOTIFY, and a server that cannot be reached
is said (:attr:`storeUnreachable`) while the reader's changes are kept for it.

The session owns the signals, the worklist model and the threads, loads the model, and decides what
follows what (opening files, re-reading the store, cancelling). The jobs are its parts:
:class:`StoreAccess` (the store), :class:`FolderIndexer` (opening files), :class:`ScoringJobs`
(scored results into the worklist) and :class:`ImageRequests` (images and heat maps).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from inference.api import ScanEntry
from inference.models.card import PackageError, read_card
from inference.store import Review, Store
from viewer.core.worklist import RowState
from viewer.qt.arrivals import StoreWatcher
from viewer.qt.claims import StudyClaims
from viewer.qt.engine_parts import EngineParts
from viewer.qt.image_requests import ImageRequests
from viewer.qt.indexing import FolderIndexer
from viewer.qt.model_thread import ModelInfo, ModelThread
from viewer.qt.scoring_jobs import ScoringJobs
from viewer.qt.store_access import StoreAccess
from viewer.qt.workers import WorkerPool
from viewer.qt.worklist_model import WorklistModel


class TriageSession(QObject):
    """Owns the worklist model and every background job of one viewer window."""

    modelLoaded = Signal(object)  # noqa: N815  ModelInfo
    modelFailed = Signal(str)  # noqa: N815
    progressChanged = Signal(str, int, int)  # noqa: N815  label, done, total (0: indeterminate)
    idle = Signal()
    message = Signal(str)
    imageReady = Signal(str, object)  # noqa: N815  uid, XRayImage
    imageFailed = Signal(str, str)  # noqa: N815  uid, reason
    heatmapReady = Signal(object, object)  # noqa: N815  (uid, label, sha), Heatmap
    heatmapFailed = Signal(object, str)  # noqa: N815
    taskFinished = Signal(object, object, str)  # noqa: N815
    storeReadOnly = Signal(str)  # noqa: N815  the notice, once, when a write to the store failed
    storeUnreachable = Signal(str)  # noqa: N815  the notice while the team store's server is away; "": back
    scoringDone = Signal()  # noqa: N815  a scoring job ran to its end (not cancelled, no error)
    scoringFailed = Signal(str)  # noqa: N815  a scoring job stopped with an error: why

    def __init__(
        self, backend: EngineParts | None = None, store: Store | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.backend = backend or EngineParts()
        self.store = store  # closed with the session
        self.worklist_model = WorklistModel(parent=self)
        self.info: ModelInfo | None = None
        self.io = WorkerPool(max_threads=2)
        self.closed = False
        self._preloaded = ""  # the weights whose stored worklist was read before their model loaded
        self._store_access = StoreAccess(self, self.backend.scorer, parent=self)
        self.model_thread = ModelThread(
            self.backend.loader, self._store_access.score, self.backend.batch_size, store=store
        )  # scores with the back end's scorer, without the store once it cannot be written
        self._indexer = FolderIndexer(self, self._store_access, parent=self)
        self._scoring = ScoringJobs(self, parent=self)
        self._images = ImageRequests(self, parent=self)
        sig = self.model_thread.signals
        sig.loaded.connect(self._on_loaded)
        sig.loadFailed.connect(self._on_load_failed)
        sig.taskFinished.connect(self.taskFinished)
        self.claims = StudyClaims(store, self.worklist_model, self._store_access.submit, parent=self)
        self.watcher = StoreWatcher(store, self.io, self._take_arrivals, parent=self) if store else None
        if self.watcher is not None:
            self.watcher.start()

    # -- a store that cannot be written ------------------------------------------------------------
    @property
    def store_writable(self) -> bool:
        """A store is open and what the reader does is kept in it."""
        return self._store_access.writable

    @property
    def store_writing(self) -> bool:
        """Store writes asked and not yet answered (kept ones too, while the server is away)."""
        worker = self._store_access.worker
        return worker is not None and worker.pending > 0

    @property
    def store_unwritten(self) -> int:
        """Store calls kept because the team store's server cannot be reached (0 while it answers)."""
        worker = self._store_access.worker
        return worker.pending if worker is not None and worker.lost else 0

    @property
    def store_notice(self) -> str:
        """What the reader is told about a store that cannot be written ("" when it can, or with none)."""
        return self._store_access.notice

    # -- model ------------------------------------------------------------------------------------
    def load_model(self, package: Path, device: str = "auto") -> None:
        self.progressChanged.emit("Loading model…", 0, 0)
        self._show_stored_for(Path(package))
        self.model_thread.load(Path(package), device)

    def _show_stored_for(self, package: Path) -> None:
        """The store's worklist at once, while the first model loads: read for the weights its card
        names (the card is a small JSON file), scored once the model is there."""
        if self.store is None or self.info is not None or self._preloaded:
            return
        try:
            self._preloaded = read_card(package).weights_sha256
        except PackageError:
            return  # the load says why
        self._store_access.reload(self._preloaded)

    @Slot(object)
    def _on_loaded(self, info: ModelInfo) -> None:
        changed = self.info is None or self.info.card.weights_sha256 != info.card.weights_sha256
        self.info = info
        preloaded, self._preloaded = self._preloaded, ""
        if changed:
            self._images.heatmaps.clear()
            if self.store is None:
                self.worklist_model.requeue(only_unfinished=False)
            elif info.card.weights_sha256 != preloaded:  # else read already, for these weights
                self.reload()
        self.modelLoaded.emit(info)
        self.score_queued()
        self.maybe_idle()

    @Slot(str)
    def _on_load_failed(self, reason: str) -> None:
        self.modelFailed.emit(reason)
        self.maybe_idle()

    def run_on_model_thread(self, key: object, func: Callable[[Any], Any]) -> None:
        self.progressChanged.emit("Working…", 0, 0)
        self.model_thread.run_task(key, func)

    # -- the store --------------------------------------------------------------------------------
    def reload(self) -> None:
        """Rebuild the worklist from the store for the current weights, off the GUI thread."""
        if self.store is None or self.info is None or self.closed:
            return
        self.model_thread.cancel_scoring()
        self._scoring.discard_pending()
        self._store_access.reload(self.info.card.weights_sha256)

    def set_review(self, uid: str, outcome: str, note: str = "") -> Review | None:
        """Record the reader's outcome for a study (in the store, which audits it); None if refused
        (a store that cannot be written keeps nothing: the reader is told)."""
        return self._store_access.set_review(uid, outcome, note)

    def clear_review(self, uid: str) -> bool:
        """Take the study's review off; False when the store refused (the reader is told)."""
        return self._store_access.clear_review(uid)

    def archive(self, uids: Sequence[str]) -> int:
        """Archive studies in the store and take them off the worklist; returns how many went."""
        return self._store_access.archive(uids)

    def archive_older_than(self, arrived_before: str, done: Callable[[int], None]) -> None:
        """Archive every study that arrived before the ISO time (off the GUI thread), then re-read the
        worklist; ``done(count)`` once archived."""
        self._store_access.archive_older_than(arrived_before, done)

    def override_gate(self, uid: str, done: Callable[[], None]) -> None:
        """Score a study the safety gate stopped after all (the reader's override, which the store
        records and audits; off the GUI thread), then show the study as the store now holds it and
        call ``done()`` (not when nothing changed)."""
        self._store_access.override_gate(uid, done)

    def audit(self, action: str, study_uid: str = "", **detail: object) -> None:
        """One event in the store's audit trail (never a patient name in ``detail``); none is kept
        by a store that cannot be written (said once, by :attr:`storeReadOnly`)."""
        self._store_access.audit(action, study_uid, **detail)

    def set_thresholds(self, thresholds: Mapping[str, float]) -> None:
        """The reader's new thresholds: re-rank, and audit each finding whose threshold moved."""
        old = dict(self.worklist_model.worklist.thresholds)
        self.worklist_model.set_thresholds(thresholds)
        for label, value in thresholds.items():
            if label in old and old[label] != value:
                self.audit("threshold-changed", label=label, old=old[label], new=value)

    # -- opening ----------------------------------------------------------------------------------
    def open_paths(self, paths: Sequence[Path], replace: bool = True) -> None:
        """Index ``paths`` (files or folders, recursive) off the GUI thread; scoring follows."""
        self._indexer.stop()
        if replace and self.replaces_on_open:
            self.model_thread.cancel_scoring()
            self._scoring.discard_pending()
            self.worklist_model.clear()
            self._images.images.clear()
        self._indexer.start(paths)

    @property
    def replaces_on_open(self) -> bool:
        """Without a store, opening files starts a new worklist; with one, they join the store's."""
        return self.store is None

    def _take_arrivals(self, entries: Sequence[ScanEntry]) -> bool:
        """Images another process recorded in the store join the worklist like opened files (stored
        results reused, the rest scored); refused (offered again later) while the store is re-read."""
        if self.closed or self._store_access.reading:
            return False
        queued = self._queued_count()
        self.worklist_model.add_entries(entries)
        if self._queued_count() > queued:
            self.score_queued()
        return True

    def _queued_count(self) -> int:
        return sum(row.state is RowState.QUEUED for row in self.worklist_model.worklist.rows)

    # -- scoring ----------------------------------------------------------------------------------
    def score_queued(self) -> None:
        """(Re)start scoring every queued study with the current model."""
        self._scoring.score_queued()

    def cancel(self) -> None:
        """Stop indexing and scoring; studies already scored stay."""
        self._indexer.stop()
        self.model_thread.cancel_scoring()

    @property
    def reading_files(self) -> bool:
        """Indexing files or reading the store: the worklist is still filling."""
        return self._indexer.running or self._store_access.reading

    @property
    def busy(self) -> bool:
        return self.reading_files or self._scoring.running

    def maybe_idle(self) -> None:
        """Say :attr:`idle` if no job is left (each part calls it when one of its jobs ends)."""
        if not self.busy:
            self.idle.emit()

    # -- images and heat maps ---------------------------------------------------------------------
    def prefetch_image(self, uid: str) -> None:
        """Decode a study the reader is likely to open next, if it is not cached already."""
        self._images.prefetch_image(uid)

    def request_image(self, uid: str) -> None:
        """Read the study's representative image off the GUI thread; answers with imageReady/Failed."""
        self._images.request_image(uid)

    def heatmap_key(self, uid: str, label: str) -> tuple[str, str, str] | None:
        return self._images.heatmap_key(uid, label)

    def request_heatmap(self, uid: str, label: str) -> bool:
        """Grad-CAM of ``label`` for the study's image, from the cache or the model thread.

        Returns True when it has to be computed (the answer comes later as heatmapReady).
        """
        return self._images.request_heatmap(uid, label)

    def explaining(self, key: object) -> bool:
        return self._images.explaining(key)

    # -- teardown ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Cancel everything and wait for every thread; safe to call twice."""
        if self.closed:
            return
        self.closed = True
        self._scoring.stop()
        if self.watcher is not None:
            self.watcher.stop()
        self._indexer.stop()
        self.io.shutdown()
        self.model_thread.shutdown()
        self.claims.close()  # the shown study given back, written before the store closes
        if self._store_access.worker is not None:
            self._store_access.worker.close()  # writes what is still asked, then closes the store
