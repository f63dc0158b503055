"""The viewer's background machinery behind one QObject: indexing, image reading, the model thread.

Widgets talk to a :class:`TriageSession` and listen to its signals; it never touches a widget.
Indexing and reading run on a small I/O pool, the model on :class:`ModelThread`. Scored results
are coalesced and applied to the worklist a few times a second.

With a study store the worklist is the store's: loading a model shows every study the store holds
(results reused for these weights, the rest queued for scoring), opening files adds to it, and
reviews, archiving and the reader's actions are written to it (the audit trail). A store that cannot
be written (a read-only file or folder, a full disk) is used read-only: the session says so once
(:attr:`store_notice`, :attr:`storeReadOnly`), writes nothing more, and scores in memory.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from inference.api import Heatmap, ScanEntry, StudyResult, XRayImage
from inference.runtime.engine import default_scorer
from inference.store import Review, Store, StoreError, cannot_write
from inference.store.user import current_user, now_iso
from inference.worklist.studies import store_worklist
from viewer.core.batching import batched_by_time
from viewer.core.cache import LruCache
from viewer.core.worklist import RowState
from viewer.qt.arrivals import StoreWatcher
from viewer.qt.model_thread import Loader, ModelInfo, ModelThread, Scorer
from viewer.qt.workers import FunctionWorker, GeneratorWorker, WorkerPool
from viewer.qt.worklist_model import WorklistModel

log = logging.getLogger(__name__)
CACHE_BYTES = 256 * 1024 * 1024  # per cache (images, heat maps)
T = TypeVar("T")


def _default_scan(paths: Sequence[Path], cancelled: Callable[[], bool]) -> Iterator[ScanEntry]:
    from inference.io import scan

    return scan(paths, cancelled=cancelled)


def _default_read(path: Path) -> XRayImage:
    from inference.io import read_image

    return read_image(path)


@dataclass
class EngineParts:
    """The inference functions the session calls; tests swap in fakes."""

    scan: Callable[[Sequence[Path], Callable[[], bool]], Iterable[ScanEntry]] = _default_scan
    read_image: Callable[[Path], XRayImage] = _default_read
    loader: Loader | None = None
    scorer: Scorer | None = None
    batch_size: int = 8
    extra: dict[str, Any] = field(default_factory=dict)


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
                failure = cannot_write(exc)
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


def _read(read_image: Callable[[Path], XRayImage], uid: str, path: Path) -> tuple[str, XRayImage | None, str]:
    try:
        return uid, read_image(path), ""
    except Exception as exc:  # ReadError carries a user-facing reason; anything else is named
        log.warning("could not read image: %s", exc)
        return uid, None, str(exc) or type(exc).__name__


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
    _storeFailed = Signal(str)  # noqa: N815  from the model thread: why the store cannot be written
    scoringDone = Signal()  # noqa: N815  a scoring job ran to its end (not cancelled, no error)
    scoringFailed = Signal(str)  # noqa: N815  a scoring job stopped with an error: why

    def __init__(
        self, backend: EngineParts | None = None, store: Store | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.backend = backend or EngineParts()
        self.store = store  # closed with the session
        self._unwritable = "read-only" if store is not None and not store.writable else ""
        self.worklist_model = WorklistModel(parent=self)
        self.info: ModelInfo | None = None
        self.io = WorkerPool(max_threads=2)
        self.model_thread = ModelThread(
            self.backend.loader, self._score, self.backend.batch_size, store=store
        )  # scores with the back end's scorer, without the store once it cannot be written
        self._reload_worker: FunctionWorker | None = None
        # Full-resolution float32 arrays are big (a 2,500² film is 25 MB): cap by bytes, not count.
        self.images: LruCache[XRayImage] = LruCache(16, lambda im: im.pixels.nbytes, CACHE_BYTES)
        self.heatmaps: LruCache[Heatmap] = LruCache(64, lambda hm: hm.values.nbytes, CACHE_BYTES)
        self._index_worker: _IndexWorker | None = None
        self._index_token = 0
        self._indexed = 0
        self._job_id = 0
        self._scoring = False  # until the current job's scoringFinished arrives
        self._job_sha: dict[int, str] = {}
        self._job_total = 0
        self._job_done = 0
        self._pending: list[StudyResult] = []
        self._reading: dict[str, FunctionWorker] = {}
        self._explaining: set[object] = set()
        self._flush_interval = 100
        self._flush = QTimer(self, singleShot=True)
        self._flush.timeout.connect(self._flush_results)
        sig = self.model_thread.signals
        sig.loaded.connect(self._on_loaded)
        sig.loadFailed.connect(self._on_load_failed)
        sig.batchStarted.connect(self._on_batch_started)
        sig.scored.connect(self._on_scored)
        sig.scoringFinished.connect(self._on_scoring_finished)
        sig.explained.connect(self._on_explained)
        sig.explainFailed.connect(self._on_explain_failed)
        sig.taskFinished.connect(self.taskFinished)
        self._storeFailed.connect(self._store_unwritable)
        self._closed = False
        self.watcher = StoreWatcher(store, self.io, self._take_arrivals, parent=self) if store else None
        if self.watcher is not None:
            self.watcher.start()

    # -- a store that cannot be written ------------------------------------------------------------
    @property
    def store_writable(self) -> bool:
        """A store is open and what the reader does is kept in it."""
        return self.store is not None and not self._unwritable

    @property
    def store_notice(self) -> str:
        """What the reader is told about a store that cannot be written ("" when it can, or with none)."""
        if self.store is None or not self._unwritable:
            return ""
        return (
            f"The study store {self.store.path} cannot be written: {self._unwritable}; "
            "reviews and new results are not kept"
        )

    @Slot(str)
    def _store_unwritable(self, reason: str) -> None:
        """A write failed for good: from now on the store is only read (said once)."""
        if self._unwritable or self.store is None:
            return
        self._unwritable = reason or "read-only"
        log.warning("the study store cannot be written (%s): using it read-only", reason)
        self.storeReadOnly.emit(self.store_notice)

    def _score(
        self, entries: Sequence[ScanEntry], service: Any, *, store: Store | None = None, **kwargs: Any
    ) -> Iterator[StudyResult]:
        """On the model thread: the back end's scorer with the store while it can be written; when a
        write fails for good, the studies not yet yielded are scored again without it (in memory)."""
        scorer = self.backend.scorer or default_scorer
        if store is None or self._unwritable:
            yield from scorer(entries, service, store=None, **kwargs)
            return
        done: set[str] = set()
        try:
            for result in scorer(entries, service, store=store, **kwargs):
                done.add(result.study_uid)
                yield result
            return
        except StoreError as exc:
            reason = cannot_write(exc)
            if not reason:
                raise
            self._storeFailed.emit(reason)
        rest = [e for e in entries if e.meta.study_uid not in done]
        yield from scorer(rest, service, store=None, **kwargs)

    # -- model ------------------------------------------------------------------------------------
    def load_model(self, package: Path, device: str = "auto") -> None:
        self.progressChanged.emit("Loading model…", 0, 0)
        self.model_thread.load(Path(package), device)

    @Slot(object)
    def _on_loaded(self, info: ModelInfo) -> None:
        changed = self.info is None or self.info.card.weights_sha256 != info.card.weights_sha256
        self.info = info
        if changed:
            self.heatmaps.clear()
            if self.store is not None:
                self.reload()
            else:
                self.worklist_model.requeue(only_unfinished=False)
        self.modelLoaded.emit(info)
        self.score_queued()
        self._maybe_idle()

    # -- the store --------------------------------------------------------------------------------
    def reload(self) -> None:
        """Rebuild the worklist from the store for the current weights, off the GUI thread."""
        if self.store is None or self.info is None or self._closed:
            return
        self.model_thread.cancel_scoring()
        self._pending.clear()
        worker = FunctionWorker(_stored_rows, self.store, self.info.card.weights_sha256)
        worker.signals.returned.connect(self._on_reloaded)
        worker.signals.errored.connect(self._on_reload_failed)
        self._reload_worker = worker
        self.progressChanged.emit("Opening the study store…", 0, 0)
        self.io.start(worker)

    @Slot(object)
    def _on_reloaded(self, rows: StoredRows) -> None:
        self._reload_worker = None
        if self._closed or self.info is None or rows.weights_sha256 != self.info.card.weights_sha256:
            return  # another model was loaded meanwhile; its own reload follows
        self.worklist_model.load(rows.results, rows.queued, rows.reviews)
        self.message.emit(
            f"{len(rows.results)} studies from the store, {len(self.worklist_model.worklist)} in all"
        )
        self.score_queued()
        self._maybe_idle()

    @Slot(object)
    def _on_reload_failed(self, exc: Exception) -> None:
        self._reload_worker = None
        self.message.emit(f"The study store could not be read: {exc}")
        self._maybe_idle()

    def set_review(self, uid: str, outcome: str, note: str = "") -> Review | None:
        """Record the reader's outcome for a study (in the store, which audits it); None if refused
        (a store that cannot be written keeps nothing: the reader is told)."""
        if self.store is None:
            review: Review | None = Review(uid, outcome, note, current_user(), now_iso())
        else:
            review = self._store_call(lambda store: store.set_review(uid, outcome, note))[1]
        if review is not None:
            self.worklist_model.set_review(uid, review)
        return review

    def clear_review(self, uid: str) -> bool:
        """Take the study's review off; False when the store refused (the reader is told)."""
        if self.store is None or self._store_call(lambda store: store.clear_review(uid))[0]:
            self.worklist_model.set_review(uid, None)
            return True
        return False

    def archive(self, uids: Sequence[str]) -> int:
        """Archive studies in the store and take them off the worklist; returns how many went."""
        ok, _ = self._store_call(lambda store: store.archive(uids))
        return self.worklist_model.remove(uids) if ok else 0

    def archive_older_than(self, arrived_before: str) -> int:
        """Archive every study that arrived before the ISO time, then re-read the worklist."""
        count = self._store_call(lambda store: store.archive_older_than(arrived_before))[1] or 0
        if count:
            self.reload()
        return count

    def override_gate(self, uid: str) -> bool:
        """Score a study the safety gate stopped after all (the reader's override, which the store
        records and audits), then show the study as the store now holds it. False when nothing changed."""
        if self.info is None:
            return False
        sha = self.info.card.weights_sha256

        def work(store: Store) -> list[StudyResult]:
            return store_worklist(store, sha, [uid]).results if store.override_gate(uid, sha) else []

        results = self._store_call(work)[1] or []
        self.worklist_model.apply_results(results)
        return bool(results)

    def audit(self, action: str, study_uid: str = "", **detail: object) -> None:
        """One event in the store's audit trail (never a patient name in ``detail``); none is kept
        by a store that cannot be written (said once, by :attr:`storeReadOnly`)."""
        sha = self.info.card.weights_sha256 if self.info is not None else ""
        self._store_call(lambda store: store.log(action, study_uid, sha, **detail), quiet=True)

    def set_thresholds(self, thresholds: Mapping[str, float]) -> None:
        """The reader's new thresholds: re-rank, and audit each finding whose threshold moved."""
        old = dict(self.worklist_model.worklist.thresholds)
        self.worklist_model.set_thresholds(thresholds)
        for label, value in thresholds.items():
            if label in old and old[label] != value:
                self.audit("threshold-changed", label=label, old=old[label], new=value)

    def _store_call(self, work: Callable[[Store], T], quiet: bool = False) -> tuple[bool, T | None]:
        """Run a short store write on this thread: (done, its result). A failure is told to the
        reader and logged, never raised; without a store (or once closed) nothing runs. A store that
        cannot be written is not asked: the reader is told it was not saved (unless ``quiet``); a
        write that fails for good makes the store read-only from then on (said once)."""
        if self.store is None or self._closed:
            return False, None
        if self._unwritable:
            if not quiet:
                self.message.emit(f"Not saved: the study store cannot be written ({self._unwritable})")
            return False, None
        try:
            return True, work(self.store)
        except (StoreError, KeyError) as exc:
            text = "the study is not in the store yet" if isinstance(exc, KeyError) else str(exc)
            log.warning("study store call failed: %s", type(exc).__name__)
            reason = cannot_write(exc) if isinstance(exc, StoreError) else ""
            if reason:
                self._store_unwritable(reason)
            if not quiet or not reason:
                self.message.emit(f"Not saved: {text}")
            return False, None

    @Slot(str)
    def _on_load_failed(self, reason: str) -> None:
        self.modelFailed.emit(reason)
        self._maybe_idle()

    def run_on_model_thread(self, key: object, func: Callable[[Any], Any]) -> None:
        self.progressChanged.emit("Working…", 0, 0)
        self.model_thread.run_task(key, func)

    # -- opening ----------------------------------------------------------------------------------
    def open_paths(self, paths: Sequence[Path], replace: bool = True) -> None:
        """Index ``paths`` (files or folders, recursive) off the GUI thread; scoring follows."""
        if self._index_worker is not None:
            self._index_worker.quit()
        if replace and self.replaces_on_open:
            self.model_thread.cancel_scoring()
            self._pending.clear()
            self.worklist_model.clear()
            self.images.clear()
        self._indexed = 0
        self._index_token += 1
        store = self.store if self.store_writable else None  # a read-only store records nothing
        worker = _IndexWorker(self._index_token, self.backend.scan, [Path(p) for p in paths], store)
        worker.signals.yielded.connect(self._on_indexed)
        worker.signals.errored.connect(self._on_index_error)
        worker.signals.returned.connect(self._on_index_finished)
        self._index_worker = worker
        self.progressChanged.emit("Indexing…", 0, 0)
        self.io.start(worker)

    def _take_arrivals(self, entries: Sequence[ScanEntry]) -> bool:
        """Images another process recorded in the store join the worklist like opened files (stored
        results reused, the rest scored); refused (offered again later) while the store is re-read."""
        if self._closed or self._reload_worker is not None:
            return False
        queued = self._queued_count()
        self.worklist_model.add_entries(entries)
        if self._queued_count() > queued:
            self.score_queued()
        return True

    def _queued_count(self) -> int:
        return sum(row.state is RowState.QUEUED for row in self.worklist_model.worklist.rows)

    @property
    def replaces_on_open(self) -> bool:
        """Without a store, opening files starts a new worklist; with one, they join the store's."""
        return self.store is None

    @Slot(object)
    def _on_indexed(self, item: tuple[int, list[ScanEntry], str]) -> None:
        token, entries, failure = item
        if failure:
            self._store_unwritable(failure)
        if token != self._index_token or self._closed:
            return  # a superseded scan
        self.worklist_model.add_entries(entries)
        self._indexed += len(entries)
        self.progressChanged.emit(f"Indexing… {self._indexed} files", 0, 0)

    @Slot(object)
    def _on_index_error(self, exc: Exception) -> None:
        self.message.emit(f"Indexing stopped: {exc}")
        if self._index_worker is not None:
            self._on_index_finished(self._index_worker.token)

    @Slot(object)
    def _on_index_finished(self, token: object) -> None:
        worker = self._index_worker
        if worker is None or token != worker.token or self._closed:
            return
        self._index_worker = None
        studies = len(self.worklist_model.worklist)
        if worker.abort_requested:  # the reader pressed Cancel: keep what was indexed, score nothing
            self.message.emit(f"Indexing cancelled after {self._indexed} files ({studies} studies)")
        else:
            self.message.emit(f"Indexed {self._indexed} files in {studies} studies")
            self.score_queued()
        self._maybe_idle()

    # -- scoring ----------------------------------------------------------------------------------
    def score_queued(self) -> None:
        """(Re)start scoring every queued study with the current model."""
        if self._closed or self.info is None or self.reading_files:
            return
        self._flush_results()
        self.worklist_model.requeue(only_unfinished=True)
        rows = [r for r in self.worklist_model.worklist.rows if r.state is RowState.QUEUED]
        if not rows:
            return
        entries = [e for r in sorted(rows, key=lambda r: r.seq) for e in r.entries]
        self._job_total, self._job_done = len(rows), 0
        self._job_id = self.model_thread.score(entries, len(rows))
        self._scoring = True
        self._job_sha[self._job_id] = self.info.card.weights_sha256
        self.progressChanged.emit(f"Scoring 0/{len(rows)}", 0, len(rows))

    def cancel(self) -> None:
        """Stop indexing and scoring; studies already scored stay."""
        if self._index_worker is not None:
            self._index_worker.quit()
        self.model_thread.cancel_scoring()

    @property
    def reading_files(self) -> bool:
        """Indexing files or reading the store: the worklist is still filling."""
        return self._index_worker is not None or self._reload_worker is not None

    @property
    def busy(self) -> bool:
        return self.reading_files or self._scoring

    @Slot(int, list)
    def _on_batch_started(self, job_id: int, uids: list[str]) -> None:
        if job_id == self._job_id:
            self.worklist_model.set_scoring(uids)

    @Slot(int, object)
    def _on_scored(self, job_id: int, result: StudyResult) -> None:
        if self.info is None or self._job_sha.get(job_id) != self.info.card.weights_sha256:
            return  # scored by a model that has since been replaced
        self._pending.append(result)
        if job_id == self._job_id:
            self._job_done += 1
        if not self._flush.isActive():
            self._flush.start(self._flush_interval)

    def _flush_results(self) -> None:
        """Apply the results gathered since the last flush: one re-rank, one progress update."""
        if not self._pending:
            return
        if self._scoring:
            done, total = self._job_done, self._job_total
            self.progressChanged.emit(f"Scoring {done}/{total}", done, total)
        batch, self._pending = self._pending, []
        t0 = time.perf_counter()
        self.worklist_model.apply_results(batch)
        # Keep the GUI responsive on huge worklists: flush less often when a re-rank is slow.
        self._flush_interval = int(min(1000, max(100, 5000 * (time.perf_counter() - t0))))

    @Slot(int, bool, str)
    def _on_scoring_finished(self, job_id: int, cancelled: bool, error: str) -> None:
        self._flush_results()
        if job_id != self._job_id:
            return
        self._scoring = False
        self.worklist_model.requeue(only_unfinished=True)
        if error:
            self.message.emit(f"Scoring stopped: {error}")
            self.scoringFailed.emit(error)
        elif cancelled:
            self.message.emit(f"Scoring cancelled after {self._job_done} of {self._job_total} studies")
        else:
            self.message.emit(f"Scored {self._job_done} studies")
            self.scoringDone.emit()
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        if not self.busy:
            self.idle.emit()

    # -- images and heat maps ---------------------------------------------------------------------
    def prefetch_image(self, uid: str) -> None:
        """Decode a study the reader is likely to open next, if it is not cached already."""
        row = self.worklist_model.worklist.get(uid)
        if row is not None and row.state is not RowState.ERROR and uid not in self.images:
            self.request_image(uid)

    def request_image(self, uid: str) -> None:
        """Read the study's representative image off the GUI thread; answers with imageReady/Failed."""
        row = self.worklist_model.worklist.get(uid)
        if row is None:
            return
        if row.state is RowState.ERROR:
            self.imageFailed.emit(uid, row.reason or "unreadable")
            return
        cached = self.images.get(uid)
        if cached is not None:
            self.imageReady.emit(uid, cached)
            return
        if uid in self._reading:
            return
        worker = FunctionWorker(_read, self.backend.read_image, uid, row.meta.path)
        worker.signals.returned.connect(self._on_image)
        self._reading[uid] = worker
        self.io.start(worker)

    @Slot(object)
    def _on_image(self, item: tuple[str, XRayImage | None, str]) -> None:
        uid, image, reason = item
        self._reading.pop(uid, None)
        if self._closed:
            return
        if image is None:
            self.imageFailed.emit(uid, reason)
            return
        self.images.put(uid, image)
        self.imageReady.emit(uid, image)

    def heatmap_key(self, uid: str, label: str) -> tuple[str, str, str] | None:
        return None if self.info is None else (uid, label, self.info.card.weights_sha256)

    def request_heatmap(self, uid: str, label: str) -> bool:
        """Grad-CAM of ``label`` for the study's image, from the cache or the model thread.

        Returns True when it has to be computed (the answer comes later as heatmapReady).
        """
        key = self.heatmap_key(uid, label)
        image = self.images.get(uid)
        row = self.worklist_model.worklist.get(uid)
        if key is None or image is None or row is None or row.state is not RowState.SCORED:
            return False
        cached = self.heatmaps.get(key)
        if cached is not None:
            self.heatmapReady.emit(key, cached)
            return False
        if key not in self._explaining:
            self._explaining = {key}  # the thread keeps only the newest request
            self.model_thread.explain(key, image, label)
        return True

    def explaining(self, key: object) -> bool:
        return key in self._explaining

    @Slot(object, object)
    def _on_explained(self, key: object, heatmap: Heatmap) -> None:
        self._explaining.discard(key)
        self.heatmaps.put(key, heatmap)  # type: ignore[arg-type]
        self.heatmapReady.emit(key, heatmap)

    @Slot(object, str)
    def _on_explain_failed(self, key: object, reason: str) -> None:
        self._explaining.discard(key)
        self.heatmapFailed.emit(key, reason)

    # -- teardown ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Cancel everything and wait for every thread; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._flush.stop()
        if self.watcher is not None:
            self.watcher.stop()
        if self._index_worker is not None:
            self._index_worker.quit()
        self.io.shutdown()
        self.model_thread.shutdown()
        if self.store is not None:
            self.store.close()
