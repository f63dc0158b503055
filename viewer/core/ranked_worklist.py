"""The worklist as plain data: one row per study, ranked under the current thresholds and sorted by a
column.

Rows are kept in display order. Every mutation returns what changed so that a view layer can emit
one batched notification per call (never one per row).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence

from inference.api import ScanEntry, Status, StudyResult
from inference.store import Review
from inference.worklist.ranking import figures, priority_bars, priority_reasons, reading_order_key
from viewer.core.worklist import RowState, StudyRow
from viewer.core.worklist_columns import Column, sort_key

_FINISHED = (RowState.SCORED, RowState.NOT_SCORED, RowState.ERROR)


def _reading_order(row: StudyRow) -> tuple:
    meta = row.meta
    acquired = meta.study_date + meta.study_time
    scored = row.state is RowState.SCORED
    # The viewer has no maximum wait, so no row is overdue.
    return reading_order_key(
        scored, bool(row.positives), row.risk, row.top_probability, acquired, row.uid, overdue_by=None
    )


def _scan_result(row: StudyRow) -> StudyResult | None:
    """A study none of whose files can be scored is finished at scan time: its first file says why."""
    if any(e.status is Status.SCORED for e in row.entries):
        return None
    first = row.entries[0]
    images = tuple(e.meta.path for e in row.entries)
    return StudyResult(row.uid, first.meta, first.status, first.reason, images=images)


def _result_entries(result: StudyResult) -> list[ScanEntry]:
    """Scan rows standing for a stored result's files (so that scanning them again changes nothing)."""
    status = Status.SCORED if result.status is Status.SCORED else result.status
    paths = result.images or (result.meta.path,)
    return [ScanEntry(dataclasses.replace(result.meta, path=p), status) for p in paths]


