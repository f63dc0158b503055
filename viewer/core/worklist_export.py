"""Worklist export (CSV + JSON) from the viewer, with the reader's review marks.

Columns follow the headless ``triage`` command's worklist where they overlap; patient identifiers
are left out when the viewer hides them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from inference.api import ModelCard
from viewer.core.worklist import StudyRow

FIELDS = (
    "rank", "study_uid", "patient_id", "accession", "study_date", "view_position", "status", "reason",
    "top_finding", "top_probability", "positive_findings", "risk_score", "reviewed", "path",
)  # fmt: skip


def row_record(row: StudyRow, hide_phi: bool) -> dict[str, object]:
    return {
        "rank": row.rank if row.rank is not None else "",
        "study_uid": "" if hide_phi else row.uid,
        "patient_id": "" if hide_phi else row.meta.patient_id,
        "accession": "" if hide_phi else row.meta.accession,
        "study_date": row.meta.study_date,
        "view_position": row.meta.view_position,
        "status": row.state.value,
        "reason": row.reason,
        "top_finding": row.top_finding,
        "top_probability": "" if row.top_probability is None else round(row.top_probability, 4),
        "positive_findings": ";".join(row.positives),
        "risk_score": round(row.risk, 4),
        "reviewed": row.reviewed,
        "path": "" if hide_phi else str(row.meta.path),
    }


def export_worklist(
    rows: Sequence[StudyRow],
    card: ModelCard | None,
    thresholds: dict[str, float],
    folder: Path,
    hide_phi: bool,
    stamp: str | None = None,
) -> tuple[Path, Path]:
    """Write ``worklist-<stamp>.csv`` and ``.json`` into ``folder``; returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = stamp or datetime.now().strftime("%Y%m%d-%H%M%S")
    records = [row_record(r, hide_phi) for r in rows]
    csv_path = folder / f"worklist-{stamp}.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(records)
    json_path = folder / f"worklist-{stamp}.json"
    model = (
        {"name": card.name, "version": card.version, "weights_sha256": card.weights_sha256} if card else None
    )
    payload = {"model": model, "thresholds": thresholds, "studies": records}
    json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return csv_path, json_path
