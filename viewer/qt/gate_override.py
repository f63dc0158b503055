"""Ctrl+Shift+G: rank a study the safety gate stopped, after the reader confirms; the store audits it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from viewer.core.settings import Settings
from viewer.core.worklist import StudyRow
from viewer.qt.read_only_store import cannot_keep
from viewer.qt.session import TriageSession


class GateOverride:
    """Asks before it overrides the gate for the current study, and only where a store keeps the record."""

    def __init__(
        self,
        parent: QWidget,
        session: TriageSession,
        settings: Settings,
        current_row: Callable[[], StudyRow | None],
        hold: Callable[[], None],
        say: Callable[[str], None],
    ) -> None:
        self._parent, self._session, self._settings = parent, session, settings
        self._current_row, self._hold, self._say = current_row, hold, say

    def score_anyway(self) -> None:
        row = self._current_row()
        if row is None or not row.gate_stopped:
            return
        self._hold()
        if self._session.store is None:
            self._say("No study store is open: an override could not be recorded")
            return
        if cannot_keep(self._session, self._say, "an override"):
            return
        question = (
            f"The safety gate stopped this study: {row.reason_for(self._settings.deidentify)}.\n\n"
            "Its scores may not mean anything. Rank it with them anyway? The override is recorded "
            "in the audit trail."
        )
        if QMessageBox.question(self._parent, "Score anyway", question) != QMessageBox.StandardButton.Yes:
            return
        self._session.override_gate(
            row.uid, lambda: self._say("Scored anyway: the safety gate was overridden for this study")
        )
