"""The banner a window shows while its team store's server cannot be reached: what the reader does is
kept and written when the server answers again; the worklist stays as it is shown."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QWidget

from viewer.qt.session import TriageSession


class UnreachableBanner(QLabel):
    """Shown from the first call the server could not take until it answers again."""

    def __init__(self, session: TriageSession, parent: QWidget | None = None) -> None:
        super().__init__("", parent, wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.setObjectName("unreachableBanner")
        self.setStyleSheet("background:#ef6c00; color:black; padding:4px;")
        self.hide()
        session.storeUnreachable.connect(self.show_notice)

    @Slot(str)
    def show_notice(self, notice: str) -> None:
        """``notice`` while the server is away; "" when it is back."""
        self.setText(notice)
        self.setVisible(bool(notice))
