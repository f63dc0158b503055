"""The ranked worklist as CSV and JSON: the stable interface other tools read."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from inference.api import ModelCard, RankedStudy

FIXED_COLUMNS = (
    "rank", "file", "study_uid", "patient_id", "accession", "study_date", "view", "status", "error",
    "top_finding", "top_probability", "positive_findings", "risk_score",
)  # fmt: skip


def worklist_rows(ranked: Sequence[RankedStudy], card: ModelCard) -> list[dict[str, object]]:
    """One flat row per study; finding columns are named exactly by their labels."""
    rows = []
    for item in ranked:
        meta, result = item.result.meta, item.result
        row: dict[str, object] = {
            "rank": item.rank,
            "file": str(meta.path),
            "study_uid": result.study_uid,
            "patient_id": meta.patient_id,
            "accession": meta.accession,
            "study_date": meta.study_date,
            "view": meta.view_position,
            "status": result.status.value,
            "error": result.reason,
            "top_finding": item.top_finding,
            "top_probability": _number(item.top_probability),
            "positive_findings": "|".join(item.positive_findings),
            "risk_score": _number(item.risk_score) if result.probabilities else None,
        }
        row |= {label: _number(result.probabilities.get(label)) for label in card.shown_labels}
        rows.append(row)
    return rows


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def write_worklist(
    ranked: Sequence[RankedStudy], card: ModelCard, thresholds: Mapping[str, float], out_dir: Path
) -> tuple[Path, Path]:
    """Write ``worklist.csv`` and ``worklist.json`` into ``out_dir``; returns both paths."""
    rows = worklist_rows(ranked, card)
    return write_records(
        rows, [*FIXED_COLUMNS, *card.shown_labels], card, thresholds, out_dir / "worklist.csv"
    )


def write_records(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str],
    card: ModelCard | None,
    thresholds: Mapping[str, float],
    csv_path: Path,
    notes: Mapping[str, object] | None = None,
) -> tuple[Path, Path]:
    """Write ``rows`` as ``csv_path`` and, beside it, the same rows in a JSON document that also
    names the model, the thresholds and the disclaimer (plus ``notes``); returns both paths."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    model = (
        {"name": card.name, "version": card.version, "weights_sha256": card.weights_sha256} if card else None
    )
    document = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model,
        "thresholds": dict(thresholds),
        "notice": "Not for diagnostic use.",
        **(notes or {}),
        "studies": list(rows),
    }
    json_path = csv_path.with_suffix(".json")
    json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return csv_path, json_path
