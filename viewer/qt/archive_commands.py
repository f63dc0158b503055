"""Taking studies off the worklist (they stay in the study store): the selected ones, or the old ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget

from viewer.core import wording
from viewer.qt.read_only_store import cannot_keep
from viewer.qt.session import TriageSession


class ArchiveCommands:
    """Archives after the reader confirms, and says how many studies went."""

    def __init__(
        self,
        parent: QWidget,
        session: TriageSession,
        selected_uids: Callable[[], list[str]],
        say: Callable[[str], None],
    ) -> None:
        self._parent, self._session, self._selected_uids, self._say = parent, session, selected_uids, say

    def selected_studies(self) -> None:
        uids = self._selected_uids()
        if not self._can_archive() or not uids:
            return
        question = f"Take {len(uids)} selected studies off the worklist (they stay in the store)?"
        answer = QMessageBox.question(self._parent, "Archive studies", question)
        if answer == QMessageBox.StandardButton.Yes:
            self._say(f"Archived {wording.studies(self._session.archive(uids))}")

    def older_than_dialog(self) -> None:
        if not self._can_archive():
            return
        days, ok = QInputDialog.getInt(
            self._parent, "Archive old studies", "Archive studies that arrived more than this many days ago:",
            30, 0, 36_500,
        )  # fmt: skip
        if ok:
            before = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
            self._session.archive_older_than(before, lambda n: self._say(f"Archived {wording.studies(n)}"))

    def _can_archive(self) -> bool:
        if self._session.store is None:
            self._say("No study store is open: nothing to archive")
        return self._session.store is not None and not cannot_keep(self._session, self._say, "archiving")
