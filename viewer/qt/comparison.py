"""What the comparison pane shows beside the study being read: the patient's prior (P) or a similar
study the reader chose. The study being read is never replaced; Esc or "Close comparison" goes back.

A prior comparison follows the reader: the next study shows its own prior (or the pane closes when it
has none); a similar study belongs to the study it was found for, so moving on closes it. Priors are
looked for among the worklist's studies and, read on the I/O pool, the store's (archived ones too).
Images are read by :class:`FileImages` (the I/O pool, cached). The status bar's prior hint says when
the study being read has a prior.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel

from inference.api import ImageMeta, XRayImage
from inference.similar import SimilarStudy
from inference.store import Store
from viewer.core.priors import prior_of, stored_studies_of_patient
from viewer.core.study_label import display_date, study_name
from viewer.core.worklist import StudyRow
from viewer.qt.compare_view import ComparePane
from viewer.qt.image_requests import FileImages
from viewer.qt.session_host import SessionHost
from viewer.qt.workers import FunctionWorker

log = logging.getLogger(__name__)
PRIOR, SIMILAR = "prior", "similar"


def _patient_studies(store: Store, study_uid: str) -> tuple[str, list[StudyRow]]:
    return study_uid, stored_studies_of_patient(store, study_uid)


class Comparison(QObject):
    """Drives the :class:`ComparePane` and the status bar's prior hint."""

    def __init__(
        self,
        pane: ComparePane,
        images: FileImages,
        session: SessionHost,  # its worklist and store are where priors are looked for
        current_row: Callable[[], StudyRow | None],
        similar: Callable[[str], SimilarStudy | None],  # a study the similar panel lists
        deidentify: Callable[[], bool],
        say: Callable[..., None],
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self._pane, self._images, self._session, self._current_row = pane, images, session, current_row
        self._similar, self._deidentify, self._say = similar, deidentify, say
        self._mode = ""  # PRIOR, SIMILAR, or "" while closed
        self._for_uid: str | None = None  # the study being read when the comparison was opened
        self._wanted: Path | None = None
        self._heading: Callable[[bool], str] = lambda _hidden: ""
        self._stored_for: str | None = None  # the study whose patient's stored studies are known
        self._stored: list[StudyRow] = []  # or being read (then empty)
        self.prior_hint = QLabel("", objectName="priorHint")
        self.prior_hint.setToolTip("This patient has an earlier study: P shows it beside this one")
        self.prior_hint.hide()
        pane.closeRequested.connect(self.close)
        images.imageRead.connect(self._on_image)
        images.readFailed.connect(self._on_failed)

    # -- opening ----------------------------------------------------------------------------------
    def compare_with_prior(self) -> None:
        """P: hang the patient's prior study beside the one being read."""
        row = self._current_row()
        prior = self._prior(row)
        if row is None or prior is None:
            self._say("No earlier study of this patient to compare with")
            return
        meta = prior.meta
        self._open(PRIOR, row.uid, meta, lambda hidden: f"Prior · {study_name(meta, hidden)}")

    def compare_with_similar(self, study_uid: str) -> None:
        """A study chosen in the similar panel, beside the one being read."""
        row = self._current_row()
        study = self._similar(study_uid)
        if row is None or study is None or study.result is None:
            self._say("That study is no longer in the study store")
            return
        meta, similarity = study.result.meta, study.similarity
        heading = f"Similar study ({similarity:.2f})"
        self._open(SIMILAR, row.uid, meta, lambda hidden: f"{heading} · {study_name(meta, hidden)}")

    def _open(self, mode: str, for_uid: str, meta: ImageMeta, heading: Callable[[bool], str]) -> None:
        self._mode, self._for_uid, self._wanted, self._heading = mode, for_uid, meta.path, heading
        self._pane.show_loading(heading(self._deidentify()))
        self._images.request(meta.path)

    @Slot()
    def close(self) -> bool:
        """Take the comparison away (Esc, the pane's button); False when none was shown."""
        if not self._mode:
            return False
        self._mode, self._for_uid, self._wanted = "", None, None
        self._pane.close_pane()
        return True

    # -- following the reader -----------------------------------------------------------------------
    def on_study_changed(self, _uid: str | None = None) -> None:
        """The worklist moved (or changed): a prior comparison hangs the new study's prior, a similar
        one closes; the prior hint is brought up to date."""
        row = self._current_row()
        if row is not None and row.uid != self._stored_for:
            self._look_up_stored(row)
        self._update_hint(row)
        if not self._mode or row is None or row.uid == self._for_uid:
            return
        if self._mode == PRIOR and self._prior(row) is not None:
            self.compare_with_prior()
        else:
            self.close()

    def refresh_caption(self) -> None:
        """Identifiers were hidden or shown: the pane's caption follows."""
        if self._mode:
            self._pane.caption.setText(self._heading(self._deidentify()))

    def _prior(self, row: StudyRow | None) -> StudyRow | None:
        if row is None:
            return None
        rows = self._session.worklist_model.worklist.rows
        return prior_of([*rows, *(self._stored if row.uid == self._stored_for else [])], row)

    def _look_up_stored(self, row: StudyRow) -> None:
        """Read the store's studies of ``row``'s patient off the GUI thread (then the hint follows)."""
        self._stored_for, self._stored = row.uid, []
        store = self._session.store
        if store is None or not row.meta.patient_id:
            return
        worker = FunctionWorker(_patient_studies, store, row.uid)
        worker.signals.returned.connect(self._on_stored)
        worker.signals.errored.connect(self._on_look_up_failed)
        self._session.io.start(worker)

    @Slot(object)
    def _on_stored(self, answer: tuple[str, list[StudyRow]]) -> None:
        study_uid, rows = answer
        if study_uid == self._stored_for and not self._session.closed:
            self._stored = rows
            self._update_hint(self._current_row())

    @Slot(object)
    def _on_look_up_failed(self, exc: Exception) -> None:
        log.warning("the store's studies of the patient could not be read: %s", exc)

    def _update_hint(self, row: StudyRow | None) -> None:
        prior = self._prior(row)
        self.prior_hint.setVisible(prior is not None)
        if prior is not None:
            self.prior_hint.setText(f"Prior {display_date(prior.meta.study_date)} (P to compare)")

    @Slot(object, object)
    def _on_image(self, path: Path, image: XRayImage) -> None:
        if self._mode and path == self._wanted:
            self._pane.show_image(image)

    @Slot(object, str)
    def _on_failed(self, path: Path, reason: str) -> None:
        if self._mode and path == self._wanted:
            self._pane.show_failure("The file could not be read." if self._deidentify() else reason)
