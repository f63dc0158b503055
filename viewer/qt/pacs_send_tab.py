"""The PACS dialog's Send tab: the current study's findings as a DICOM SR and its annotated image as a
Secondary Capture, to any configured node (STOW-RS or C-STORE; a DIMSE node is called with this
workstation's AE title).

The study is named by patient ID, accession and date (by date only while patient identifiers are
hidden); only a scored DICOM study can be sent: for any other the tab says why and Send is disabled."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from viewer.core.pacs_nodes import PacsNode
from viewer.core.pacs_study import why_not_sendable
from viewer.core.settings import Settings
from viewer.core.study_label import study_name
from viewer.core.worklist import StudyRow
from viewer.pacs_client import send_results
from viewer.qt.pacs_jobs import PacsJobs, pacs_button

if TYPE_CHECKING:
    from viewer.qt.session import TriageSession


class PacsSendTab(QWidget):
    """The node to send to, the worklist's current study (or why it cannot be sent), and Send."""

    def __init__(
        self,
        session: TriageSession,
        settings: Settings,
        current_uid: Callable[[], str | None],
        jobs: PacsJobs,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session, self.settings, self._current_uid, self.jobs = session, settings, current_uid, jobs
        self._shown_uid: str | None = None
        self.send_node = QComboBox()
        self.send_study = QLabel(wordWrap=True)
        self.why_not = QLabel(wordWrap=True, visible=False)
        self.send_button = pacs_button("Send Current Study's &Results", self.send_current)
        jobs.busy_changed.connect(self._enable_send)
        form = QFormLayout()
        form.addRow("&To node:", self.send_node)
        form.addRow("Study:", self.send_study)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(
            QLabel("Sends the study's findings as a DICOM SR and its annotated image as a Secondary Capture.")
        )
        layout.addWidget(self.why_not)
        layout.addStretch(1)
        layout.addWidget(self.send_button)
        self.show_current_study()

    def show_nodes(self, nodes: list[PacsNode]) -> None:
        self.send_node.clear()
        for node in nodes:
            self.send_node.addItem(node.label(), node)

    def show_current_study(self) -> None:
        """Name the worklist's current study, and say why it cannot be sent when it cannot."""
        row = self._current_row()
        self._shown_uid = row.uid if row is not None else None
        deidentify = self.settings.deidentify
        named = study_name(row.meta, deidentify, with_accession=True) if row is not None else ""
        self.send_study.setText(named or "(select a scored study in the worklist)")
        self.send_study.setToolTip(f"Study UID {row.uid}" if row is not None and not deidentify else "")
        reason = why_not_sendable(row) if row is not None else ""
        self.why_not.setText(reason)
        self.why_not.setVisible(bool(reason))
        self._enable_send(self.jobs.busy)

    @Slot(bool)
    def _enable_send(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy and not why_not_sendable(self._current_row()))

    def _current_row(self) -> StudyRow | None:
        uid = self._current_uid()
        return None if uid is None else self.session.worklist_model.worklist.get(uid)

    def send_current(self) -> None:
        shown = self._shown_uid
        self.show_current_study()
        row, node = self._current_row(), self.send_node.currentData()
        store, info = self.session.store, self.session.info
        if row is not None and row.uid != shown:  # the reader moved on in the worklist meanwhile
            self.jobs.say("The worklist's current study changed: check it above, then send.")
        elif node is None:
            self.jobs.say("Add a node first (Nodes tab).")
        elif store is None or info is None:
            self.jobs.say("Sending needs the study store and a loaded model.")
        elif why_not_sendable(row):
            self.jobs.say(why_not_sendable(row))
        elif row is not None:
            thresholds = dict(self.session.worklist_model.worklist.thresholds)
            engine = self.session.model_thread.engine
            job = partial(send_results, calling=self.settings.pacs_ae_title)
            self.jobs.start(job, store, engine, info.card, thresholds, row.uid, node)
