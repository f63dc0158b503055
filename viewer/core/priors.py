"""A patient's prior study: the latest of the same Patient ID acquired before the one being read,
among the worklist's studies and those the store keeps (archived ones too)."""

from __future__ import annotations

from collections.abc import Iterable

from inference.api import ScanEntry, Status
from inference.store import Store
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


def stored_studies_of_patient(store: Store, study_uid: str) -> list[StudyRow]:
    """The other studies the store holds of ``study_uid``'s patient, archived ones included, as rows
    whose image is their first scorable file (studies of no scorable file are left out). Reads the
    store: call it off the GUI thread."""
    others = store.same_patient_studies(study_uid) - {study_uid}
    if not others:
        return []
    entries: dict[str, list[ScanEntry]] = {}
    for image in store.images(sorted(others), include_archived=True):
        entries.setdefault(image.entry.meta.study_uid, []).append(image.entry)
    return [
        StudyRow(uid, 0, files)
        for uid, files in entries.items()
        if any(e.status is Status.SCORED for e in files)
    ]
