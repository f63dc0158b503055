"""The worklist pane: its filter bar (:mod:`viewer.qt.worklist_filters`) over the sortable study table.

The table's current row is always the study shown, so the arrow keys move from it. When the
worklist fills, the pane opens its top-ranked study; :meth:`open_top` (the window calls it when
scoring finishes) opens rank 1 in place of a study the pane opened before it was ranked, unless the
reader has taken that study in hand: selected one (click, arrow keys, a similar study) or acted on
the one shown (:meth:`hold`). A ranked study being read is never replaced by studies that arrive
and outrank it. A study the reader holds stays shown wherever it moves in the ranking. Whichever
study is shown stays shown when every row is replaced (the store's worklist read again, a folder
opened again): when it is listed again, it is selected again, held as it was.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QVBoxLayout, QWidget

from viewer.core.worklist_columns import Column
from viewer.qt.worklist_filters import WorklistFilters
from viewer.qt.worklist_header import WorklistColumns
from viewer.qt.worklist_model import UID_ROLE, WorklistModel
from viewer.qt.worklist_proxy import WorklistProxy


class WorklistTable(QTableView):
    """The study table. Letters typed in it never jump rows (they are the window's review and image
    keys); the search box finds studies."""

    def keyboardSearch(self, search: str) -> None:  # noqa: N802 (Qt override)
        del search


class WorklistPanel(QWidget):
    """Shows a :class:`WorklistModel` through a filtering proxy; reports the current study."""

    currentStudyChanged = Signal(object)  # noqa: N815  uid or None

    def __init__(
        self,
        model: WorklistModel,
        column_choices: dict[str, bool] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``column_choices``: the reader's shown columns (the settings' ``worklist_columns``), kept
        up to date in place."""
        super().__init__(parent)
        self.model = model
        self.proxy = WorklistProxy(self)
        self.proxy.setSourceModel(model)
        self.filters = WorklistFilters(self.proxy, model)
        self.search = self.filters.search
        self.table = WorklistTable()
        self.table.setAccessibleName("Worklist")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)  # archive several
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(int(Column.RANK), Qt.SortOrder.AscendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row sizing
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        self.columns = WorklistColumns(self.table, model, {} if column_choices is None else column_choices)
        self.columns_menu = self.columns.menu
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.table.pressed.connect(lambda _index: self.hold())  # a click on the row already shown too
        self.proxy.layoutChanged.connect(self._keep_current_visible)
        self.proxy.layoutChanged.connect(self._on_rows_moved)
        self.proxy.rowsInserted.connect(self._on_rows_moved)
        self.proxy.rowsRemoved.connect(self._on_rows_moved)
        self.proxy.modelReset.connect(self._on_reset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filters)
        layout.addWidget(self.table, 1)
        self._current: str | None = None
        self._held = False  # the reader took the shown study in hand: open_top leaves it
        self._auto = False  # a selection the pane makes itself (not the reader's)
        # The pane opened the shown study before it was ranked: open_top may replace it.
        self._unranked = False
        # The study shown when the worklist emptied (and whether it was held), selected again when
        # it is listed again unless the reader picks another one first.
        self._resume: tuple[str, bool] | None = None

    def set_findings(self, labels: tuple[str, ...]) -> None:
        """Offer one filter entry per shown finding of the loaded model."""
        self.filters.set_findings(labels)

    def set_finding_filter(self, finding: str | None) -> None:
        self.filters.set_finding(finding)

    def focus_search(self) -> None:
        """Ctrl+F: the cursor in the search box, its text selected."""
        self.filters.focus_search()

    def current_uid(self) -> str | None:
        return self._current

    def hold(self) -> None:
        """The reader acts on the study shown: it stays shown (:meth:`open_top` leaves it)."""
        if self._current is not None:
            self._held = True

    @property
    def held(self) -> bool:
        """True once the reader has taken a study in hand (until the worklist empties)."""
        return self._held

    def open_top(self) -> None:
        """Open the top-ranked study in place of one the pane opened before it was ranked, unless the
        reader holds it."""
        replaceable = self._current is None or (self._unranked and not self._held)
        if self.proxy.rowCount() and replaceable and self.proxy.uid_at(0) != self._current:
            self._select_automatically(0)

    def selected_uids(self) -> list[str]:
        """The selected studies (at least the current one)."""
        rows = self.table.selectionModel().selectedRows()
        uids = [str(index.data(UID_ROLE)) for index in rows]
        return uids or ([self._current] if self._current is not None else [])

    def select_uid(self, uid: str) -> bool:
        """Show the study ``uid`` and hold it (also when it is already shown); False when not listed."""
        row = self.proxy.row_of(uid)
        if row < 0:
            return False
        self._select_proxy_row(row)
        self.hold()
        return True

    def select_row(self, row: int) -> None:
        if 0 <= row < self.proxy.rowCount():
            self._select_proxy_row(row)
            self.hold()

    def move(self, delta: int) -> None:
        """Next (+1) or previous (-1) study in the shown order; selects the first if none."""
        count = self.proxy.rowCount()
        if count == 0:
            return
        current = self.table.selectionModel().currentIndex()
        row = current.row() + delta if current.isValid() else 0
        self._select_proxy_row(min(max(row, 0), count - 1))

    def next_unreviewed(self) -> bool:
        """Space: the first study below the current one, in the shown order, that has no review mark
        and that no other reader holds; False (nothing moves) when there is none."""
        model = self.proxy.worklist_model()
        current = self.table.selectionModel().currentIndex()
        for row in range(current.row() + 1 if current.isValid() else 0, self.proxy.rowCount()):
            uid = self.proxy.uid_at(row)
            if uid is not None and model.awaits_reading(uid):
                self._select_proxy_row(row)
                return True
        return False

    def _select_proxy_row(self, row: int) -> None:
        index = self.proxy.index(row, 0)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().setCurrentIndex(index, flags)
        self.table.scrollTo(index)

    def _select_automatically(self, row: int) -> None:
        self._auto = True
        try:
            self._select_proxy_row(row)
        finally:
            self._auto = False
        shown = self.model.worklist.get(self._current) if self._current is not None else None
        self._unranked = shown is not None and shown.rank is None

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        uid = current.data(UID_ROLE) if current.isValid() else None
        if uid is not None and not self._auto:
            self._held = True  # the reader's choice (or a command's): it stays shown
            self._resume = None
        if uid != self._current:
            self._current = uid
            self.currentStudyChanged.emit(uid)

    def _on_rows_moved(self) -> None:
        """Rows arrived, left or moved: the study shown before the worklist emptied comes back when it
        is listed again; else, when no study is shown, the top-ranked one opens."""
        if self._resume is not None and self._reselect(*self._resume):
            return
        current = self.table.selectionModel().currentIndex()
        if self.proxy.rowCount() and (self._current is None or not current.isValid()):
            self._select_automatically(0)

    def _on_reset(self) -> None:
        """Every row was replaced (the store's worklist read, a folder opened again, studies archived):
        the study shown stays when it is still listed, held as it was; else the top-ranked study opens."""
        if self.proxy.rowCount() == 0:
            if self._current is not None:
                self._resume = (self._current, self._held)
                self._current = None
                self.currentStudyChanged.emit(None)
            self._held = False
            return
        keep = (self._current, self._held) if self._current is not None else self._resume
        if keep is None or not self._reselect(*keep):
            self._select_automatically(0)

    def _reselect(self, uid: str, held: bool) -> bool:
        """Select ``uid`` again (no signal when it is the one shown), held as given; False if not listed."""
        row = self.proxy.row_of(uid)
        if row < 0:
            return False
        self._resume = None
        self._select_automatically(row)
        self._held = held
        return True

    def _keep_current_visible(self) -> None:
        current = self.table.selectionModel().currentIndex()
        if current.isValid():
            self.table.scrollTo(current, QAbstractItemView.ScrollHint.EnsureVisible)
