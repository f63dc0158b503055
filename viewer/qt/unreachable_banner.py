"""The banner a window shows while its team store's server cannot be reached: what the reader does is
kept and written when the server answers again; the worklist stays as it is shown. Closing the window
meanwhile asks first, as what was kept would be lost."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

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


def may_close(parent: QWidget, session: TriageSession) -> bool:
    """Whether the window may close: asked when changes are kept for a server that cannot be reached."""
    kept = session.store_unwritten
    if not kept:
        return True
    question = (
        f"The team store cannot be reached: {kept} change(s) of yours (reviews, notes, claims) are not "
        "written yet and would be lost.\n\nClose anyway?"
    )
    answer = QMessageBox.question(parent, "Changes not written", question)
    return answer == QMessageBox.StandardButton.Yes
