"""The "Similar studies" panel: the scored studies that look most like the current one, each named
(patient or file, and date; by date only with identifiers hidden) with a thumbnail, its top finding at
the reader's thresholds, its similarity and review outcome; activating one asks to compare it.

Searching, reading the store and decoding thumbnails run on the panel's own one-thread pool (the
similar-case index is used from that thread only); answers for a study no longer shown are dropped.
A study shown before it was scored has no embedding yet: :meth:`refresh` asks again once it is (the
window calls it when results arrive), so the panel never keeps an answer the store has outgrown.
Captions are written on the GUI thread from the probabilities, so they follow the reader's current
thresholds and identifier setting (:meth:`recaption`) without a new search.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from inference.api import Status, XRayImage
from inference.similar import SimilarCases, SimilarityError, SimilarStudy, describe
from inference.store import Store
from inference.worklist.ranking import figures
from viewer.core.study_label import study_name
from viewer.core.worklist import RowState, StudyRow
from viewer.qt.thumbnails import THUMBNAIL, grey_icon, shrink
from viewer.qt.workers import FunctionWorker, WorkerPool

log = logging.getLogger(__name__)
NEIGHBOURS = 6
UID_ROLE = Qt.ItemDataRole.UserRole
NOT_IN_STORE = "not in store"  # why a study cannot be searched: it is not stored, or
NOT_SEARCHABLE = "not searchable"  # it is, without an embedding of these weights

Found = list[tuple[SimilarStudy, np.ndarray | None]]


def thumbnail(read_image: Callable[[Path], XRayImage], study: SimilarStudy) -> np.ndarray | None:
    """The study's representative image as 8-bit grey, longer side THUMBNAIL; None when unreadable."""
    if study.result is None:
        return None
    try:
        return shrink(read_image(study.result.meta.path).pixels)
    except Exception:  # a moved or damaged file costs only its thumbnail
        return None


def caption(study: SimilarStudy, thresholds: Mapping[str, float], deidentify: bool) -> str:
    """Who and when; the top finding at the reader's ``thresholds``, similarity and how it was read."""
    result = study.result
    name = study_name(result.meta, deidentify) if result is not None else "A study no longer in the store"
    scored = result is not None and result.status is Status.SCORED
    shown = result.probabilities if result is not None and scored else {}
    f = figures([shown], thresholds)[0]
    finding = "no score"
    if f.top_probability is not None:
        finding = f"{f.top_finding.replace('_', ' ')} {f.top_probability:.2f}"
    if len(f.positives) > 1:
        finding += f" (+{len(f.positives) - 1} more positive)"
    review = study.review.outcome if study.review is not None else "not reviewed"
    return f"{name}\n{finding} · similarity {study.similarity:.2f} · {review}"


def absence_text(answer: str, state: RowState | None) -> str:
    """Why the shown study has no similar studies, in the reader's words (no UIDs, no jargon)."""
    if state is RowState.ERROR:
        return "This study could not be read, so it cannot be compared with others."
    if state is RowState.NOT_SCORED:
        return (
            "This study was not scored (not a frontal chest image, or stopped by the safety gate), "
            "so similar studies are not searched."
        )
    if answer == NOT_IN_STORE:
        return "This study is not in the study store, so similar studies cannot be searched."
    if state is RowState.SCORED:
        return "This study was scored before similar-study search was available: nothing to compare."
    return "Similar studies show once this study is scored."


