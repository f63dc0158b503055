"""The worklist table's columns on screen: which are shown and how wide.

A column is shown as the reader chose it in the header's menu (right-click the header, or View >
Worklist Columns), else by :func:`viewer.core.worklist_columns.shown_columns`'s defaults. Shown
columns are sized to what they hold (their header and a sample of rows, never all 10,000), after
each burst of changes; a column the reader has sized by hand keeps its width.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMenu, QTableView

from viewer.core.worklist_columns import HEADERS, Column, empty_columns, shown_columns
from viewer.qt.worklist_model import WorklistModel

SAMPLE_ROWS = 100  # rows a column's width is measured on (the visible ones first)
FIT_DELAY_MS = 200
# Long values are elided (whole in their tooltips) rather than pushing the columns after them away.
MAX_WIDTH = {
    Column.FILE: 200, Column.FINDING: 140, Column.STATUS: 220, Column.PATIENT: 130, Column.ACCESSION: 120,
}  # fmt: skip


class WorklistColumns(QObject):
    """Shows, hides and sizes ``table``'s columns; ``choices`` (column name -> shown, the settings'
    ``worklist_columns``) is updated in place when the reader picks a column in :attr:`menu`."""

    def __init__(self, table: QTableView, model: WorklistModel, choices: dict[str, bool]) -> None:
        super().__init__(table)
        self._table = table
        self._model = model
        self._choices = choices
        self._fitting = False
        self._sized_by_reader: set[int] = set()
        self.menu = QMenu("Worklist &Columns", table)
        self._actions = {}
        for column in Column:
            action = self.menu.addAction(HEADERS[column])
            action.setCheckable(True)
            action.triggered.connect(lambda shown, c=column: self._choose(c, shown))
            self._actions[column] = action
        header = table.horizontalHeader()
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(lambda pos: self.menu.popup(header.mapToGlobal(pos)))
        header.setResizeContentsPrecision(SAMPLE_ROWS)
        header.sectionResized.connect(self._on_resized)
        # One fit per burst of changes (scoring re-ranks many times a second).
        self._pending = QTimer(self, singleShot=True, interval=FIT_DELAY_MS)
        self._pending.timeout.connect(self.fit)
        changes = (
            model.modelReset,
            model.rowsInserted,
            model.rowsRemoved,
            model.layoutChanged,
            model.dataChanged,
        )
        for signal in changes:
            signal.connect(self._schedule_fit)
        self.fit()

    def fit(self) -> None:
        """Show the chosen columns and size each to its header and contents."""
        shown = set(shown_columns(self._choices, empty_columns(self._model.worklist.rows)))
        header = self._table.horizontalHeader()
        self._fitting = True
        try:
            for column in Column:
                c = int(column)
                self._table.setColumnHidden(c, column not in shown)
                self._actions[column].setChecked(column in shown)
                if column in shown and c not in self._sized_by_reader:
                    width = max(self._table.sizeHintForColumn(c), header.sectionSizeHint(c))
                    header.resizeSection(c, min(width, MAX_WIDTH.get(column, width)))
        finally:
            self._fitting = False

    def _schedule_fit(self) -> None:
        if not self._pending.isActive():  # not restarted: a steady stream of changes still gets fits
            self._pending.start()

    def _choose(self, column: Column, shown: bool) -> None:
        self._choices[column.name.lower()] = shown
        self.fit()

    def _on_resized(self, section: int, _old: int, _new: int) -> None:
        # Only a drag of the header's divider is the reader's (the stretched last column moves too).
        if not self._fitting and QApplication.mouseButtons() != Qt.MouseButton.NoButton:
            self._sized_by_reader.add(section)
