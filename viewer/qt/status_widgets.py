"""Status-bar pieces: the loaded model's identity, and a progress bar with Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from viewer.qt.model_thread import ModelInfo

DEVICES = {"cpu": "the CPU", "cuda": "the GPU", "mps": "the Apple GPU"}
BACKENDS = {"onnx": "ONNX Runtime", "torch": "PyTorch"}
FULL_PRECISION = "fp32"


def device_words(device: str) -> str:
    """Where the model runs, as the reader is told it: 'the CPU', 'the GPU' (else the device's name)."""
    return DEVICES.get(device, device)


def model_text(info: ModelInfo | None) -> str:
    """The model and where it runs, in words; "" until a model has loaded (nothing is known yet)."""
    if info is None:
        return ""
    card = info.card
    text = f"Model: {card.name} {card.version} on {device_words(info.device)}"
    if info.precision != FULL_PRECISION:  # only used where it agreed with fp32 on the parity probe
        text += ", reduced precision (checked)"
    return text


def model_details(info: ModelInfo) -> str:
    """The status bar's tooltip: the runtime and the number format, for whoever asks."""
    backend = BACKENDS.get(info.backend, info.backend)
    checked = "" if info.precision == FULL_PRECISION else ", used as it agreed with fp32 on a fixed probe"
    return f"Scored by {backend} on {info.device}, in {info.precision}{checked}. Package: {info.package}"


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
