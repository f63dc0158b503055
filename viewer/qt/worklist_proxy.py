"""The worklist's filter proxy: studies positive for a finding, and a search over what a reader types
(finding, file, patient ID, accession; identifiers only while they are shown). Sorting stays the source
model's (:mod:`viewer.qt.worklist_model`): one sort per change, never a Python ``lessThan``."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal

from viewer.qt.worklist_model import UID_ROLE, WorklistModel

Index = QModelIndex | QPersistentModelIndex


class WorklistProxy(QSortFilterProxyModel):
    """Filters by a finding (studies positive for it) and by text; sorting is the source's job."""

    filterChanged = Signal()  # noqa: N815  the finding or the text changed (and what is shown with it)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._finding: str | None = None
        self._text = ""
        self.setDynamicSortFilter(True)

    def refilter(self) -> None:
        """Re-apply the filter after something it reads changed (e.g. the PHI toggle)."""
        self.beginFilterChange()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        self.filterChanged.emit()

    def worklist_model(self) -> WorklistModel:
        model = self.sourceModel()
        assert isinstance(model, WorklistModel)
        return model

    def set_finding_filter(self, finding: str | None) -> None:
        if finding != self._finding:
            self.beginFilterChange()
            self._finding = finding or None
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
            self.filterChanged.emit()

    def finding_filter(self) -> str | None:
        return self._finding

    def filtering(self) -> bool:
        """A finding filter or a search is set (rows may be hidden)."""
        return bool(self._finding or self._text)

    def set_text_filter(self, text: str) -> None:
        text = text.strip().casefold()
        if text != self._text:
            self.beginFilterChange()
            self._text = text
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
            self.filterChanged.emit()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        if not self._finding and not self._text:
            return True
        model = self.worklist_model()
        row = model.row_at(source_row)
        if self._finding and self._finding not in row.positives:
            return False
        if self._text:
            meta = row.meta
            fields = [row.top_finding.replace("_", " "), row.status_for(model.deidentify), meta.view_position]
            fields += [p.replace("_", " ") for p in row.positives]
            if not model.deidentify:
                fields += [meta.patient_id, meta.accession, *row.file_names()]
            return any(self._text in f.casefold() for f in fields)
        return True

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.worklist_model().sort(column, order)

    def uid_at(self, row: int) -> str | None:
        if not 0 <= row < self.rowCount():
            return None
        return self.data(self.index(row, 0), UID_ROLE)

    def row_of(self, uid: str) -> int:
        src = self.worklist_model().index_of(uid)
        return self.mapFromSource(src).row() if src.isValid() else -1
