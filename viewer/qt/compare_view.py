"""The comparison pane: another study's image (a prior, a similar study) beside the study being read,
with its own caption and a way back ("Close comparison", or Esc).

It hangs in a splitter beside the reading pane (its parent), which hangs in the window's splitter:
opening takes half of the reading area and lends it the other panes' width down to their minimums
(the worklist, the findings); closing gives the window's panes back the sizes they had."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSplitter, QVBoxLayout, QWidget

from inference.api import XRayImage
from viewer.qt.elided_label import ElidedLabel
from viewer.qt.image_view import ImageView


class ComparePane(QWidget):
    """A caption, a close button and an image view; hidden until something is compared."""

    closeRequested = Signal()  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="comparePane")
        self.caption = ElidedLabel(" ", objectName="compareCaption")  # cut, whole in its tooltip
        self.caption.setStyleSheet("padding: 2px 4px; font-weight: bold;")
        self.close_button = QPushButton("Close comparison", objectName="closeComparison")
        self.close_button.setToolTip("Back to the study alone (Esc)")
        self.close_button.clicked.connect(self.closeRequested)
        self.image_view = ImageView()
        self.image_view.set_overlay_visible(False)  # heat maps belong to the study being read
        self._lent: list[int] = []  # the window's pane sizes before the pane opened
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.caption, 1)
        header.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.image_view, 1)
        self.hide()

    def show_loading(self, caption: str) -> None:
        """Show the pane (half of the reading area when it opens) with ``caption``, its image to come."""
        self.caption.setText(caption)
        self.image_view.set_image(None, "Loading…")
        if self.isHidden():
            self._open_beside()

    def close_pane(self) -> None:
        """Hide the pane; the window's panes get their sizes back."""
        self.hide()
        reading = self.parentWidget()
        window = reading.parentWidget() if reading is not None else None
        if isinstance(window, QSplitter) and self._lent:
            window.setSizes(self._lent)
        self._lent = []

    def _open_beside(self) -> None:
        reading = self.parentWidget()
        window = reading.parentWidget() if reading is not None else None
        if isinstance(window, QSplitter) and isinstance(reading, QSplitter):
            self._lent = window.sizes()
            sizes, at = list(self._lent), window.indexOf(reading)
            for i in range(window.count()):
                pane = window.widget(i)
                if i != at and pane is not None:
                    spare = max(0, sizes[i] - pane.minimumWidth())
                    sizes[i], sizes[at] = sizes[i] - spare, sizes[at] + spare
            window.setSizes(sizes)
        self.show()
        QTimer.singleShot(0, self, self._split_half)  # once the splitter has taken the pane in

    def _split_half(self) -> None:
        reading = self.parentWidget()
        if isinstance(reading, QSplitter) and self.isVisible():
            total = reading.width() - reading.handleWidth()
            reading.setSizes([total - total // 2, total // 2])

    def show_image(self, image: XRayImage) -> None:
        self.image_view.set_image(image)

    def show_failure(self, reason: str) -> None:
        self.image_view.set_image(None, f"Cannot show this study.\n{reason}")
