"""The PACS menu's window: a tab per job (the configured nodes, a study query with "Retrieve Selected"
into the worklist, sending the current study's SR and Secondary Capture) above the strip that runs
their network jobs.

Every network action runs on the dialog's own worker thread, one at a time, with its progress below
the tabs; Esc cancels it (between studies or steps: a transfer under way finishes or times out).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Slot
from PySide6.QtWidgets import QDialog, QTabWidget, QVBoxLayout, QWidget

from viewer.core.settings import Settings
from viewer.qt.pacs_jobs import PacsJobs
from viewer.qt.pacs_nodes_tab import PacsNodesTab
from viewer.qt.pacs_query_tab import PacsQueryTab
from viewer.qt.pacs_send_tab import PacsSendTab

if TYPE_CHECKING:
    from viewer.qt.session import TriageSession


class Tab(IntEnum):
    NODES = 0
    QUERY = 1
    SEND = 2


class PacsDialog(QDialog):
    """One non-modal window for the PACS menu; owned by the main window, hidden when closed."""

    def __init__(
        self,
        session: TriageSession,
        settings: Settings,
        save_settings: Callable[[], None],
        current_uid: Callable[[], str | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("PACS")
        self.jobs = PacsJobs()
        self.nodes_tab = PacsNodesTab(settings, save_settings, self.jobs)
        self.query_tab = PacsQueryTab(session, settings, self.jobs)
        self.send_tab = PacsSendTab(session, settings, current_uid, self.jobs)
        for chooser in (self.query_tab, self.send_tab):
            self.nodes_tab.nodes_changed.connect(chooser.show_nodes)
            chooser.show_nodes(self.nodes_tab.nodes)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.nodes_tab, "&Nodes")
        self.tabs.addTab(self.query_tab, "&Query / Retrieve")
        self.tabs.addTab(self.send_tab, "S&end")
        self.tabs.currentChanged.connect(self._on_tab)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.jobs)
        self.resize(820, 520)

    def show_tab(self, tab: Tab) -> None:
        self.tabs.setCurrentIndex(tab)
        self._on_tab(tab)
        self.show()
        self.raise_()
        self.activateWindow()

    @Slot(int)
    def _on_tab(self, index: int) -> None:
        if index == Tab.SEND:
            self.send_tab.show_current_study()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        """Coming back to the window (the reader may have moved on in the worklist meanwhile) names the
        current study again on the Send tab."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange:
            self._on_tab(self.tabs.currentIndex())

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def reject(self) -> None:
        """Esc cancels the running action; with none running it closes the window."""
        if self.busy:
            self.jobs.cancel()
        else:
            super().reject()

    def shutdown(self) -> None:
        """Cancel the running action and wait for the worker thread (the window is closing)."""
        self.jobs.shutdown()
