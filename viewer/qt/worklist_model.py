"""Qt table model over :class:`viewer.core.ranked_worklist.Worklist` (its filter proxy:
:mod:`viewer.qt.worklist_proxy`).

Sorting happens once per change in the core (a C-level ``list.sort``) and reaches views as one
``layoutChanged``; inserts arrive in batches. The proxy only filters, so a 10,000-row worklist
never pays a Python ``lessThan`` per comparison or a re-sort per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap

from inference.api import ScanEntry, StudyResult
from inference.store import Review
from viewer.core.ranked_worklist import Worklist
from viewer.core.worklist import RowState, StudyRow
from viewer.core.worklist_columns import HEADERS, SHORT_HEADERS, Column

UID_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
HIDDEN = "•••"
FLAG = "●"
_RED = QColor("#d32f2f")
_GREY = QColor("#888888")
_NUMERIC = (Column.RANK, Column.PROBABILITY, Column.POSITIVES, Column.GATE)
_IDENTIFIERS = (Column.PATIENT, Column.ACCESSION, Column.FILE)
# Review outcome -> (mark, colour of the mark and the Review text, tint of the row). Rejected is amber,
# not red: red is the priority dot's.
REVIEW_LOOKS = {
    "accepted": ("✓", "#2e7d32", "#e8f5e9"),
    "rejected": ("✗", "#e65100", "#fff3e0"),
    "reviewed": ("•", "#1565c0", "#e3f2fd"),
}
_icons: dict[str, QIcon] = {}
GATE_TIP = (
    "Safety gate score: distance from the model's training images (above 1: stopped;"
    " a rotated or upside-down radiograph is stopped at any score)"
)
Index = QModelIndex | QPersistentModelIndex


def _display(row: StudyRow, column: Column, deidentify: bool) -> str:
    meta = row.meta
    match column:
        case Column.RANK:
            return "" if row.rank is None else str(row.rank)
        case Column.FLAG:
            return FLAG if row.flagged else ""
        case Column.PATIENT:
            return HIDDEN if deidentify and meta.patient_id else meta.patient_id
        case Column.FILE:  # file names may carry patient names
            return HIDDEN if deidentify else meta.path.name
        case Column.ACCESSION:
            return HIDDEN if deidentify and meta.accession else meta.accession
        case Column.DATE:
            d = meta.study_date
            return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d
        case Column.VIEW:
            return meta.view_position
        case Column.FINDING:  # a study without a finding says why instead
            return row.top_finding.replace("_", " ") or row.status_for(deidentify)
        case Column.PROBABILITY:
            return "" if row.top_probability is None else f"{row.top_probability:.2f}"
        case Column.POSITIVES:
            return str(len(row.positives)) if row.state is RowState.SCORED else ""
        case Column.GATE:
            return row.gate_text()
        case Column.STATUS:
            return row.status_for(deidentify)
        case Column.REVIEW:
            return row.review_text()
    return ""


def review_icon(outcome: str) -> QIcon:
    """A disc in the outcome's colour holding its mark (made once per outcome)."""
    if outcome not in _icons:
        mark, colour, _tint = REVIEW_LOOKS[outcome]
        pixmap = QPixmap(16, 16)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(colour))
        painter.drawEllipse(1, 1, 14, 14)
        painter.setPen(QColor("white"))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, mark)
        painter.end()
        _icons[outcome] = QIcon(pixmap)
    return _icons[outcome]


def review_tip(review: Review) -> str:
    """The review's tooltip: outcome, who and when, and the note."""
    text = f"{review.outcome.capitalize()} by {review.user} at {review.time}"
    return f"{text}\n{review.note}" if review.note else text


