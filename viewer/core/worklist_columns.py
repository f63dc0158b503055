"""The worklist table's columns: their order (the ones a reader needs first), their headers, which
are shown, and what each sorts by.

A column is shown when the reader chose it (the header's menu; remembered in the settings as
name -> shown), else by default: the default columns, less those of header facts that no study has
(a folder of PNGs has no patient ID, accession or date).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from viewer.core.worklist import StudyRow


class Column(enum.IntEnum):
    RANK = 0
    FLAG = 1
    FINDING = 2
    PROBABILITY = 3
    REVIEW = 4
    PATIENT = 5
    ACCESSION = 6
    DATE = 7
    FILE = 8  # the study's lead image: PNG/JPEG studies have no other name
    VIEW = 9
    POSITIVES = 10
    GATE = 11  # the safety gate's score; "stopped" when it kept the study from being scored
    STATUS = 12


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
    Column.GATE: "Gate",
    Column.STATUS: "Status",
    Column.REVIEW: "Review",
}


# Shown unless the reader chose otherwise: a study's state and gate score are in the Top finding
# column's text and tooltip when it has no finding.
DEFAULT_HIDDEN = frozenset({Column.VIEW, Column.POSITIVES, Column.GATE, Column.STATUS})
_HEADER_FACT: dict[Column, Callable[[StudyRow], object]] = {
    Column.PATIENT: lambda r: r.meta.patient_id,
    Column.ACCESSION: lambda r: r.meta.accession,
    Column.DATE: lambda r: r.meta.study_date,
    Column.VIEW: lambda r: r.meta.view_position,
}


def empty_columns(rows: Iterable[StudyRow]) -> set[Column]:
    """The header-fact columns (patient ID, accession, date, view) that no row has a value for."""
    rows = list(rows)
    return {column for column, fact in _HEADER_FACT.items() if not any(fact(r) for r in rows)}


def shown_columns(choices: Mapping[str, bool], empty: Iterable[Column]) -> list[Column]:
    """The columns to show: the reader's ``choices`` (column name -> shown) first, else the default
    ones that are not ``empty``."""
    hidden = DEFAULT_HIDDEN | set(empty)
    return [c for c in Column if choices.get(c.name.lower(), c not in hidden)]


# Narrow columns' header texts (their full names are the headers' tooltips and the column menu's).
SHORT_HEADERS = {
    Column.RANK: "#", Column.FLAG: "!", Column.PROBABILITY: "p", Column.PATIENT: "Patient",
    Column.DATE: "Date",
}  # fmt: skip


def sort_key(column: Column) -> Callable[[StudyRow], Any]:
    """What rows sort by in ``column``: unranked rows after ranked ones, blanks before any value."""
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
        Column.GATE: lambda r: -1.0 if r.gate_score is None else r.gate_score,
        Column.STATUS: lambda r: r.status_text,
        Column.REVIEW: lambda r: r.review_text(),
    }
    return keys[column]
