"""The worklist's filter bar: a finding filter (named in full), a search box, a Clear button, and a
count that says "Showing N of M" and why while they hide studies.

Esc in the search box clears both while either is set (:class:`viewer.qt.worklist_search.SearchBox`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from viewer.core import wording
from viewer.qt.worklist_model import WorklistModel
from viewer.qt.worklist_proxy import WorklistProxy
from viewer.qt.worklist_search import SearchBox

ALL_FINDINGS = "All studies"


class WorklistFilters(QWidget):
    """Sets ``proxy``'s finding and text filters and says what they show of ``model``'s studies."""

    def __init__(self, proxy: WorklistProxy, model: WorklistModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._proxy = proxy
        self._model = model
        self.combo = QComboBox(toolTip="Show only studies positive for a finding")
        self.combo.setAccessibleName("Finding filter")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # names whole
        self.combo.addItem(ALL_FINDINGS, None)
        self.combo.currentIndexChanged.connect(lambda i: proxy.set_finding_filter(self.combo.itemData(i)))
        self.search = SearchBox(proxy.filtering)
        self.search.setPlaceholderText("Search file, ID, accession, finding…")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search worklist")
        self.search.textChanged.connect(proxy.set_text_filter)
        self.search.clearRequested.connect(self.clear)
        self.clear_button = QToolButton(text="Clear", toolTip="Show every study (Esc in the search box)")
        self.clear_button.setAccessibleName("Clear filters")
        self.clear_button.clicked.connect(self.clear)
        self.count_label = QLabel()
        self.count_label.setAccessibleName("Studies shown")
        # The rows shown come and go with the filters, new thresholds and new studies.
        for signal in (proxy.filterChanged, proxy.rowsInserted, proxy.rowsRemoved, proxy.layoutChanged,
                       proxy.modelReset, model.rowsInserted, model.rowsRemoved):  # fmt: skip
            signal.connect(self._show_count)
        row = QHBoxLayout()
        row.addWidget(self.combo)
        row.addWidget(self.search, 1)
        row.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.count_label)
        self._show_count()

    def set_findings(self, labels: tuple[str, ...]) -> None:
        """Offer one entry per shown finding of the loaded model (the one chosen stays if offered)."""
        keep = self.combo.currentData()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(ALL_FINDINGS, None)
        for name in labels:
            self.combo.addItem(name.replace("_", " "), name)
        i = self.combo.findData(keep) if keep in labels else 0
        self.combo.setCurrentIndex(max(i, 0))
        self.combo.blockSignals(False)
        self._proxy.set_finding_filter(self.combo.currentData())

    def set_finding(self, finding: str | None) -> None:
        self.combo.setCurrentIndex(max(self.combo.findData(finding), 0))

    def clear(self) -> None:
        """Show every study: no finding filter, no search."""
        self.search.clear()
        self.set_finding(None)

    def focus_search(self) -> None:
        """Put the cursor in the search box, its text selected (Ctrl+F)."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _show_count(self) -> None:
        """'Showing N of M' (and what hides the others) while a filter is set; else how many studies."""
        total = self._model.rowCount()
        filtering = self._proxy.filtering()
        self.clear_button.setEnabled(filtering)
        if not filtering:
            self.count_label.setText(wording.studies(total))
            return
        why = []
        if (finding := self._proxy.finding_filter()) is not None:
            why.append("positive for " + finding.replace("_", " "))
        if text := self.search.text().strip():
            why.append(f"matching “{text}”")
        self.count_label.setText(f"Showing {self._proxy.rowCount()} of {total}: " + ", ".join(why))
