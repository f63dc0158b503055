"""Ctrl+Z: the review changes of this window session (marks, clears, notes), undone last first. Undoing
puts back exactly the earlier mark and note in the study store (or takes the review off when there was
none), audits it as "review-undone" with what was restored, and shows the study again."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from inference.store import Review
from viewer.qt.read_only_store import cannot_keep
from viewer.qt.session import TriageSession

UNDO_DEPTH = 50  # review changes remembered; older ones cannot be undone


def _mark_and_note(review: Review | None) -> tuple[str, str] | None:
    return (review.outcome, review.note) if review is not None else None


def _outcome(review: Review | None) -> str:
    return review.outcome if review is not None else "none"


class ReviewUndo:
    """The undo stack of review changes: (study, review before, review after)."""

    def __init__(
        self, session: TriageSession, show_study: Callable[[str], object], say: Callable[[str], None]
    ) -> None:
        self._session, self._show_study, self._say = session, show_study, say
        self._changes: deque[tuple[str, Review | None, Review | None]] = deque(maxlen=UNDO_DEPTH)

    def record(self, uid: str, before: Review | None, after: Review | None) -> None:
        """A change the store kept; one that left mark and note as they were is no step to undo."""
        if _mark_and_note(before) != _mark_and_note(after):
            self._changes.append((uid, before, after))

    def undo(self) -> None:
        if not self._changes:
            self._say("Nothing to undo")
            return
        if cannot_keep(self._session, self._say, "undoing the review"):
            return
        uid, before, after = self._changes[-1]
        if before is None:
            kept = self._session.clear_review(uid)
        else:
            kept = self._session.set_review(uid, before.outcome, before.note) is not None
        if not kept:
            return  # the session said why; the step stays to be tried again
        self._changes.pop()
        note = {"note": before.note} if before is not None and before.note else {}
        self._session.audit("review-undone", uid, restored=_outcome(before), undone=_outcome(after), **note)
        self._show_study(uid)
        self._say(f"Undone: the study is {before.outcome} again" if before else "Undone: review mark removed")
