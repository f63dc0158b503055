"""The comparison pane: another study's image (a prior, a similar study) beside the study being read,
with its own caption and a way back ("Close comparison", or Esc)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from inference.api import XRayImage
from viewer.qt.image_view import ImageView


class ComparePane(QWidget):
    """A caption, a close button and an image view; hidden until something is compared."""

    closeRequested = Signal()  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="comparePane")
        self.caption = QLabel(" ", objectName="compareCaption")
        self.caption.setStyleSheet("padding: 2px 4px; background: #263238; color: white;")
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        # a long caption is cut, never widens the pane (the layout stays put)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.close_button = QPushButton("Close comparison", objectName="closeComparison")
        self.close_button.setToolTip("Back to the study alone (Esc)")
        self.close_button.clicked.connect(self.closeRequested)
        self.image_view = ImageView()
        self.image_view.set_overlay_visible(False)  # heat maps belong to the study being read
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
        self.caption.setText(caption)
        self.caption.setToolTip(caption)
        self.image_view.set_image(None, "Loading…")
        self.show()

    def show_image(self, image: XRayImage) -> None:
        self.image_view.set_image(image)

    def show_failure(self, reason: str) -> None:
        self.image_view.set_image(None, f"Cannot show this study.\n{reason}")
