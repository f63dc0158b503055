"""A, X, N, Backspace and Ctrl+Z: the reader's review of the current study, kept in the study store.
These are the only keys that change a mark; Space only moves on
(:meth:`viewer.qt.worklist_panel.WorklistPanel.next_unreviewed`)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from inference.store import Review
from viewer.core.worklist import StudyRow
from viewer.qt.read_only_store import cannot_keep
from viewer.qt.review_note_dialog import ReviewNoteDialog
from viewer.qt.review_undo import ReviewUndo
from viewer.qt.session import TriageSession


class ReviewCommands:
    """Marks, notes and unmarks the current study; the worklist holds the study meanwhile."""

    def __init__(
        self,
        parent: QWidget,
        session: TriageSession,
        current_row: Callable[[], StudyRow | None],
        hold: Callable[[], None],
        say: Callable[[str], None],
        show_study: Callable[[str], object],
    ) -> None:
        self._parent, self._session = parent, session
        self._current_row, self._hold, self._say = current_row, hold, say
        self._undo = ReviewUndo(session, show_study, say)

    def mark(self, outcome: str) -> bool:
        """Record ``outcome`` for the current study, keeping any note it has; whether it was kept."""
        row = self._current_row()
        if row is None:
            return False
        self._hold()
        if cannot_keep(self._session, self._say, "the review"):
            return False
        before = row.review
        after = self._session.set_review(row.uid, outcome, before.note if before is not None else "")
        if after is None:
            return False
        self._undo.record(row.uid, before, after)
        self._say(f"Marked {outcome}")
        return True

    def note_dialog(self) -> None:
        """N: the note dialog for the current study (window-modal); a saved note keeps the study's mark
        ("reviewed" when it had none)."""
        row = self._current_row()
        if row is None:
            return
        self._hold()
        if cannot_keep(self._session, self._say, "a review note"):
            return
        uid, review = row.uid, row.review
        dialog = ReviewNoteDialog(review.note if review is not None else "", self._parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._save_note(uid, review, dialog.note()))
        dialog.open()

    def _save_note(self, uid: str, before: Review | None, note: str) -> None:
        outcome = before.outcome if before is not None else "reviewed"
        after = self._session.set_review(uid, outcome, note)
        if after is not None:
            self._undo.record(uid, before, after)
            self._say("Review note saved")

    def clear(self) -> None:
        row = self._current_row()
        self._hold()
        if (
            row is None
            or row.review is None
            or cannot_keep(self._session, self._say, "taking the review off")
        ):
            return
        before = row.review
        if self._session.clear_review(row.uid):
            self._undo.record(row.uid, before, None)
            self._say("Review mark removed")

    def undo(self) -> None:
        """Ctrl+Z: the last review change of this window session undone."""
        self._undo.undo()
