"""What the image pane shows while the study store holds no study: how to open some, or the samples."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

TEXT = (
    "<h3>No studies yet</h3>"
    "<p>Open a folder of radiographs (Ctrl+O) or drop files here: they are indexed into the study "
    "store and scored.</p>"
    "<p>To see how the viewer works first, open the bundled sample studies: they open in a window of "
    "their own and are kept in memory only, never in the study store.</p>"
)


class WelcomePane(QWidget):
    """Two buttons under a short text; the window says when it shows (an empty store)."""

    openFolderRequested = Signal()  # noqa: N815
    openSamplesRequested = Signal()  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        text = QLabel(TEXT, wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.folder_button = QPushButton("Open Folder… (Ctrl+O)")
        self.folder_button.clicked.connect(self.openFolderRequested)
        self.samples_button = QPushButton("Open Sample Studies")
        self.samples_button.setToolTip("The bundled demo studies, in memory: nothing is added to the store")
        self.samples_button.clicked.connect(self.openSamplesRequested)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(text)
        for button in (self.folder_button, self.samples_button):
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        self.hide()
