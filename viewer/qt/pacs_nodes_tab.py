"""The PACS dialog's Nodes tab: the configured PACS nodes, kept in the settings as soon as one is added,
updated or removed, and the Test button (C-ECHO, or a QIDO-RS query for DICOMweb)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLineEdit, QListWidget, QVBoxLayout, QWidget

from viewer.core.pacs_nodes import (
    PacsNode,
    make_node,
    nodes_from_settings,
    nodes_to_settings,
    with_node,
    without_node,
)
from viewer.core.settings import Settings
from viewer.pacs_client import echo_node
from viewer.qt.pacs_jobs import PacsJobs, pacs_button

ADDRESS_HINT = "http://HOST:8042/dicom-web  or  dicom://AE_TITLE@HOST:PORT"


class PacsNodesTab(QWidget):
    """The node list with a name and address form; ``nodes_changed`` carries the new list."""

    nodes_changed = Signal(list)

    def __init__(
        self,
        settings: Settings,
        save_settings: Callable[[], None],
        jobs: PacsJobs,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings, self._save_settings, self.jobs = settings, save_settings, jobs
        self.nodes = nodes_from_settings(settings.pacs_nodes)
        self.node_list = QListWidget()
        self.node_list.currentRowChanged.connect(self._on_node_selected)
        self.node_name = QLineEdit(placeholderText="e.g. Orthanc")
        self.node_address = QLineEdit(placeholderText=ADDRESS_HINT)
        form = QFormLayout()
        form.addRow("N&ame:", self.node_name)
        form.addRow("A&ddress:", self.node_address)
        self.save_node_button = pacs_button("&Save Node", self.save_node)
        self.remove_node_button = pacs_button("&Remove", self.remove_node)
        self.test_button = pacs_button("&Test", self.test_node)
        jobs.busy_changed.connect(self.test_button.setDisabled)
        buttons = QHBoxLayout()
        for button in (self.save_node_button, self.remove_node_button, self.test_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.node_list, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)
        self._show_nodes()

    def _show_nodes(self) -> None:
        self.node_list.clear()
        self.node_list.addItems([node.label() for node in self.nodes])

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
            self.jobs.say(f"Not saved: {exc}")
            return
        self._set_nodes(with_node(self.nodes, node))
        self.node_list.setCurrentRow(self.nodes.index(node))
        self.jobs.say(f"Saved {node.name}.")

    def remove_node(self) -> None:
        row = self.node_list.currentRow()
        if 0 <= row < len(self.nodes):
            name = self.nodes[row].name
            self._set_nodes(without_node(self.nodes, name))
            self.jobs.say(f"Removed {name}.")

    def _set_nodes(self, nodes: list[PacsNode]) -> None:
        self.nodes = nodes
        self.settings.pacs_nodes = nodes_to_settings(nodes)
        self._save_settings()
        self._show_nodes()
        self.nodes_changed.emit(nodes)

    def test_node(self) -> None:
        """C-ECHO a DIMSE node, or a one-study QIDO-RS query to a DICOMweb one."""
        row = self.node_list.currentRow()
        if not 0 <= row < len(self.nodes):
            self.jobs.say("Select a node to test (save it first).")
            return
        self.jobs.start(echo_node, self.nodes[row])
