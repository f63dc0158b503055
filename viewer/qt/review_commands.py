"""Space, A, X, N and Backspace: the reader's review of the current study, kept in the study store."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QInputDialog, QWidget

from viewer.core.worklist import StudyRow
from viewer.qt.read_only_store import cannot_keep
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
    ) -> None:
        self._parent, self._session = parent, session
        self._current_row, self._hold, self._say = current_row, hold, say

    def toggle_reviewed(self) -> None:
        """Space: mark the study reviewed, or take a plain "reviewed" mark off again."""
        row = self._current_row()
        if row is not None and row.review is not None and row.review.outcome == "reviewed":
            self.clear()
        else:
            self.mark("reviewed")

    def mark(self, outcome: str) -> None:
        """Record ``outcome`` for the current study, keeping any note it has."""
        row = self._current_row()
        if row is None:
            return
        self._hold()
        if cannot_keep(self._session, self._say, "the review"):
            return
        note = row.review.note if row.review is not None else ""
        if self._session.set_review(row.uid, outcome, note) is not None:
            self._say(f"Marked {outcome}")

    def note_dialog(self) -> None:
        row = self._current_row()
        if row is None:
            return
        self._hold()
        if cannot_keep(self._session, self._say, "a review note"):
            return
        review = row.review
        text, ok = QInputDialog.getMultiLineText(
            self._parent,
            "Review note",
            "Note on this study (no patient names):",
            review.note if review else "",
        )
        if ok:
            outcome = review.outcome if review is not None else "reviewed"
            if self._session.set_review(row.uid, outcome, text.strip()) is not None:
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
        if self._session.clear_review(row.uid):
            self._say("Review mark removed")
