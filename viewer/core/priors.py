"""A patient's prior study: the latest of the same Patient ID acquired before the one being read."""

from __future__ import annotations

from collections.abc import Iterable

from viewer.core.worklist import RowState, StudyRow


def _acquired(row: StudyRow) -> tuple[str, str]:
    return row.meta.study_date, row.meta.study_time


def prior_of(rows: Iterable[StudyRow], current: StudyRow) -> StudyRow | None:
    """The latest readable study of ``current``'s patient acquired before it; None when its patient
    or its date is unknown (a PNG), or when the patient has no earlier study among ``rows``."""
    patient = current.meta.patient_id
    if not patient or not current.meta.study_date:
        return None
    earlier = [
        row
        for row in rows
        if row.uid != current.uid
        and row.state is not RowState.ERROR
        and row.meta.patient_id == patient
        and row.meta.study_date
        and _acquired(row) < _acquired(current)
    ]
    return max(earlier, key=_acquired, default=None)