class SimilarPanel(QWidget):
    """Neighbours of the current study, searched off the GUI thread."""

    studyActivated = Signal(str)  # noqa: N815  the study UID the reader chose

    def __init__(
        self,
        read_image: Callable[[Path], XRayImage],
        thresholds: Callable[[], Mapping[str, float]],
        parent: QWidget | None = None,
        deidentify: Callable[[], bool] = lambda: False,
        row_of: Callable[[str], StudyRow | None] = lambda _uid: None,
    ) -> None:
        super().__init__(parent)
        self._read_image = read_image
        self._thresholds = thresholds
        self._deidentify = deidentify
        self._row_of = row_of  # a study's worklist row: why it has no neighbours
        self._found: dict[str, SimilarStudy] = {}  # the studies listed, by UID
        self._store: Store | None = None
        self._weights = ""
        self._cases: SimilarCases | None = None  # made and used on the pool's thread only
        self._shown: str | None = None
        self._searching = False  # a search of the shown study is in flight
        self._closed = False  # shut down: answers still on their way are dropped
        self._again = False  # refresh() asked meanwhile: search once more when it is answered
        self._absent: str | None = None  # the shown study, when the answer was "not searchable"
        self._retried: str | None = None  # the shown study, once refresh_if_scored() asked again
        self._pool = WorkerPool(max_threads=1)
        self.status = QLabel("", wordWrap=True, objectName="similarStatus")
        self.list = QListWidget(objectName="similarList")
        self.list.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.list.setWordWrap(True)
        self.list.itemActivated.connect(self._on_activated)
        self.list.itemClicked.connect(self._on_activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        title = QLabel("<b>Similar studies</b> (click one to compare it beside this study)", wordWrap=True)
        layout.addWidget(title)  # wraps: a narrow pane (150% scaling) would cut it
        layout.addWidget(self.status)
        layout.addWidget(self.list, 1)

    def set_source(self, store: Store | None, weights_sha256: str) -> None:
        """The store and the weights whose embeddings are compared (a new model: a new index)."""
        self._store, self._weights = store, weights_sha256
        self.show_study(self._shown)

    def show_study(self, study_uid: str | None) -> None:
        """Search the neighbours of ``study_uid`` (None: clear the panel)."""
        self._shown = study_uid
        self._absent = self._retried = None
        self._searching = self._again = False  # an answer for another study is dropped
        self._clear()
        if study_uid is None or self._store is None or not self._weights:
            self.status.setText("" if self._store is not None else "Similar studies need the study store.")
            return
        self.status.setText("Searching…")
        self._search(study_uid)

    def refresh(self) -> None:
        """Search the shown study again (new studies were scored, or it was): the list stays until the
        new answer; one search at a time, a request meanwhile runs once after it."""
        if self._shown is None or self._store is None or not self._weights:
            return
        if self._searching:
            self._again = True
            return
        self._search(self._shown)

    def refresh_if_scored(self, study_uid: str) -> None:
        """``study_uid`` (the shown study) is scored now: ask again, once, if it was not searchable."""
        if study_uid == self._shown == self._absent and self._retried != study_uid:
            self._retried = study_uid
            self.refresh()

    def recaption(self) -> None:
        """Write the entries again under the reader's current thresholds and identifier setting."""
        thresholds, hidden = self._thresholds(), self._deidentify()
        for row in range(self.list.count()):
            item = self.list.item(row)
            text = caption(self._found[str(item.data(UID_ROLE))], thresholds, hidden)
            item.setText(text)
            item.setToolTip(f"{text}\nClick or press Enter to compare it beside the current study")

    def found(self, study_uid: str) -> SimilarStudy | None:
        """A listed study as the search described it (None when not listed)."""
        return self._found.get(study_uid)

    def _search(self, study_uid: str) -> None:
        assert self._store is not None
        self._searching, self._again = True, False
        worker = FunctionWorker(self._answer, self._store, self._weights, study_uid)
        worker.signals.returned.connect(self._on_answer)  # a method: Qt drops it with the panel
        self._pool.start(worker)

    def shutdown(self) -> None:
        """Wait for the search in flight (before the store closes); answers still on their way are
        dropped."""
        self._closed = True
        self._pool.shutdown()

    def _answer(
        self, store: Store, weights_sha256: str, study_uid: str
    ) -> tuple[str, Found | str | Exception]:
        """On the pool's thread: the search's answer, or why it failed, with the study it is for."""
        try:
            return study_uid, self._find(store, weights_sha256, study_uid)
        except Exception as exc:  # the store went away, an unreadable index: said in the panel
            return study_uid, exc

    def _find(self, store: Store, weights_sha256: str, study_uid: str) -> Found | str:
        """On the pool's thread: bring the index up to date, search, describe, read thumbnails."""
        cases = self._cases
        if cases is None or cases.store is not store or cases.weights_sha256 != weights_sha256:
            cases = self._cases = SimilarCases(store, weights_sha256)
        else:
            cases.refresh()
        try:
            neighbours = cases.neighbours(study_uid, NEIGHBOURS)
        except SimilarityError:  # expected (e.g. not scored yet): an answer, not a failure
            return NOT_SEARCHABLE if store.has_study(study_uid) else NOT_IN_STORE
        studies = describe(store, weights_sha256, neighbours, {})  # the captions apply the thresholds
        return [(study, thumbnail(self._read_image, study)) for study in studies]

    def _answered(self, study_uid: str) -> bool:
        """A search ended: True when its answer is for the shown study and is the latest wanted."""
        if study_uid != self._shown:
            return False
        self._searching = False
        if self._again:
            self.refresh()
            return False
        return True

    def _on_answer(self, answer: tuple[str, Found | str | Exception]) -> None:
        study_uid, found = answer
        if self._closed:
            return
        if isinstance(found, Exception):
            self._on_failed(study_uid, found)
        else:
            self._on_found(study_uid, found)

    def _on_found(self, study_uid: str, found: Found | str) -> None:
        if not self._answered(study_uid):
            return
        self._clear()
        if isinstance(found, str):
            self._absent = study_uid
            row = self._row_of(study_uid)
            self.status.setText(absence_text(found, row.state if row is not None else None))
            return
        self._absent = None
        self.status.setText("" if found else "No other scored study to compare with yet.")
        for study, pixels in found:
            self._found[study.study_uid] = study
            item = QListWidgetItem()
            item.setData(UID_ROLE, study.study_uid)
            if pixels is not None:
                item.setIcon(grey_icon(pixels))
            self.list.addItem(item)
        self.recaption()

    def _on_failed(self, study_uid: str, exc: Exception) -> None:
        if self._answered(study_uid):
            self._clear()
            log.warning("similar-study search failed: %s", exc)
            self.status.setText("Similar studies could not be searched (the log has the details).")

    def _clear(self) -> None:
        self.list.clear()
        self._found.clear()

    def _on_activated(self, item: QListWidgetItem) -> None:
        self.studyActivated.emit(str(item.data(UID_ROLE)))
