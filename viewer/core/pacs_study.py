"""The study the PACS dialog's Send tab offers: named by patient ID, accession number and date (by its
date only while the reader hides patient identifiers), and sendable only when it is a scored DICOM
study: its SR and Secondary Capture are filed under the study's DICOM images, which a PNG or JPEG
study does not have."""

from __future__ import annotations

from inference.api import ImageMeta
from viewer.core.worklist import RowState, StudyRow

NO_STUDY = "Select a scored study in the worklist first."
NOT_DICOM = (
    "Only DICOM studies can be sent: this study is a PNG or JPEG image, which has no DICOM study in the"
    " PACS to file its findings under."
)


def is_dicom(meta: ImageMeta) -> bool:
    """Only a DICOM header gives an image a photometric interpretation (type 1 in every DICOM image;
    PNG and JPEG images have none: :func:`inference.io.raster.raster_meta`)."""
    return bool(meta.photometric)


def why_not_sendable(row: StudyRow | None) -> str:
    """Why the study ``row`` cannot be sent, or "" when it can."""
    if row is None:
        return NO_STUDY
    if not is_dicom(row.meta):
        return NOT_DICOM
    return "" if row.state is RowState.SCORED else NO_STUDY


def display_date(study_date: str) -> str:
    """A DICOM date (YYYYMMDD) as 2024-01-02; anything else as it is."""
    if len(study_date) == 8 and study_date.isdigit():
        return f"{study_date[:4]}-{study_date[4:6]}-{study_date[6:]}"
    return study_date


def study_name(meta: ImageMeta, deidentify: bool) -> str:
    """ "Patient P1, accession A1, 2024-01-02" (the file's name where the header names neither); with
    identifiers hidden, "Study of 2024-01-02 (patient identifiers hidden)": no ID, no file name (file
    names often carry patients' names), no UID."""
    date = display_date(meta.study_date)
    if deidentify:
        return (
            f"Study of {date} (patient identifiers hidden)" if date else "Study (patient identifiers hidden)"
        )
    named = [f"Patient {meta.patient_id}"] if meta.patient_id else []
    named += [f"accession {meta.accession}"] if meta.accession else []
    return ", ".join((named or [meta.path.name]) + ([date] if date else []))
