"""The "Similar studies" panel: the scored studies that look most like the current one, each with a
thumbnail, its similarity, top finding and review outcome; activating one opens it.

Searching, reading the store and decoding thumbnails run on the panel's own one-thread pool (the
similar-case index is used from that thread only); answers for a study no longer shown are dropped.
A study shown before it was scored has no embedding yet: :meth:`refresh` asks again once it is (the
window calls it when results arrive), so the panel never keeps an answer the store has outgrown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from inference.api import XRayImage
from inference.similar import SimilarCases, SimilarityError, SimilarStudy, describe
from inference.store import Store
from viewer.qt.workers import FunctionWorker, WorkerPool

THUMBNAIL = 96  # pixels, longer side
NEIGHBOURS = 6
UID_ROLE = Qt.ItemDataRole.UserRole

Found = list[tuple[SimilarStudy, np.ndarray | None]]


def thumbnail(read_image: Callable[[Path], XRayImage], study: SimilarStudy) -> np.ndarray | None:
    """The study's representative image as 8-bit grey, longer side THUMBNAIL; None when unreadable."""
    if study.result is None:
        return None
    try:
        pixels = read_image(study.result.meta.path).pixels
    except Exception:  # a moved or damaged file costs only its thumbnail
        return None
    scale = THUMBNAIL / max(pixels.shape)
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8))


def caption(study: SimilarStudy) -> str:
    """Similarity, top finding and how the study was read, on two short lines."""
    finding = (
        f"{study.top_finding.replace('_', ' ')} {study.top_probability:.2f}"
        if study.top_probability is not None
        else "no score"
    )
    if study.positive_findings:
        finding += f" (+{len(study.positive_findings)} positive)"
    review = study.review.outcome if study.review is not None else "not reviewed"
    return f"similarity {study.similarity:.2f} · {review}\n{finding}"


class SimilarPanel(QWidget):
    """Neighbours of the current study, searched off the GUI thread."""

    studyActivated = Signal(str)  # noqa: N815  the study UID the reader chose

    def __init__(
        self,
        read_image: Callable[[Path], XRayImage],
        thresholds: Callable[[], Mapping[str, float]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._read_image = read_image
        self._thresholds = thresholds
        self._store: Store | None = None
        self._weights = ""
        self._cases: SimilarCases | None = None  # made and used on the pool's thread only
        self._shown: str | None = None
        self._searching = False  # a search of the shown study is in flight
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
        layout.addWidget(QLabel("<b>Similar studies</b>"))
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
        self.list.clear()
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

    def _search(self, study_uid: str) -> None:
        assert self._store is not None
        self._searching, self._again = True, False
        worker = FunctionWorker(self._find, self._store, self._weights, study_uid, dict(self._thresholds()))
        worker.signals.returned.connect(lambda found, uid=study_uid: self._on_found(uid, found))
        worker.signals.errored.connect(lambda exc, uid=study_uid: self._on_failed(uid, exc))
        self._pool.start(worker)

    def shutdown(self) -> None:
        """Wait for the search in flight (before the store closes)."""
        self._pool.shutdown()

    def _find(
        self, store: Store, weights_sha256: str, study_uid: str, thresholds: Mapping[str, float]
    ) -> Found | str:
        """On the pool's thread: bring the index up to date, search, describe, read thumbnails."""
        cases = self._cases
        if cases is None or cases.store is not store or cases.weights_sha256 != weights_sha256:
            cases = self._cases = SimilarCases(store, weights_sha256)
        else:
            cases.refresh()
        try:
            neighbours = cases.neighbours(study_uid, NEIGHBOURS)
        except SimilarityError as exc:  # expected (e.g. not scored yet): an answer, not a failure
            return str(exc)
        studies = describe(store, weights_sha256, neighbours, thresholds)
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

    def _on_found(self, study_uid: str, found: Found | str) -> None:
        if not self._answered(study_uid):
            return
        self.list.clear()
        if isinstance(found, str):
            self._absent = study_uid
            self.status.setText(f"No similar studies: {found}")
            return
        self._absent = None
        self.status.setText("" if found else "No other scored study to compare with yet.")
        for study, pixels in found:
            item = QListWidgetItem(caption(study))
            item.setData(UID_ROLE, study.study_uid)
            item.setToolTip(study.study_uid)
            if pixels is not None:
                item.setIcon(QIcon(QPixmap.fromImage(_grey_image(pixels))))
            self.list.addItem(item)

    def _on_failed(self, study_uid: str, exc: Exception) -> None:
        if self._answered(study_uid):
            self.list.clear()
            self.status.setText(f"No similar studies: search failed ({exc})")

    def _on_activated(self, item: QListWidgetItem) -> None:
        self.studyActivated.emit(str(item.data(UID_ROLE)))


def _grey_image(pixels: np.ndarray) -> QImage:
    h, w = pixels.shape
    return QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
