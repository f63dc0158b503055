"""The bands across the top of the main window: the demo model's warning, and the store that cannot be
written. Each keeps its place once shown, so the panes below never move while the reader works (the
team store's unreachable server has its own: :mod:`viewer.qt.unreachable_banner`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from viewer.qt.model_thread import ModelInfo

DEMO_TEXT = (
    "DEMO MODEL — trained on a small public sample to show how the viewer works. NOT FOR DIAGNOSTIC USE."
)


def _same(a: Path, b: Path | None) -> bool:
    return b is not None and Path(a).resolve() == Path(b).resolve()


def is_demo(info: ModelInfo, demo_package: Path | None) -> bool:
    """The bundled demo package, or any model its card calls a demo."""
    return _same(info.package, demo_package) or "demo" in info.card.name.lower()


class DemoBanner(QLabel):
    """Red: the model is a demo. Shown as soon as the bundled demo starts loading, not once it has."""

    def __init__(self, demo_package: Path | None) -> None:
        super().__init__(DEMO_TEXT, wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self._demo_package = demo_package
        self.setObjectName("demoBanner")
        self.setStyleSheet("background:#b71c1c; color:white; font-weight:bold; padding:4px;")
        self.hide()

    def loading(self, package: Path) -> None:
        if _same(package, self._demo_package):
            self.show()

    def loaded(self, info: ModelInfo) -> None:
        self.setVisible(is_demo(info, self._demo_package))
        self.setToolTip(info.card.intended_use)


class StoreBanner(QLabel):
    """Amber: the study store cannot be written (read-only, disk full), for as long as the window is open."""

    def __init__(self) -> None:
        super().__init__("", wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.setObjectName("storeBanner")
        self.setStyleSheet("background:#f9a825; color:black; padding:4px;")
        self.hide()

    def show_notice(self, notice: str) -> bool:
        """Show ``notice``; False when there is none or it is shown already (say it once)."""
        if not notice or self.text() == notice:
            return False
        self.setText(notice)
        self.show()
        return True
