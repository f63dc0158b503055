"""The PACS menu's window: the configured nodes (add, remove, test), a study query with "Retrieve
Selected" into the worklist, and sending the current study's SR and Secondary Capture.

Every network action runs on the dialog's own worker thread, one at a time, with its progress below
the tabs; Esc cancels it (between studies or steps: a transfer under way finishes or times out).
Failures are shown as their plain message, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRegularExpression, Slot
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inference.pacs import PacsError, WebNode
from viewer.core.pacs_nodes import (
    PacsNode,
    make_node,
    nodes_from_settings,
    nodes_to_settings,
    with_node,
    without_node,
)
from viewer.core.settings import Settings
from viewer.core.worklist import RowState, StudyRow
from viewer.qt.workers import GeneratorWorker, WorkerPool

if TYPE_CHECKING:  # the network libraries load with the first network action, not with the window
    from inference.api import ModelCard
    from inference.pacs.dicomweb import StudySummary
    from inference.runtime.engine import Engine
    from inference.store import Store
    from viewer.qt.session import TriageSession

ADDRESS_HINT = "http://HOST:8042/dicom-web  or  dicom://AE_TITLE@HOST:PORT"
RESULT_COLUMNS = ("Patient ID", "Date", "Accession", "Modalities", "Description", "Study UID")


class Tab(IntEnum):
    NODES = 0
    QUERY = 1
    SEND = 2


@dataclass(frozen=True)
class Step:
    """Progress of a network job; ``folder`` is a study retrieved into the cache, ready to open."""

    done: int
    total: int
    text: str
    folder: Path | None = None


def _test(node: PacsNode, cancelled: Callable[[], bool]) -> Iterator[Step]:
    from inference.pacs.transfer import echo

    yield Step(0, 0, f"Testing {node.name}…")
    echo(node.destination)
    yield Step(1, 1, f"{node.name} answers.")


def _query(
    node: WebNode, filters: dict, cancelled: Callable[[], bool]
) -> Iterator[Step | list[StudySummary]]:
    from inference.pacs.dicomweb import find_studies

    yield Step(0, 0, f"Searching {node}…")
    yield find_studies(node, **filters)


def _retrieve(
    node: WebNode, uids: Sequence[str], cache: Path, cancelled: Callable[[], bool]
) -> Iterator[Step]:
    """Each study into the cache; every study folder is handed on as soon as it is there, so that what
    arrived before a failure or a cancel still reaches the worklist."""
    from inference.pacs.cache import study_folder
    from inference.pacs.dicomweb import retrieve_study

    total = len(uids)
    for number, uid in enumerate(uids, start=1):
        yield Step(number - 1, total, f"Retrieving study {number} of {total}…")
        failure = ""
        try:
            retrieve_study(node, uid, cache)
        except PacsError as exc:
            failure = str(exc)
        folder = study_folder(cache, uid)
        yield Step(
            number, total, failure or f"Retrieved {number} of {total}", folder if folder.is_dir() else None
        )
        if failure:
            raise PacsError(failure)


def _send(
    objects_of: tuple[Store, Engine, ModelCard, dict[str, float]],
    uid: str,
    node: PacsNode,
    cancelled: Callable[[], bool],
) -> Iterator[Step]:
    """Make the study's SR and Secondary Capture (as ``export-dicom`` does), then send them."""
    from inference.pacs.objects import Skipped, study_objects
    from inference.pacs.transfer import send_objects

    store, engine, card, thresholds = objects_of
    yield Step(0, 2, "Making the SR and Secondary Capture…")
    objects = next(study_objects(store, engine, card, thresholds, [uid]))
    if isinstance(objects, Skipped):
        raise ValueError(f"not sent: {objects.reason}")
    if cancelled():
        return
    yield Step(1, 2, f"Sending to {node.name}…")
    send_objects(node.destination, objects, store)
    yield Step(2, 2, f"SR and Secondary Capture sent to {node.name}.")


def _plain(exc: Exception) -> str:
    """The reader's message for a failed job: the PACS link's own text, else the error named."""
    if isinstance(exc, PacsError | ValueError):
        return str(exc)
    if isinstance(exc, CancelledError):  # a heat map the reader asked for took the model's turn
        return "Interrupted while drawing the annotated image: send again."
    return f"{type(exc).__name__}: {exc}"


