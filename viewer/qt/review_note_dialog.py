"""N: the review note of a study, written in a small dialog. Enter starts a new line, Ctrl+Enter (either
Enter key) saves, Esc cancels."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

SAVE_KEYS = ("Ctrl+Return", "Ctrl+Enter")  # the main keyboard's Return and the keypad's Enter


class ReviewNoteDialog(QDialog):
    """The note being written; :meth:`note` is what a save keeps (trimmed)."""

    def __init__(self, note: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review note")
        self.editor = QPlainTextEdit(note)
        self.editor.moveCursor(self.editor.textCursor().MoveOperation.End)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Save).setToolTip("Save the note (Ctrl+Enter)")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setToolTip("Leave the note as it was (Esc)")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        for keys in SAVE_KEYS:
            QShortcut(QKeySequence(keys), self, activated=self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Note on this study (no patient names). Ctrl+Enter saves, Esc cancels:"))
        layout.addWidget(self.editor)
        layout.addWidget(buttons)

    def note(self) -> str:
        return self.editor.toPlainText().strip()
