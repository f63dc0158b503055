"""How the viewer names a study other than the one being read (a similar study, a prior): by patient
or file, and date; by date only when the reader hides identifiers."""

from __future__ import annotations

from inference.api import ImageMeta


def display_date(study_date: str) -> str:
    """A DICOM date (YYYYMMDD) as 2024-01-02; anything else as it is."""
    if len(study_date) == 8 and study_date.isdigit():
        return f"{study_date[:4]}-{study_date[4:6]}-{study_date[6:]}"
    return study_date


def study_name(meta: ImageMeta, deidentify: bool) -> str:
    """The study as "Patient P2 · 2024-01-02", or the file's name when no patient is known; with identifiers
    hidden, "Study of 2024-01-02" (no ID, no file name: file names often carry patients' names)."""
    date = display_date(meta.study_date)
    if deidentify:
        return f"Study of {date}" if date else "Study (identifiers hidden)"
    who = f"Patient {meta.patient_id}" if meta.patient_id else meta.path.name
    return f"{who} · {date}" if date else who
