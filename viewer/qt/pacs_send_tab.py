"""The PACS dialog's Send tab: the current study's findings as a DICOM SR and its annotated image as a
Secondary Capture, to any configured node (STOW-RS or C-STORE)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from viewer.core.pacs_nodes import PacsNode
from viewer.core.worklist import RowState, StudyRow
from viewer.pacs_client import send_results
from viewer.qt.pacs_jobs import PacsJobs, pacs_button

if TYPE_CHECKING:
    from viewer.qt.session import TriageSession


class PacsSendTab(QWidget):
    """The node to send to, the worklist's current study, and the Send button."""

    def __init__(
        self,
        session: TriageSession,
        current_uid: Callable[[], str | None],
        jobs: PacsJobs,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session, self._current_uid, self.jobs = session, current_uid, jobs
        self.send_node = QComboBox()
        self.send_study = QLabel(wordWrap=True)
        self.send_button = pacs_button("Send Current Study's &Results", self.send_current)
        jobs.busy_changed.connect(self.send_button.setDisabled)
        form = QFormLayout()
        form.addRow("&To node:", self.send_node)
        form.addRow("Study:", self.send_study)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(
            QLabel("Sends the study's findings as a DICOM SR and its annotated image as a Secondary Capture.")
        )
        layout.addStretch(1)
        layout.addWidget(self.send_button)

    def show_nodes(self, nodes: list[PacsNode]) -> None:
        self.send_node.clear()
        for node in nodes:
            self.send_node.addItem(node.label(), node)

    def show_current_study(self) -> None:
        row = self._current_row()
        self.send_study.setText(row.uid if row is not None else "(select a scored study in the worklist)")

    def _current_row(self) -> StudyRow | None:
        uid = self._current_uid()
        return None if uid is None else self.session.worklist_model.worklist.get(uid)

    def send_current(self) -> None:
        row, node = self._current_row(), self.send_node.currentData()
        store, info = self.session.store, self.session.info
        if node is None:
            self.jobs.say("Add a node first (Nodes tab).")
        elif store is None or info is None:
            self.jobs.say("Sending needs the study store and a loaded model.")
        elif row is None or row.state is not RowState.SCORED:
            self.jobs.say("Select a scored study in the worklist first.")
        else:
            thresholds = dict(self.session.worklist_model.worklist.thresholds)
            engine = self.session.model_thread.engine
            self.jobs.start(send_results, store, engine, info.card, thresholds, row.uid, node)
