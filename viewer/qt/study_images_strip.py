"""Thumbnails of every image of the study being read (its lateral, added views), under the main image.

The scored image comes first and is the one shown when a study opens; clicking a thumbnail (or V, the
next one) shows that image in the main pane. A study of one image hides the strip. Thumbnails and
images are read by :class:`FileImages` (the I/O pool, cached).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from inference.api import XRayImage
from viewer.core.worklist import StudyRow
from viewer.qt.image_requests import FileImages
from viewer.qt.thumbnails import grey_icon

ICON = 72  # pixels, longer side shown
PATH_ROLE = Qt.ItemDataRole.UserRole


def study_files(row: StudyRow) -> list[Path]:
    """The study's image files, the one whose scores stand for it first, each once."""
    paths = [row.meta.path] + [e.meta.path for e in row.entries]
    return list(dict.fromkeys(paths))


class StudyImagesStrip(QListWidget):
    """A horizontal row of thumbnails; tells ``show_scored`` or ``show_other`` what the reader chose."""

    def __init__(
        self,
        images: FileImages,
        current_row: Callable[[], StudyRow | None],
        show_scored: Callable[[], None],
        show_other: Callable[[XRayImage, str], None],  # the image and what the caption adds
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, objectName="studyImages")
        self._images, self._current_row = images, current_row
        self._show_scored, self._show_other = show_scored, show_other
        self._wanted: Path | None = None  # the other image asked for, until it is read
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(ICON, ICON))
        self.setGridSize(QSize(ICON + 48, ICON + 24))  # room for a label under each thumbnail
        self.setFixedHeight(ICON + 44)
        self.setToolTip("Every image of this study: click one, or press V for the next")
        self.itemClicked.connect(self._choose)
        self.itemActivated.connect(self._choose)
        images.thumbnailRead.connect(self._on_thumbnail)
        images.imageRead.connect(self._on_image)
        self.hide()

    def show_study(self, _uid: str | None = None) -> None:
        """List the current study's images, the scored one current; hidden unless it has several."""
        self._wanted = None
        row = self._current_row()
        self.clear()
        files = study_files(row) if row is not None else []
        if len(files) < 2:
            self.hide()
            return
        for i, path in enumerate(files):
            item = QListWidgetItem(self._label(i, ""))
            item.setData(PATH_ROLE, path)
            self.addItem(item)
            self._images.request_thumbnail(path)
        self.setCurrentRow(0)
        self.show()

    def refresh(self) -> None:
        """The worklist changed: list the current study again if its files did (more arrived)."""
        row = self._current_row()
        files = study_files(row) if row is not None else []
        listed = [self.item(i).data(PATH_ROLE) for i in range(self.count())]
        if files != listed and (len(files) > 1 or listed):
            self.show_study()

    def next_image(self) -> None:
        """V: the study's next image (after the last, the scored one again)."""
        if self.isHidden() or self.count() < 2:
            return
        self.setCurrentRow((self.currentRow() + 1) % self.count())
        self._choose(self.currentItem())

    def _choose(self, item: QListWidgetItem) -> None:
        self.setCurrentItem(item)
        if self.row(item) == 0:
            self._wanted = None
            self._show_scored()
            return
        self._wanted = item.data(PATH_ROLE)
        self._images.request(self._wanted)

    @staticmethod
    def _label(index: int, view: str) -> str:
        """The scored image as "PA · scored"; the others by their view, else as "Image N"."""
        if index == 0:
            return f"{view} · scored" if view else "Scored"
        return view or f"Image {index + 1}"

    def _item(self, path: Path) -> QListWidgetItem | None:
        for i in range(self.count()):
            if self.item(i).data(PATH_ROLE) == path:
                return self.item(i)
        return None

    @Slot(object, object)
    def _on_thumbnail(self, path: Path, small: np.ndarray) -> None:
        item = self._item(path)
        if item is not None:
            item.setIcon(grey_icon(small))

    @Slot(object, object)
    def _on_image(self, path: Path, image: XRayImage) -> None:
        item = self._item(path)
        if item is None:
            return
        view = image.meta.view_position
        item.setText(self._label(self.row(item), view))
        if path == self._wanted:
            self._wanted = None
            shown = f"image {self.row(item) + 1} of {self.count()}" + (f" ({view})" if view else "")
            self._show_other(image, f"{shown}: no heat map on it")
