"""The worklist's search field: text typed there is text (never a window shortcut), and Esc clears
every filter of the pane while one is set; with none set, Esc stays the window's (cancel)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget


class SearchBox(QLineEdit):
    """A line edit that asks its pane to clear every filter on Esc while ``filtering()`` is true."""

    clearRequested = Signal()  # noqa: N815

    def __init__(self, filtering: Callable[[], bool], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._filtering = filtering

    def event(self, event: QEvent) -> bool:
        # Claim Esc before the window's shortcut sees it, but only when there is something to clear.
        if event.type() == QEvent.Type.ShortcutOverride and self._clears(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if self._clears(event):
            self.clearRequested.emit()
            return
        super().keyPressEvent(event)

    def _clears(self, event: QEvent) -> bool:
        return (
            isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
            and self._filtering()
        )
