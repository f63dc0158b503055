"""Status-bar pieces: the loaded model's identity, and a progress bar with Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from viewer.qt.model_thread import ModelInfo


def model_text(info: ModelInfo | None) -> str:
    if info is None:
        return "No model loaded"
    card = info.card
    return f"Model: {card.name} {card.version} · {info.device} · {info.backend} · {info.precision}"


class ProgressWidget(QWidget):
    """Label + bar + Cancel; hidden while nothing runs."""

    cancelRequested = Signal()  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar(maximumWidth=180, textVisible=False)
        self.cancel = QPushButton("Cancel", toolTip="Stop indexing and scoring (Esc)")
        self.cancel.clicked.connect(self.cancelRequested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)
        self.hide()

    def set_progress(self, text: str, done: int, total: int) -> None:
        self.label.setText(text)
        self.bar.setRange(0, max(total, 0))  # (0, 0) is Qt's busy indicator
        if total > 0:
            self.bar.setValue(done)
        self.show()

    def finish(self) -> None:
        self.hide()
