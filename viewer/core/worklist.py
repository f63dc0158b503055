"""The worklist as plain data: one row per study, ranked under the current thresholds.

Rows are kept in display order. Every mutation returns what changed so that a view layer can emit
one batched notification per call (never one per row).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.api import ImageMeta, ScanEntry, Status, StudyResult
from inference.triage import figures, reading_order_key


class RowState(enum.StrEnum):
    QUEUED = "queued"
    SCORING = "scoring"
    SCORED = "scored"
    ERROR = "error"
    NOT_SCORED = "not scored"


class Column(enum.IntEnum):
    RANK = 0
    FLAG = 1
    PATIENT = 2
    FILE = 3  # the study's lead image: PNG/JPEG studies have no other name
    ACCESSION = 4
    DATE = 5
    VIEW = 6
    FINDING = 7
    PROBABILITY = 8
    POSITIVES = 9
    STATUS = 10


HEADERS = {
    Column.RANK: "Rank",
    Column.FLAG: "Priority",
    Column.PATIENT: "Patient ID",
    Column.FILE: "File",
    Column.ACCESSION: "Accession",
    Column.DATE: "Study date",
    Column.VIEW: "View",
    Column.FINDING: "Top finding",
    Column.PROBABILITY: "Prob.",
    Column.POSITIVES: "Positives",
    Column.STATUS: "Status",
}

_STATE_OF = {
    Status.SCORED: RowState.SCORED,
    Status.ERROR: RowState.ERROR,
    Status.NOT_SCORED: RowState.NOT_SCORED,
}


@dataclass(eq=False)
class StudyRow:
    """One study in the worklist. ``seq`` is arrival order, the final tie-breaker of every sort."""

    uid: str
    meta: ImageMeta
    seq: int
    entries: list[ScanEntry] = field(default_factory=list)
    state: RowState = RowState.QUEUED
    reason: str = ""
    probabilities: dict[str, float] = field(default_factory=dict)
    reviewed: bool = False
    rank: int | None = None
    positives: tuple[str, ...] = ()
    risk: float = 0.0
    top_finding: str = ""
    top_probability: float | None = None

    @property
    def flagged(self) -> bool:
        return bool(self.positives)

    @property
    def status_text(self) -> str:
        return self.status_for(hide_phi=False)

    def reason_for(self, hide_phi: bool) -> str:
        """The reason; file names (which may carry patient names) become "image N" when hidden."""
        if not hide_phi or not self.reason:
            return self.reason
        text = self.reason
        for i, entry in enumerate(self.entries, start=1):
            text = text.replace(entry.meta.path.name, f"image {i}")
        return text

    def status_for(self, hide_phi: bool) -> str:
        reason = self.reason_for(hide_phi)
        if self.state is RowState.ERROR:
            text = f"error: {reason}" if reason else "error"
        elif self.state is RowState.NOT_SCORED:
            text = f"not scored: {reason}" if reason else "not scored"
        else:
            text = self.state.value
        if self.reviewed:
            return "reviewed" if self.state is RowState.SCORED else f"{text} · reviewed"
        return text

    def result(self) -> StudyResult | None:
        if self.state in (RowState.QUEUED, RowState.SCORING):
            return None
        status = {RowState.SCORED: Status.SCORED, RowState.ERROR: Status.ERROR}.get(
            self.state, Status.NOT_SCORED
        )
        return StudyResult(self.uid, self.meta, status, self.reason, dict(self.probabilities))


_FINISHED = (RowState.SCORED, RowState.NOT_SCORED, RowState.ERROR)


def _reading_order(row: StudyRow) -> tuple:
    meta = row.meta
    acquired = meta.study_date + meta.study_time
    scored = row.state is RowState.SCORED
    # Rows carry no arrival time yet, so none is overdue.
    return reading_order_key(
        scored, bool(row.positives), row.risk, row.top_probability, acquired, row.uid, overdue_by=None
    )


def study_key(meta: ImageMeta) -> str:
    return meta.study_uid or str(meta.path)


def _sort_key(column: Column) -> Callable[[StudyRow], Any]:
    unranked = 1 << 30
    keys: dict[Column, Callable[[StudyRow], Any]] = {
        Column.RANK: lambda r: r.rank if r.rank is not None else unranked,
        Column.FLAG: lambda r: (not r.flagged, r.rank if r.rank is not None else unranked),
        Column.PATIENT: lambda r: r.meta.patient_id.casefold(),
        Column.FILE: lambda r: r.meta.path.name.casefold(),
        Column.ACCESSION: lambda r: r.meta.accession.casefold(),
        Column.DATE: lambda r: (r.meta.study_date, r.meta.study_time),
        Column.VIEW: lambda r: r.meta.view_position.casefold(),
        Column.FINDING: lambda r: r.top_finding.casefold(),
        Column.PROBABILITY: lambda r: -1.0 if r.top_probability is None else r.top_probability,
        Column.POSITIVES: lambda r: len(r.positives),
        Column.STATUS: lambda r: r.status_text,
    }
    return keys[column]


class Worklist:
    """Rows in display order, their ranking under ``thresholds``, and the current sort."""

    def __init__(self) -> None:
        self.rows: list[StudyRow] = []
        self.thresholds: dict[str, float] = {}
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
    def add_entries(
        self, entries: Iterable[ScanEntry], place: bool = True
    ) -> tuple[list[StudyRow], list[StudyRow]]:
        """Group scanned files into studies. Returns (new rows, existing rows that changed).

        With ``place=False`` new rows are known but not yet in :attr:`rows`: a view layer appends
        them with :meth:`place` between its begin/end insert notifications, then calls
        :meth:`resort` once.
        """
        new: list[StudyRow] = []
        changed: dict[str, StudyRow] = {}
        for entry in entries:
            uid = study_key(entry.meta)
            row = self._row_of.get(uid)
            if row is None:
                row = StudyRow(uid=uid, meta=entry.meta, seq=self._next_seq)
                self._next_seq += 1
                self._row_of[uid] = row
                new.append(row)
            elif row not in new:
                changed[uid] = row
            row.entries.append(entry)
            self._initial_state(row)
        if place:
            self.place(new)
        return new, list(changed.values())

    def place(self, rows: Sequence[StudyRow]) -> None:
        self.rows.extend(rows)

    @staticmethod
    def _initial_state(row: StudyRow) -> None:
        """State from the study's files; a finished study that gains a file is scored again."""
        if row.state is RowState.SCORING:
            return  # the in-flight result lands; the new file is picked up by a later re-score
        eligible = [e for e in row.entries if e.status is Status.SCORED]
        if eligible:
            row.state, row.reason, row.meta, row.probabilities = RowState.QUEUED, "", eligible[0].meta, {}
        else:
            first = row.entries[0]
            row.state, row.reason = _STATE_OF[first.status], first.reason

    def set_scoring(self, uids: Iterable[str]) -> list[StudyRow]:
        out = []
        for uid in uids:
            row = self._row_of.get(uid)
            if row is not None and row.state is RowState.QUEUED:
                row.state = RowState.SCORING
                out.append(row)
        return out

    def requeue(self, only_unfinished: bool = True) -> list[StudyRow]:
        """Back to queued: unfinished rows after a cancel, or every scorable row for a new model."""
        out = []
        for row in self.rows:
            if row.state is RowState.SCORING or (not only_unfinished and row.state is RowState.SCORED):
                row.state, row.probabilities, row.reason = RowState.QUEUED, {}, ""
                out.append(row)
        return out

    def apply_results(self, results: Iterable[StudyResult]) -> list[StudyRow]:
        out = []
        for res in results:
            row = self._row_of.get(res.study_uid)
            if row is None:
                continue
            row.state = _STATE_OF[res.status]
            row.reason = res.reason
            row.meta = res.meta
            row.probabilities = dict(res.probabilities)
            out.append(row)
        return out

    def set_reviewed(self, uid: str, reviewed: bool) -> StudyRow | None:
        row = self._row_of.get(uid)
        if row is not None:
            row.reviewed = reviewed
        return row

    def set_thresholds(self, thresholds: Mapping[str, float]) -> None:
        self.thresholds = {k: float(v) for k, v in thresholds.items()}
        self.rerank()

    # -- ranking and order -------------------------------------------------------------------------
    def rerank(self, changed: Iterable[StudyRow] | None = None) -> None:
        """Refresh the figures of ``changed`` rows (all rows when None), then every rank.

        Ranks follow :func:`inference.triage.reading_order_key` (the triage engine's reading order);
        queued and scoring studies have no rank yet.
        """
        rows = self.rows if changed is None else list(changed)
        shown = [r.probabilities if r.state is RowState.SCORED else {} for r in rows]
        for row, f in zip(rows, figures(shown, self.thresholds), strict=True):
            row.positives, row.risk, row.top_finding, row.top_probability = f
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
        return sorted(by_seq, key=_sort_key(column), reverse=descending)

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


def paths_of(row: StudyRow) -> list[Path]:
    return [e.meta.path for e in row.entries]


def study_caption(row: StudyRow, hide_phi: bool) -> str:
    """One line above the image: rank, view, date, patient (unless hidden), file, and why not scored."""
    meta = row.meta
    parts = [f"#{row.rank}" if row.rank is not None else row.state.value]
    parts += [p for p in (meta.view_position, meta.study_date) if p]
    if not hide_phi:
        parts += [f"Patient {meta.patient_id}"] if meta.patient_id else []
        parts.append(meta.path.name)
    if row.state in (RowState.ERROR, RowState.NOT_SCORED) and row.reason:
        parts.append(f"{row.state.value}: {row.reason_for(hide_phi)}")
    return "  ·  ".join(parts)
