"""Worklist export (CSV + JSON) from the viewer.

Same columns as the headless ``triage`` command (:mod:`inference.worklist_export`) plus the
reader's ``reviewed`` mark; patient identifiers and file paths are blanked while the viewer hides
them, and file names carry a time stamp so that exports never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from inference.api import ModelCard
from inference.worklist_export import FIXED_COLUMNS, write_records
from viewer.core.worklist import RowState, StudyRow

_STATUS = {RowState.SCORED: "scored", RowState.ERROR: "error", RowState.NOT_SCORED: "not_scored"}
PHI_COLUMNS = ("file", "study_uid", "patient_id", "accession")


def row_record(row: StudyRow, labels: Sequence[str], hide_phi: bool) -> dict[str, object]:
    meta = row.meta
    record: dict[str, object] = {
        "rank": row.rank,
        "file": str(meta.path),
        "study_uid": row.uid,
        "patient_id": meta.patient_id,
        "accession": meta.accession,
        "study_date": meta.study_date,
        "view": meta.view_position,
        "status": _STATUS.get(row.state, row.state.value),
        "error": row.reason_for(hide_phi),
        "top_finding": row.top_finding,
        "top_probability": None if row.top_probability is None else round(row.top_probability, 6),
        "positive_findings": "|".join(row.positives),
        "risk_score": round(row.risk, 6) if row.probabilities else None,
    }
    if hide_phi:
        record |= dict.fromkeys(PHI_COLUMNS, "")
    record |= {k: (round(row.probabilities[k], 6) if k in row.probabilities else None) for k in labels}
    record["reviewed"] = row.reviewed
    return record


def export_worklist(
    rows: Sequence[StudyRow],
    card: ModelCard | None,
    thresholds: Mapping[str, float],
    folder: Path,
    hide_phi: bool,
    stamp: str | None = None,
) -> tuple[Path, Path]:
    """Write ``worklist-<stamp>.csv`` and ``.json`` into ``folder``; returns both paths."""
    stamp = stamp or datetime.now().strftime("%Y%m%d-%H%M%S")
    labels = card.shown_labels if card else ()
    return write_records(
        [row_record(r, labels, hide_phi) for r in rows],
        [*FIXED_COLUMNS, *labels, "reviewed"],
        card,
        thresholds,
        Path(folder) / f"worklist-{stamp}.csv",
        notes={"patient_identifiers": "hidden" if hide_phi else "included"},
    )
