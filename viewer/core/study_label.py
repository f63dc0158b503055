"""How the viewer names a study other than the one being read (a similar study, a prior, the study the
PACS dialog sends): by patient (and accession, where asked) or file, and date; by date only when the
reader hides identifiers."""

from __future__ import annotations

from inference.api import ImageMeta


def display_date(study_date: str) -> str:
    """A DICOM date (YYYYMMDD) as 2024-01-02; anything else as it is."""
    if len(study_date) == 8 and study_date.isdigit():
        return f"{study_date[:4]}-{study_date[4:6]}-{study_date[6:]}"
    return study_date


def study_name(meta: ImageMeta, deidentify: bool, with_accession: bool = False) -> str:
    """The study as "Patient P2 · 2024-01-02" ("Patient P2 · accession A1 · 2024-01-02" with
    ``with_accession``), or the file's name when the header names neither; with identifiers hidden,
    "Study of 2024-01-02" (no ID, no file name: file names often carry patients' names; no UID)."""
    date = display_date(meta.study_date)
    if deidentify:
        return f"Study of {date}" if date else "Study (identifiers hidden)"
    named = [f"Patient {meta.patient_id}"] if meta.patient_id else []
    named += [f"accession {meta.accession}"] if with_accession and meta.accession else []
    return " · ".join((named or [meta.path.name]) + ([date] if date else []))