def _button(text: str, slot: Callable[[], None]) -> QPushButton:
    button = QPushButton(text)
    button.setAutoDefault(False)  # Enter searches in the query fields; it never presses a button
    button.clicked.connect(slot)
    return button


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
        self.session, self.settings = session, settings
        self._save_settings, self._current_uid = save_settings, current_uid
        self.nodes = nodes_from_settings(settings.pacs_nodes)
        self.pool = WorkerPool(max_threads=1)
        self.job: GeneratorWorker | None = None
        self._retrieved: list[Path] = []
        self._found: list[StudySummary] = []
        self.tabs = QTabWidget()
        self.tabs.addTab(self._nodes_tab(), "&Nodes")
        self.tabs.addTab(self._query_tab(), "&Query / Retrieve")
        self.tabs.addTab(self._send_tab(), "S&end")
        self.tabs.currentChanged.connect(self._on_tab)
        self.status = QLabel(" ", wordWrap=True)
        self.bar = QProgressBar(textVisible=False)
        self.cancel_button = _button("Cancel (Esc)", self.cancel)
        self.cancel_button.setEnabled(False)
        bottom = QHBoxLayout()
        bottom.addWidget(self.bar, 1)
        bottom.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        layout.addLayout(bottom)
        self.resize(820, 520)
        self._show_nodes()

    # -- construction ---------------------------------------------------------------------------
    def _nodes_tab(self) -> QWidget:
        self.node_list = QListWidget()
        self.node_list.currentRowChanged.connect(self._on_node_selected)
        self.node_name = QLineEdit(placeholderText="e.g. Orthanc")
        self.node_address = QLineEdit(placeholderText=ADDRESS_HINT)
        form = QFormLayout()
        form.addRow("N&ame:", self.node_name)
        form.addRow("A&ddress:", self.node_address)
        self.save_node_button = _button("&Save Node", self.save_node)
        self.remove_node_button = _button("&Remove", self.remove_node)
        self.test_button = _button("&Test", self.test_node)
        buttons = QHBoxLayout()
        for button in (self.save_node_button, self.remove_node_button, self.test_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(self.node_list, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)
        return tab

    def _query_tab(self) -> QWidget:
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
        form.addRow("Study &dates:", dates)
        form.addRow("&Patient ID:", self.patient_id)
        form.addRow("A&ccession:", self.accession)
        for field in (self.date_from, self.date_to, self.patient_id, self.accession):
            field.returnPressed.connect(self.search)
        self.search_button = _button("Searc&h", self.search)
        self.results = QTableWidget(0, len(RESULT_COLUMNS))
        self.results.setHorizontalHeaderLabels(list(RESULT_COLUMNS))
        self.results.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.retrieve_button = _button("&Retrieve Selected", self.retrieve_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.search_button)
        buttons.addStretch(1)
        buttons.addWidget(self.retrieve_button)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addLayout(form)
        layout.addWidget(self.results, 1)
        layout.addLayout(buttons)
        return tab

    def _send_tab(self) -> QWidget:
        self.send_node = QComboBox()
        self.send_study = QLabel(wordWrap=True)
        self.send_button = _button("Send Current Study's &Results", self.send_current)
        form = QFormLayout()
        form.addRow("&To node:", self.send_node)
        form.addRow("Study:", self.send_study)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addLayout(form)
        layout.addWidget(
            QLabel("Sends the study's findings as a DICOM SR and its annotated image as a Secondary Capture.")
        )
        layout.addStretch(1)
        layout.addWidget(self.send_button)
        return tab

    def show_tab(self, tab: Tab) -> None:
        self.tabs.setCurrentIndex(tab)
        self._on_tab(tab)
        self.show()
        self.raise_()
        self.activateWindow()

    @Slot(int)
    def _on_tab(self, index: int) -> None:
        if index == Tab.SEND:
            self._show_current_study()

    # -- nodes ----------------------------------------------------------------------------------
    def _show_nodes(self) -> None:
        """The node list and both node choosers, from :attr:`nodes`."""
        self.node_list.clear()
        self.node_list.addItems([node.label() for node in self.nodes])
        self.query_node.clear()
        self.send_node.clear()
        for node in self.nodes:
            if node.is_dicomweb:
                self.query_node.addItem(node.label(), node)
            self.send_node.addItem(node.label(), node)

    @Slot(int)
    def _on_node_selected(self, row: int) -> None:
        if 0 <= row < len(self.nodes):
            self.node_name.setText(self.nodes[row].name)
            self.node_address.setText(self.nodes[row].address)

    def save_node(self) -> None:
        """Add the node typed in, or update the one of that name; kept in the settings at once."""
        try:
            node = make_node(self.node_name.text(), self.node_address.text())
        except ValueError as exc:
            self._say(f"Not saved: {exc}")
            return
        self._set_nodes(with_node(self.nodes, node))
        self.node_list.setCurrentRow(self.nodes.index(node))
        self._say(f"Saved {node.name}.")

    def remove_node(self) -> None:
        row = self.node_list.currentRow()
        if 0 <= row < len(self.nodes):
            name = self.nodes[row].name
            self._set_nodes(without_node(self.nodes, name))
            self._say(f"Removed {name}.")

    def _set_nodes(self, nodes: list[PacsNode]) -> None:
        self.nodes = nodes
        self.settings.pacs_nodes = nodes_to_settings(nodes)
        self._save_settings()
        self._show_nodes()

    def test_node(self) -> None:
        """C-ECHO a DIMSE node, or a one-study QIDO-RS query to a DICOMweb one."""
        row = self.node_list.currentRow()
        if not 0 <= row < len(self.nodes):
            self._say("Select a node to test (save it first).")
            return
        self._start(_test, self.nodes[row])

    # -- query and retrieve ---------------------------------------------------------------------
    def search(self) -> None:
        node = self.query_node.currentData()
        if node is None:
            self._say("Add a DICOMweb node first (Nodes tab): queries and retrieval use DICOMweb.")
            return
        filters = {
            "dates": (self.date_from.text(), self.date_to.text()),
            "patient_id": self.patient_id.text().strip(),
            "accession": self.accession.text().strip(),
        }
        bad = [d for d in filters["dates"] if d and len(d) != 8]
        if bad:
            self._say(f"Dates are YYYYMMDD (8 digits), not {bad[0]!r}.")
            return
        self._start(_query, node.destination, filters)

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
        self._say(f"{len(found)} studies found." + (" Select some and press Retrieve." if found else ""))
        if found:
            self.results.setFocus()

    def selected_studies(self) -> list[str]:
        rows = sorted({index.row() for index in self.results.selectionModel().selectedRows()})
        return [self._found[row].study_uid for row in rows if row < len(self._found)]

    def retrieve_selected(self) -> None:
        """The selected studies into the pull cache, then into the worklist (recorded and scored)."""
        node, uids = self.query_node.currentData(), self.selected_studies()
        if node is None or not uids:
            self._say("Select the studies to retrieve first.")
            return
        self._retrieved = []
        self._start(_retrieve, node.destination, uids, self.cache_folder())

    def cache_folder(self) -> Path:
        """Where ``pull`` keeps retrieved instances: next to the store (with none open, the default one)."""
        from inference.store.location import PULL_CACHE, beside_store

        store = self.session.store
        return beside_store(PULL_CACHE, store.path if store is not None else None)

    def _open_retrieved(self) -> None:
        folders, self._retrieved = self._retrieved, []
        if folders:
            self.session.open_paths(folders, replace=False)
            self._say(
                f"{len(folders)} studies retrieved: adding them to the worklist, where they are scored."
            )

    # -- send -----------------------------------------------------------------------------------
    def _show_current_study(self) -> None:
        row = self._current_row()
        self.send_study.setText(row.uid if row is not None else "(select a scored study in the worklist)")

    def _current_row(self) -> StudyRow | None:
        uid = self._current_uid()
        return None if uid is None else self.session.worklist_model.worklist.get(uid)

    def send_current(self) -> None:
        row, node = self._current_row(), self.send_node.currentData()
        store, info = self.session.store, self.session.info
        if node is None:
            self._say("Add a node first (Nodes tab).")
        elif store is None or info is None:
            self._say("Sending needs the study store and a loaded model.")
        elif row is None or row.state is not RowState.SCORED:
            self._say("Select a scored study in the worklist first.")
        else:
            thresholds = dict(self.session.worklist_model.worklist.thresholds)
            objects_of = (store, self.session.model_thread.engine, info.card, thresholds)
            self._start(_send, objects_of, row.uid, node)

    # -- jobs -----------------------------------------------------------------------------------
    def _start(self, func: Callable[..., Iterator], *args: object) -> None:
        if self.job is not None:
            self._say("Another PACS action is running: wait for it, or press Esc to cancel it.")
            return
        worker = GeneratorWorker(func, *args, pass_cancelled=True)
        worker.signals.yielded.connect(self._on_yielded)
        worker.signals.returned.connect(self._on_returned)
        worker.signals.errored.connect(self._on_errored)
        self.job = worker
        self._set_busy(True)
        self.pool.start(worker)

    @property
    def busy(self) -> bool:
        return self.job is not None

    @Slot(object)
    def _on_yielded(self, item: Step | list[StudySummary]) -> None:
        if isinstance(item, list):
            self._show_found(item)
            return
        self.bar.setRange(0, item.total)
        self.bar.setValue(item.done)
        self._say(item.text)
        if item.folder is not None:
            self._retrieved.append(item.folder)

    @Slot(object)
    def _on_returned(self, _result: object) -> None:
        cancelled = self.job is not None and self.job.abort_requested
        self._finish()
        if cancelled:
            self._say("Cancelled.")

    @Slot(object)
    def _on_errored(self, exc: Exception) -> None:
        self._finish()
        self._say(_plain(exc))

    def _finish(self) -> None:
        self.job = None
        self._set_busy(False)
        self._open_retrieved()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.quit()
            self._say("Cancelling… (a transfer under way finishes or times out first)")

    def reject(self) -> None:
        """Esc cancels the running action; with none running it closes the window."""
        if self.busy:
            self.cancel()
        else:
            super().reject()

    def _set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        for button in (self.test_button, self.search_button, self.retrieve_button, self.send_button):
            button.setEnabled(not busy)
        if busy:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1)
            self.bar.setValue(0)

    def _say(self, text: str) -> None:
        self.status.setText(text)

    def shutdown(self) -> None:
        """Cancel the running action and wait for the worker thread (the window is closing)."""
        if self.job is not None:
            self.job.quit()
        self.pool.shutdown()
