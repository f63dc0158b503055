"""What the comparison pane shows beside the study being read: the patient's prior (P) or a similar
study the reader chose. The study being read is never replaced; Esc or "Close comparison" goes back.

A prior comparison follows the reader: the next study shows its own prior (or the pane closes when it
has none); a similar study belongs to the study it was found for, so moving on closes it. Images are
read by :class:`FileImages` (the I/O pool, cached). The status bar's prior hint says when the study
being read has a prior.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel

from inference.api import ImageMeta, XRayImage
from inference.similar import SimilarStudy
from viewer.core.priors import prior_of
from viewer.core.study_label import display_date, study_name
from viewer.core.worklist import StudyRow
from viewer.qt.compare_view import ComparePane
from viewer.qt.image_requests import FileImages

PRIOR, SIMILAR = "prior", "similar"


class Comparison(QObject):
    """Drives the :class:`ComparePane` and the status bar's prior hint."""

    def __init__(
        self,
        pane: ComparePane,
        images: FileImages,
        rows: Callable[[], Iterable[StudyRow]],  # the worklist's rows, where priors are looked for
        current_row: Callable[[], StudyRow | None],
        similar: Callable[[str], SimilarStudy | None],  # a study the similar panel lists
        deidentify: Callable[[], bool],
        say: Callable[..., None],
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self._pane, self._images, self._rows, self._current_row = pane, images, rows, current_row
        self._similar, self._deidentify, self._say = similar, deidentify, say
        self._mode = ""  # PRIOR, SIMILAR, or "" while closed
        self._for_uid: str | None = None  # the study being read when the comparison was opened
        self._wanted: Path | None = None
        self._heading: Callable[[bool], str] = lambda _hidden: ""
        self.prior_hint = QLabel("", objectName="priorHint")
        self.prior_hint.setToolTip("This patient has an earlier study: P shows it beside this one")
        self.prior_hint.hide()
        pane.closeRequested.connect(self.close)
        images.imageRead.connect(self._on_image)
        images.readFailed.connect(self._on_failed)

    @property
    def mode(self) -> str:
        """What is compared: "prior", "similar", or "" when the pane is closed."""
        return self._mode

    # -- opening ----------------------------------------------------------------------------------
    def compare_with_prior(self) -> None:
        """P: hang the patient's prior study beside the one being read."""
        row = self._current_row()
        prior = prior_of(self._rows(), row) if row is not None else None
        if row is None or prior is None:
            self._say("No earlier study of this patient in the worklist to compare with")
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
        self._pane.hide()
        return True

    # -- following the reader -----------------------------------------------------------------------
    def on_study_changed(self, _uid: str | None = None) -> None:
        """The worklist moved (or changed): a prior comparison hangs the new study's prior, a similar
        one closes; the prior hint is brought up to date."""
        row = self._current_row()
        self._update_hint(row)
        if not self._mode or row is None or row.uid == self._for_uid:
            return
        if self._mode == PRIOR and prior_of(self._rows(), row) is not None:
            self.compare_with_prior()
        else:
            self.close()

    def refresh_caption(self) -> None:
        """Identifiers were hidden or shown: the pane's caption follows."""
        if self._mode:
            self._pane.caption.setText(self._heading(self._deidentify()))
            self._pane.caption.setToolTip(self._pane.caption.text())

    def _update_hint(self, row: StudyRow | None) -> None:
        prior = prior_of(self._rows(), row) if row is not None else None
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
