"""The session's use of the study store: the reader's writes (reviews, archiving, gate overrides, the
audit trail), the worklist read back from it, and the fall-back to reading only.

The reader's writes run on the store thread (:class:`StoreWorker`), in order, shown at once and
undone when the store refuses them; re-reading the worklist runs on the I/O pool. While a team
store's server cannot be reached they are kept until it answers (``storeUnreachable``). A store
that cannot be written (a read-only file or folder, a full disk) is used read-only: the session says
so once (``storeReadOnly``), writes nothing more, and scores in memory; a login that may not write
images or results (a reader's) scores in memory too, said once, and still writes reviews.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal, Slot

from inference.api import ScanEntry, StudyResult
from inference.runtime.engine import default_scorer
from inference.store import Review, Store, StoreError, cannot_write, not_permitted
from inference.store.user import current_user, now_iso
from inference.worklist.studies import store_worklist
from viewer.core import wording
from viewer.qt.model_thread import Scorer
from viewer.qt.session_host import SessionHost
from viewer.qt.store_worker import StoreWorker
from viewer.qt.workers import FunctionWorker

log = logging.getLogger(__name__)
T = TypeVar("T")
NOT_PERMITTED = "this login may not write images or results"


def refused_to_login(exc: StoreError) -> str:
    """:data:`NOT_PERMITTED` when the server refused a write to this login, else ""."""
    return NOT_PERMITTED if not_permitted(exc) else ""


@dataclass(frozen=True)
class StoredRows:
    """What the store holds for one set of weights: finished studies, files still to score, reviews."""

    weights_sha256: str
    results: list[StudyResult]
    queued: list[ScanEntry]
    reviews: dict[str, Review]


def _stored_rows(store: Store, weights_sha256: str) -> StoredRows:
    held = store_worklist(store, weights_sha256)
    return StoredRows(weights_sha256, held.results, held.unscored, store.reviews())


class StoreAccess(QObject):
    """The study store of one :class:`TriageSession` (which may have none: then nothing is kept)."""

    _failed = Signal(str)  # from the model thread: why the store cannot be written

    def __init__(self, session: SessionHost, scorer: Scorer | None, parent: QObject) -> None:
        super().__init__(parent)
        self._session = session
        self._scorer = scorer  # the back end's (tests swap in a fake), else the product's
        self._store = session.store
        self._unwritable = "read-only" if self._store is not None and not self._store.writable else ""
        self._scores_here = False  # this login may not write results: they stay in memory
        self._reload_worker: FunctionWorker | None = None
        self._wanted = ""  # the weights of the last worklist read asked for
        self._indexed_meanwhile: list[ScanEntry] = []  # files opened while it is read
        self._failed.connect(self.mark_unwritable)
        self.worker = StoreWorker(self._store, parent=self) if self._store is not None else None
        if self.worker is not None:
            self.worker.serverLost.connect(self._on_server_lost)
            self.worker.serverBack.connect(lambda: session.storeUnreachable.emit(""))

    # -- a store that cannot be written ------------------------------------------------------------
    @property
    def writable(self) -> bool:
        return self._store is not None and not self._unwritable

    @property
    def records(self) -> bool:
        """Opened files and computed scores are written to the store (else kept in memory)."""
        return self.writable and not self._scores_here

    @property
    def notice(self) -> str:
        if self._store is None or not self._unwritable:
            return ""
        return (
            f"The study store {self._store.path} cannot be written: {self._unwritable}; "
            "reviews and new results are not kept"
        )

    @Slot(str)
    def _on_server_lost(self, _why: str) -> None:
        where = getattr(self._store, "where", "")
        self._session.storeUnreachable.emit(
            f"The team store {where} cannot be reached: the worklist stays as shown; reviews and notes "
            "are kept here and written when it answers again (do not close the window)"
        )

    @Slot(str)
    def mark_unwritable(self, reason: str) -> None:
        """A write failed for good: from now on the store is only read (said once)."""
        if self._unwritable or self._store is None:
            return
        if reason == NOT_PERMITTED:
            if not self._scores_here:
                self._scores_here = True
                self._session.message.emit(
                    "This login may not write images or results to the team store: scores computed "
                    "here are kept in memory only (reviews are kept in the store)"
                )
            return
        self._unwritable = reason or "read-only"
        log.warning("the study store cannot be written (%s): using it read-only", reason)
        self._session.storeReadOnly.emit(self.notice)

    def score(
        self, entries: Sequence[ScanEntry], service: Any, *, store: Store | None = None, **kwargs: Any
    ) -> Iterator[StudyResult]:
        """On the model thread: the back end's scorer with the store while it can be written; when a
        write fails for good, the studies not yet yielded are scored again without it (in memory)."""
        scorer = self._scorer or default_scorer
        if store is None or not self.records:
            yield from scorer(entries, service, store=None, **kwargs)
            return
        done: set[str] = set()
        try:
            for result in scorer(entries, service, store=store, **kwargs):
                done.add(result.study_uid)
                yield result
            return
        except StoreError as exc:
            reason = cannot_write(exc) or refused_to_login(exc)
            if not reason:
                raise
            self._failed.emit(reason)
        rest = [e for e in entries if e.meta.study_uid not in done]
        yield from scorer(rest, service, store=None, **kwargs)

    # -- the worklist read back --------------------------------------------------------------------
    @property
    def reading(self) -> bool:
        """The worklist is being read from the store."""
        return self._reload_worker is not None

    def indexed_meanwhile(self, entries: Sequence[ScanEntry]) -> None:
        """Files opened while the worklist is read: listed again once it is (the read may predate them)."""
        if self.reading:
            self._indexed_meanwhile.extend(entries)

    def reload(self, weights_sha256: str) -> None:
        """Read the store's worklist for ``weights_sha256`` on the I/O pool; it replaces the worklist
        (also before the model with these weights has loaded: it then shows at once, scored later)."""
        self._wanted = weights_sha256
        worker = FunctionWorker(_stored_rows, self._store, weights_sha256)
        worker.signals.returned.connect(self._on_reloaded)
        worker.signals.errored.connect(self._on_reload_failed)
        self._reload_worker = worker
        self._session.progressChanged.emit("Opening the study store…", 0, 0)
        self._session.io.start(worker)

    @Slot(object)
    def _on_reloaded(self, rows: StoredRows) -> None:
        self._reload_worker = None
        s = self._session
        if s.closed or rows.weights_sha256 != self._wanted:
            return  # another model was loaded meanwhile; its own reload follows
        s.worklist_model.load(rows.results, rows.queued, rows.reviews)
        meanwhile, self._indexed_meanwhile = self._indexed_meanwhile, []
        s.worklist_model.add_entries(meanwhile)  # a file the store listed already changes nothing
        s.message.emit(
            f"{wording.studies(len(rows.results))} from the store, {len(s.worklist_model.worklist)} in all"
        )
        s.score_queued()
        s.maybe_idle()

    @Slot(object)
    def _on_reload_failed(self, exc: Exception) -> None:
        self._reload_worker = None
        self._indexed_meanwhile.clear()  # listed already: nothing replaced them
        self._session.message.emit(f"The study store could not be read: {exc}")
        self._session.maybe_idle()

    # -- the reader's actions: on the store thread, shown at once, undone when the store refuses ------
    def set_review(self, uid: str, outcome: str, note: str = "") -> Review | None:
        """Shown at once; written on the store thread (the store's own review replaces it then). A
        store that refuses it takes it off again, and the reader is told; an unreachable server keeps
        it until it answers. None when not asked (a store that cannot be written: the reader is told)."""
        review = Review(uid, outcome, note, current_user(), now_iso())
        if self._store is not None:
            if not self._can_write():
                return None
            before = self._review_of(uid)
            self._submit(
                lambda store: store.set_review(uid, outcome, note),
                done=lambda stored: self._settle(uid, review, stored),
                refused=lambda: self._settle(uid, review, before),
            )
        self._session.worklist_model.set_review(uid, review)
        return review

    def clear_review(self, uid: str) -> bool:
        if self._store is not None:
            if not self._can_write():
                return False
            before = self._review_of(uid)
            self._submit(
                lambda store: store.clear_review(uid), refused=lambda: self._settle(uid, None, before)
            )
        self._session.worklist_model.set_review(uid, None)
        return True

    def _review_of(self, uid: str) -> Review | None:
        row = self._session.worklist_model.worklist.get(uid)
        return row.review if row is not None else None

    def _settle(self, uid: str, shown: Review | None, review: Review | None) -> None:
        """The store's answer for ``uid`` replaces what was shown, unless the reader changed it since."""
        if self._review_of(uid) == shown:
            self._session.worklist_model.set_review(uid, review)

    def archive(self, uids: Sequence[str]) -> int:
        if not self._can_write():
            return 0
        self._submit(lambda store: store.archive(uids), refused=self._session.reload)
        return self._session.worklist_model.remove(uids)

    def archive_older_than(self, arrived_before: str, done: Callable[[int], None]) -> None:
        """Archive on the store thread, then re-read the worklist; ``done(count)`` once archived."""

        def archived(count: int) -> None:
            if count:
                self._session.reload()
            done(count)

        if self._can_write():
            self._submit(lambda store: store.archive_older_than(arrived_before), done=archived)

    def override_gate(self, uid: str, done: Callable[[], None]) -> None:
        """On the store thread; the study as the store then holds it replaces the row, and ``done()``
        follows when anything changed."""
        info = self._session.info
        if info is None or not self._can_write():
            return
        sha = info.card.weights_sha256

        def work(store: Store) -> list[StudyResult]:
            return store_worklist(store, sha, [uid]).results if store.override_gate(uid, sha) else []

        def overridden(results: list[StudyResult]) -> None:
            self._session.worklist_model.apply_results(results)
            if results:
                done()

        self._submit(work, done=overridden)

    def audit(self, action: str, study_uid: str = "", **detail: object) -> None:
        info = self._session.info
        sha = info.card.weights_sha256 if info is not None else ""
        if self._store is not None and not self._unwritable and not self._session.closed:
            self._submit(lambda store: store.log(action, study_uid, sha, **detail), quiet=True)

    def submit(
        self,
        work: Callable[[Store], T],
        done: Callable[[T], None] | None = None,
        failed: Callable[[], None] | None = None,
    ) -> None:
        """Any other store call (claims), on the store thread; a refusal is logged, never raised, and
        ``failed()`` follows."""

        def refused(exc: Exception) -> None:
            log.warning("store call failed: %s", exc)
            if failed is not None:
                failed()

        if self.worker is not None:  # also while the session closes: a claim given back
            self.worker.submit(work, done, refused)

    def _can_write(self) -> bool:
        """Whether a write may be asked: a store that cannot be written is not (the reader is told)."""
        if self._store is None or self._session.closed:
            return False
        if self._unwritable:
            self._session.message.emit(f"Not saved: the study store cannot be written ({self._unwritable})")
            return False
        return True

    def _submit(
        self,
        work: Callable[[Store], T],
        done: Callable[[T], None] | None = None,
        refused: Callable[[], None] | None = None,
        quiet: bool = False,
    ) -> None:
        """``work`` on the store thread. A refusal is told to the reader (unless ``quiet``) and
        logged, never raised, and ``refused()`` follows; one that says the store cannot be written
        makes it read-only from then on (said once)."""

        def failed(exc: Exception) -> None:
            text = "the study is not in the store yet" if isinstance(exc, KeyError) else str(exc)
            log.warning("study store call failed: %s", type(exc).__name__)
            reason = cannot_write(exc) if isinstance(exc, StoreError) else ""
            if reason:
                self.mark_unwritable(reason)
            if not quiet or not reason:
                self._session.message.emit(f"Not saved: {text}")
            if refused is not None and not self._session.closed:
                refused()

        assert self.worker is not None
        self.worker.submit(work, done, failed)