class WorklistModel(QAbstractTableModel):
    """One row per study; display order is the core worklist's order."""

    reranked = Signal()

    def __init__(self, worklist: Worklist | None = None, parent=None) -> None:
        super().__init__(parent)
        self.worklist = worklist or Worklist()
        self._deidentify = False
        self._pos: dict[str, int] = {}
        self._claims: dict[str, str] = {}  # a team store's: "being read by NAME" of others' studies
        self._reindex()

    # -- read ----------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.worklist.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        column = Column(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return SHORT_HEADERS.get(column, HEADERS[column])
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADERS[column]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self.worklist.rows)):
            return None
        row = self.worklist.rows[index.row()]
        column = Column(index.column())
        claimed = self._claims.get(row.uid, "") if column is Column.REVIEW and row.review is None else ""
        if role == Qt.ItemDataRole.DisplayRole:
            return claimed or _display(row, column, self._deidentify)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is Column.REVIEW:
                return review_tip(row.review) if row.review is not None else claimed or None
            if column is Column.GATE and row.gate_score is not None:
                return GATE_TIP
            if column in _IDENTIFIERS:  # whole, where the column elides it
                return _display(row, column, self._deidentify) or None
            if column is Column.STATUS or row.state in (RowState.ERROR, RowState.NOT_SCORED):
                return row.status_for(self._deidentify)
            if column is Column.FLAG and row.flagged:
                return "Priority: " + "; ".join(row.priority)
            if column in (Column.POSITIVES, Column.FLAG) and row.positives:
                return "Positive for " + ", ".join(p.replace("_", " ") for p in row.positives)
            return None
        looks = REVIEW_LOOKS.get(row.review.outcome) if row.review is not None else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column is Column.FLAG or (row.flagged and column is Column.FINDING):
                return QBrush(_RED)
            if row.state is RowState.ERROR and column in (Column.STATUS, Column.FINDING):
                return QBrush(_RED)
            if looks is not None and column is Column.REVIEW:
                return QBrush(QColor(looks[1]))
            if row.state is RowState.NOT_SCORED:
                return QBrush(_GREY)
            return None
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(QColor(looks[2])) if looks is not None else None
        if role == Qt.ItemDataRole.DecorationRole and column is Column.REVIEW and row.review is not None:
            return review_icon(row.review.outcome) if looks is not None else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.TextAlignmentRole and column is Column.FLAG:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == UID_ROLE:
            return row.uid
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def row_at(self, row: int) -> StudyRow:
        return self.worklist.rows[row]

    def row_of(self, uid: str) -> int:
        """Display index of study ``uid``, -1 when absent."""
        return self._pos.get(uid, -1)

    def index_of(self, uid: str, column: int = 0) -> QModelIndex:
        r = self.row_of(uid)
        return self.index(r, column) if r >= 0 else QModelIndex()

    @property
    def deidentify(self) -> bool:
        return self._deidentify

    # -- write (each call: at most one insert, one layout change, one dataChanged) -------------
    def add_entries(self, entries: Sequence[ScanEntry]) -> list[str]:
        """Add scanned files; returns the uids of new studies."""
        new, changed = self.worklist.add_entries(entries, place=False)
        if changed:
            self._rerank_and_sort(changed)
        if new:
            start = len(self.worklist.rows)
            self.beginInsertRows(QModelIndex(), start, start + len(new) - 1)
            self.worklist.place(new)
            self._reindex(start)
            self.endInsertRows()
            self._resort()
        return [r.uid for r in new]

    def apply_results(self, results: Iterable[StudyResult]) -> None:
        changed = self.worklist.apply_results(results)
        if changed:
            self._rerank_and_sort(changed)

    def set_scoring(self, uids: Iterable[str]) -> None:
        self._emit_rows_changed(self.worklist.set_scoring(uids), [Column.STATUS])

    def requeue(self, only_unfinished: bool = True) -> None:
        changed = self.worklist.requeue(only_unfinished)
        if changed:
            self._rerank_and_sort(changed)

    def set_thresholds(self, thresholds: Mapping[str, float]) -> None:
        self.worklist.thresholds = {k: float(v) for k, v in thresholds.items()}
        self._rerank_and_sort()

    def set_priority_points(self, points: Mapping[str, float]) -> None:
        """The loaded card's high-specificity points, which the priority dot needs (with the thresholds)."""
        self.worklist.priority_points = {k: float(v) for k, v in points.items()}
        self._rerank_and_sort()

    def set_review(self, uid: str, review: Review | None) -> None:
        row = self.worklist.set_review(uid, review)
        if row is not None:
            self._emit_rows_changed([row], [Column.REVIEW])

    def set_claims(self, texts: dict[str, str], only: str | None = None) -> None:
        """Studies other readers hold ("being read by NAME" in the review cell of an unreviewed one):
        all of them, or only ``only``'s (set from ``texts``, else taken off)."""
        before = self._claims
        if only is None:
            self._claims = dict(texts)
        else:
            self._claims = {uid: t for uid, t in before.items() if uid != only} | (
                {only: texts[only]} if only in texts else {}
            )
        after = self._claims
        moved = {uid for uid in before.keys() | after.keys() if before.get(uid) != after.get(uid)}
        rows = [row for uid in moved if (row := self.worklist.get(uid)) is not None]
        self._emit_rows_changed(rows, [Column.REVIEW])

    def awaits_reading(self, uid: str) -> bool:
        """No review mark, and no other reader holds it: what Space moves to."""
        row = self.worklist.get(uid)
        return row is not None and row.review is None and uid not in self._claims

    def set_deidentify(self, hide: bool) -> None:
        if hide != self._deidentify:
            self._deidentify = hide
            self._emit_all_changed()  # identifiers, and file names inside reasons

    def clear(self) -> None:
        self.beginResetModel()
        self.worklist.clear()
        self._pos.clear()
        self.endResetModel()

    def load(
        self, results: Sequence[StudyResult], queued: Sequence[ScanEntry], reviews: Mapping[str, Review]
    ) -> None:
        """Replace every row in one reset (a 10,000-study store appears at once, no per-row signal)."""
        self.beginResetModel()
        self.worklist.load(results, queued, reviews)
        self._reindex()
        self.endResetModel()
        self.reranked.emit()

    def remove(self, uids: Iterable[str]) -> int:
        """Drop studies (archived ones); returns how many went."""
        self.beginResetModel()
        gone = self.worklist.remove(uids)
        self._reindex()
        self.endResetModel()
        self.reranked.emit()
        return len(gone)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(Column):
            return
        self._resort(Column(column), order == Qt.SortOrder.DescendingOrder)

    # -- internals ---------------------------------------------------------------------------
    def _rerank_and_sort(self, changed: Sequence[StudyRow] | None = None) -> None:
        self.worklist.rerank(changed)
        if not self._resort():  # a layout change already makes views and the proxy re-read everything
            self._emit_all_changed()
        self.reranked.emit()

    def _resort(self, column: Column | None = None, descending: bool | None = None) -> bool:
        order = self.worklist.set_sort(column, descending)
        if order is None:
            return False
        self.layoutAboutToBeChanged.emit()
        mapping = self.worklist.apply_order(order)
        old = self.persistentIndexList()
        new = [self.index(mapping[i.row()], i.column()) for i in old]
        self.changePersistentIndexList(old, new)
        self._reindex()
        self.layoutChanged.emit()
        return True

    def _reindex(self, start: int = 0) -> None:
        rows = self.worklist.rows
        if start == 0:
            self._pos = {r.uid: i for i, r in enumerate(rows)}
        else:
            self._pos.update((rows[i].uid, i) for i in range(start, len(rows)))

    def _emit_all_changed(self, columns: Sequence[Column] | None = None) -> None:
        if not self.worklist.rows:
            return
        first = min(columns) if columns else 0
        last = max(columns) if columns else len(Column) - 1
        self.dataChanged.emit(self.index(0, first), self.index(len(self.worklist.rows) - 1, last))

    def _emit_rows_changed(self, rows: Sequence[StudyRow], columns: Sequence[Column] | None = None) -> None:
        positions = [self._pos[r.uid] for r in rows if r.uid in self._pos]
        if not positions:
            return
        first = min(columns) if columns else 0
        last = max(columns) if columns else len(Column) - 1
        self.dataChanged.emit(self.index(min(positions), first), self.index(max(positions), last))
