"""The PACS dialog's Query / Retrieve tab: a study query (QIDO-RS) by dates, patient and accession to
a DICOMweb node, its results table, and "Retrieve Selected" (WADO-RS) into the pull cache and from
there into the worklist, where the studies are recorded and scored."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRegularExpression
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewer.core import wording
from viewer.core.pacs_nodes import PacsNode
from viewer.core.settings import Settings
from viewer.pacs_client import Step, StudyQuery, pull_cache, query_studies, retrieve_studies
from viewer.qt.pacs_jobs import PacsJobs, pacs_button

if TYPE_CHECKING:  # the network libraries load with the first network action, not with the window
    from inference.pacs.dicomweb import StudySummary
    from viewer.qt.session import TriageSession

RESULT_COLUMNS = ("Patient ID", "Date", "Accession", "Modalities", "Description", "Study UID")


class PacsQueryTab(QWidget):
    """Query fields, the studies found, and the retrieval of the selected ones."""

    def __init__(
        self, session: TriageSession, settings: Settings, jobs: PacsJobs, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.session, self.settings, self.jobs = session, settings, jobs
        self._found: list[StudySummary] = []
        self._retrieved: list[Path] = []
        self.query_node = QComboBox()
        date = QRegularExpressionValidator(QRegularExpression(r"\d{0,8}"))
        self.date_from = QLineEdit(placeholderText="YYYYMMDD")
        self.date_to = QLineEdit(placeholderText="YYYYMMDD")
        self.date_from.setValidator(date)
        self.date_to.setValidator(date)
        self.patient_id = QLineEdit()
        self.accession = QLineEdit()
        dates = QHBoxLayout()
        dates.addWidget(self.date_from)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.date_to)
        form = QFormLayout()
        form.addRow("DICOMweb n&ode:", self.query_node)
        dates_label = QLabel("Study &dates:")
        dates_label.setBuddy(self.date_from)  # a row of two fields has no buddy of its own: "&" would show
        form.addRow(dates_label, dates)
        form.addRow("&Patient ID:", self.patient_id)
        form.addRow("A&ccession:", self.accession)
        for field in (self.date_from, self.date_to, self.patient_id, self.accession):
            field.returnPressed.connect(self.search)
        self.search_button = pacs_button("Searc&h", self.search)
        self.results = QTableWidget(0, len(RESULT_COLUMNS))
        self.results.setHorizontalHeaderLabels(list(RESULT_COLUMNS))
        self.results.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.retrieve_button = pacs_button("&Retrieve Selected", self.retrieve_selected)
        for button in (self.search_button, self.retrieve_button):
            jobs.busy_changed.connect(button.setDisabled)
        buttons = QHBoxLayout()
        buttons.addWidget(self.search_button)
        buttons.addStretch(1)
        buttons.addWidget(self.retrieve_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.results, 1)
        layout.addLayout(buttons)

    def show_nodes(self, nodes: list[PacsNode]) -> None:
        """Offer the DICOMweb nodes among ``nodes``: queries and retrieval use DICOMweb."""
        self.query_node.clear()
        for node in nodes:
            if node.is_dicomweb:
                self.query_node.addItem(node.label(), node)

    def search(self) -> None:
        node = self.query_node.currentData()
        if node is None:
            self.jobs.say("Add a DICOMweb node first (Nodes tab): queries and retrieval use DICOMweb.")
            return
        query = StudyQuery(
            self.date_from.text(),
            self.date_to.text(),
            self.patient_id.text().strip(),
            self.accession.text().strip(),
        )
        if query.problem():
            self.jobs.say(query.problem())
            return
        self.jobs.start(query_studies, node.destination, query, on_item=self._on_search_item)

    def _on_search_item(self, item: object) -> None:
        if isinstance(item, list):
            self._show_found(item)

    def _show_found(self, found: list[StudySummary]) -> None:
        self._found = found
        self.results.setRowCount(len(found))
        hide = self.settings.deidentify
        for row, study in enumerate(found):
            values = (
                "•••" if hide and study.patient_id else study.patient_id,
                study.study_date, study.accession, study.modalities, study.description, study.study_uid,
            )  # fmt: skip
            for column, value in enumerate(values):
                self.results.setItem(row, column, QTableWidgetItem(value))
        self.jobs.say(
            f"{wording.studies(len(found))} found." + (" Select some and press Retrieve." if found else "")
        )
        if found:
            self.results.setFocus()

    def selected_studies(self) -> list[str]:
        rows = sorted({index.row() for index in self.results.selectionModel().selectedRows()})
        return [self._found[row].study_uid for row in rows if row < len(self._found)]

    def retrieve_selected(self) -> None:
        """The selected studies into the pull cache, then into the worklist (recorded and scored)."""
        node, uids = self.query_node.currentData(), self.selected_studies()
        if node is None or not uids:
            self.jobs.say("Select the studies to retrieve first.")
            return
        self._retrieved = []
        self.jobs.start(
            retrieve_studies,
            node.destination,
            uids,
            self.cache_folder(),
            on_item=self._on_retrieve_item,
            on_end=self._open_retrieved,
        )

    def cache_folder(self) -> Path:
        store = self.session.store
        return pull_cache(store.path if store is not None else None)

    def _on_retrieve_item(self, item: object) -> None:
        if isinstance(item, Step) and item.folder is not None:
            self._retrieved.append(item.folder)

    def _open_retrieved(self) -> None:
        folders, self._retrieved = self._retrieved, []
        if folders:
            self.session.open_paths(folders, replace=False)
            self.jobs.say(
                f"{wording.studies(len(folders))} retrieved: added to the worklist, where they are scored."
            )