class Worklist:
    """Rows in display order, their ranking under ``thresholds``, and the current sort."""

    def __init__(self) -> None:
        self.rows: list[StudyRow] = []
        self.thresholds: dict[str, float] = {}
        self.priority_points: dict[str, float] = {}  # the card's high-specificity points
        self.sort_column: Column = Column.RANK
        self.descending = False
        self._row_of: dict[str, StudyRow] = {}
        self._next_seq = 0

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, uid: str) -> StudyRow | None:
        return self._row_of.get(uid)

    def index_of(self, uid: str) -> int:
        """Current display index of ``uid`` (O(n); views keep their own index map)."""
        row = self._row_of[uid]
        return self.rows.index(row)

    def clear(self) -> None:
        self.rows.clear()
        self._row_of.clear()

    # -- mutations ---------------------------------------------------------------------------------
    def load(
        self, results: Iterable[StudyResult], queued: Iterable[ScanEntry], reviews: Mapping[str, Review]
    ) -> None:
        """Replace every row at once: finished ``results``, studies of ``queued`` scan rows still to
        score, and their ``reviews``; then rank and sort (a view resets around this call)."""
        self.clear()
        for result in results:
            row = StudyRow(result.study_uid, self._next_seq, [], result)  # entries made when needed
            self._next_seq += 1
            self._row_of[row.uid] = row
            self.rows.append(row)
        self.add_entries(queued)
        for row in self.rows:
            row.review = reviews.get(row.uid)
        self.rerank()
        self.rows[:] = self.sorted_order()

    def add_entries(
        self, entries: Iterable[ScanEntry], place: bool = True
    ) -> tuple[list[StudyRow], list[StudyRow]]:
        """Group scanned files into studies. Returns (new rows, existing rows that changed).

        With ``place=False`` new rows are known but not yet in :attr:`rows`: a view layer appends
        them with :meth:`place` between its begin/end insert notifications, then calls
        :meth:`resort` once. A file the worklist already holds changes nothing.
        """
        new: list[StudyRow] = []
        fresh: set[str] = set()
        changed: dict[str, StudyRow] = {}
        for entry in entries:
            uid = entry.meta.study_uid
            row = self._row_of.get(uid)
            if row is None:
                row = StudyRow(uid=uid, seq=self._next_seq)
                self._next_seq += 1
                self._row_of[uid] = row
                new.append(row)
                fresh.add(uid)
            if not row.entries and row.result is not None:  # a stored study: its files, as scan rows
                row.entries = _result_entries(row.result)
            if any(e.meta.path == entry.meta.path for e in row.entries):
                continue
            if uid not in fresh:
                changed[uid] = row
            row.entries.append(entry)
            if not row.scoring:  # an in-flight result lands; the new file is picked up by a later re-score
                row.result = _scan_result(row)
        if place:
            self.place(new)
        return new, list(changed.values())

    def place(self, rows: Sequence[StudyRow]) -> None:
        self.rows.extend(rows)

    def remove(self, uids: Iterable[str]) -> list[StudyRow]:
        """Drop studies (e.g. archived ones); returns the rows removed."""
        gone = [row for uid in uids if (row := self._row_of.pop(uid, None)) is not None]
        if gone:
            dropped = {id(r) for r in gone}
            self.rows[:] = [r for r in self.rows if id(r) not in dropped]
            self.rerank([])
        return gone

    def set_scoring(self, uids: Iterable[str]) -> list[StudyRow]:
        out = []
        for uid in uids:
            row = self._row_of.get(uid)
            if row is not None and row.state is RowState.QUEUED:
                row.scoring = True
                out.append(row)
        return out

    def requeue(self, only_unfinished: bool = True) -> list[StudyRow]:
        """Back to queued: unfinished rows after a cancel, or every scorable row for a new model."""
        out = []
        for row in self.rows:
            rescore = not only_unfinished and row.state is RowState.SCORED
            if row.scoring or rescore:
                row.scoring, row.result = False, _scan_result(row)
                out.append(row)
        return out

    def apply_results(self, results: Iterable[StudyResult]) -> list[StudyRow]:
        out = []
        for res in results:
            row = self._row_of.get(res.study_uid)
            if row is None:
                continue
            row.result, row.scoring = res, False
            out.append(row)
        return out

    def set_review(self, uid: str, review: Review | None) -> StudyRow | None:
        row = self._row_of.get(uid)
        if row is not None:
            row.review = review
        return row

    def set_thresholds(self, thresholds: Mapping[str, float]) -> None:
        self.thresholds = {k: float(v) for k, v in thresholds.items()}
        self.rerank()

    # -- ranking and order -------------------------------------------------------------------------
    def rerank(self, changed: Iterable[StudyRow] | None = None) -> None:
        """Refresh the figures of ``changed`` rows (all rows when None), then every rank.

        Ranks follow :func:`inference.worklist.ranking.reading_order_key` (the triage engine's reading order);
        queued and scoring studies have no rank yet.
        """
        rows = self.rows if changed is None else list(changed)
        if rows:
            probabilities = [r.probabilities for r in rows]
            reasons = priority_reasons(probabilities, priority_bars(self.priority_points, self.thresholds))
            for row, f, why in zip(rows, figures(probabilities, self.thresholds), reasons, strict=True):
                row.figures, row.priority = f, why
        finished = [r for r in self.rows if r.state in _FINISHED]
        finished.sort(key=_reading_order)
        for row in self.rows:
            row.rank = None
        for i, row in enumerate(finished, start=1):
            row.rank = i

    def sorted_order(self, column: Column | None = None, descending: bool | None = None) -> list[StudyRow]:
        """Rows ordered by ``column`` (ties by arrival), without changing the worklist."""
        column = self.sort_column if column is None else column
        descending = self.descending if descending is None else descending
        by_seq = sorted(self.rows, key=lambda r: r.seq)
        return sorted(by_seq, key=sort_key(column), reverse=descending)

    def set_sort(self, column: Column | None = None, descending: bool | None = None) -> list[StudyRow] | None:
        """Choose the sort; returns the new order, or None when the rows are already in it."""
        if column is not None:
            self.sort_column = Column(column)
        if descending is not None:
            self.descending = descending
        order = self.sorted_order()
        return None if all(a is b for a, b in zip(order, self.rows, strict=True)) else order

    def apply_order(self, order: list[StudyRow]) -> list[int]:
        """Put rows in ``order``; returns ``new_position[old_position]``."""
        pos = {id(r): i for i, r in enumerate(order)}
        mapping = [pos[id(r)] for r in self.rows]
        self.rows[:] = order
        return mapping

    def resort(self, column: Column | None = None, descending: bool | None = None) -> list[int] | None:
        """Sort in place; returns ``new_position[old_position]``, or None when nothing moved."""
        order = self.set_sort(column, descending)
        return None if order is None else self.apply_order(order)

    def positive_for(self, finding: str) -> Callable[[StudyRow], bool]:
        return lambda row: finding in row.positives

    def ranked_rows(self) -> list[StudyRow]:
        return sorted((r for r in self.rows if r.rank is not None), key=lambda r: r.rank or 0)

    def uids(self) -> Sequence[str]:
        return [r.uid for r in self.rows]
