"""Worklist export (CSV + JSON) from the viewer.

The records are the headless ``triage`` command's (:func:`inference.worklist.export.study_record`),
review columns included; while the viewer hides patient identifiers they are de-identified, and
file names carry a time stamp so that exports never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from inference.api import ModelCard
from inference.worklist.export import columns, study_record, write_records
from viewer.core.worklist import StudyRow


def export_worklist(
    rows: Sequence[StudyRow],
    card: ModelCard | None,
    thresholds: Mapping[str, float],
    folder: Path,
    deidentify: bool,
    stamp: str | None = None,
) -> tuple[Path, Path]:
    """Write the ranked ``rows`` as ``worklist-<stamp>.csv`` and ``.json`` into ``folder``."""
    stamp = stamp or datetime.now().strftime("%Y%m%d-%H%M%S")
    labels = card.shown_labels if card else ()
    records = [
        study_record(item, labels, row.review, deidentify=deidentify)
        for row in rows
        if (item := row.ranked()) is not None
    ]
    return write_records(
        records,
        columns(card),
        card,
        thresholds,
        Path(folder) / f"worklist-{stamp}.csv",
        notes={"patient_identifiers": "removed" if deidentify else "included"},
    )
