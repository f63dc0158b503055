"""The worklist table's columns: their order, their headers, and what each sorts by."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from viewer.core.worklist import StudyRow


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
    GATE = 10  # the safety gate's score; "stopped" when it kept the study from being scored
    STATUS = 11
    REVIEW = 12


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
