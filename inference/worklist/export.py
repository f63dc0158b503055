"""The ranked worklist as CSV and JSON: the stable interface other tools read.

One record builder serves ``triage``, ``worklist`` and the viewer's export. Text is written as
valid UTF-8 (non-UTF-8 bytes of file names become ``\\xNN``); CSV cells that a spreadsheet would
run as formulas are neutralised (CSV only: JSON keeps the values as they are). Both files are
written atomically (:mod:`inference.io.atomic`): a write that fails (a full disk) leaves the
previous pair as it was and no half file.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from inference.api import ModelCard, RankedStudy
from inference.io.atomic import atomic_paths
from inference.store import Review
from inference.text import csv_cell, printable
from inference.worklist.deidentify import neutral_names, opaque_id

FIXED_COLUMNS = (
    "rank", "file", "study_uid", "patient_id", "accession", "study_date", "view", "status", "error",
    "warnings", "top_finding", "top_probability", "positive_findings", "risk_score", "overdue", "gate",
    "gate_overridden",
)  # fmt: skip
REVIEW_COLUMNS = ("review", "reviewed_by", "reviewed_at", "review_note")
PARTIAL_NOTE = "# partial worklist: the run stopped before every study was scored"


@dataclass(frozen=True)
class RunSummary:
    """What a run adds to the JSON document: image counts, whether it finished and how many of the
    studies it found are missing from the list because it stopped before scoring them."""

    scored: int = 0
    reused: int = 0
    errors: int = 0
    partial: bool = False
    unfinished: int = 0  # studies found but not scored (not in the list): only a partial run has any

    def note(self) -> str:
        """The CSV's first line of a partial worklist."""
        missing = f"; {self.unfinished} studies found are not in this list" if self.unfinished else ""
        return PARTIAL_NOTE + missing


def columns(card: ModelCard | None) -> list[str]:
    """The worklist's columns: fixed ones, one per shown finding (named by its label), the review."""
    return [*FIXED_COLUMNS, *(card.shown_labels if card else ()), *REVIEW_COLUMNS]


def study_record(
    item: RankedStudy, labels: Sequence[str], review: Review | None = None, deidentify: bool = False
) -> dict[str, object]:
    """One flat row for a ranked study. With ``deidentify``, files and UIDs become opaque ids,
    patient ID, accession and the review note (free text a reader may have written a name in) are
    left empty and reasons name images "image N"."""
    result, meta = item.result, item.result.meta
    files = result.images or (meta.path,)

    def text(value: str) -> str:
        return printable(neutral_names(value, files) if deidentify else value)

    record: dict[str, object] = {
        "rank": item.rank,
        "file": opaque_id(meta.path, "image") if deidentify else printable(str(meta.path)),
        "study_uid": opaque_id(result.study_uid, "study") if deidentify else printable(result.study_uid),
        "patient_id": "" if deidentify else printable(meta.patient_id),
        "accession": "" if deidentify else printable(meta.accession),
        "study_date": meta.study_date,
        "view": meta.view_position,
        "status": result.status.value,
        "error": text(result.reason),
        "warnings": text("; ".join(result.warnings)),
        "top_finding": item.top_finding,
        "top_probability": _number(item.top_probability),
        "positive_findings": "|".join(item.positive_findings),
        "risk_score": _number(item.risk_score) if result.probabilities else None,
        "overdue": item.overdue,
        "gate": _number(result.gate_score),
        "gate_overridden": result.gate_overridden,
    }
    record |= {label: _number(result.probabilities.get(label)) for label in labels}
    record |= {
        "review": review.outcome if review else "",
        "reviewed_by": review.user if review else "",
        "reviewed_at": review.time if review else "",
        "review_note": printable(review.note) if review and not deidentify else "",
    }
    return record


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def write_worklist(
    ranked: Sequence[RankedStudy],
    card: ModelCard,
    thresholds: Mapping[str, float],
    out_dir: Path,
    *,
    reviews: Mapping[str, Review] | None = None,
    deidentify: bool = False,
    run: RunSummary | None = None,
) -> tuple[Path, Path]:
    """Write ``worklist.csv`` and ``worklist.json`` into ``out_dir``; returns both paths."""
    reviews = reviews or {}
    rows = [
        study_record(item, card.shown_labels, reviews.get(item.result.study_uid), deidentify)
        for item in ranked
    ]
    notes: dict[str, object] = {"patient_identifiers": "removed" if deidentify else "included"}
    if run is not None:
        notes["run"] = {"scored": run.scored, "reused": run.reused, "errors": run.errors}
        notes["partial"] = run.partial
        notes["unfinished"] = run.unfinished
    return write_records(
        rows,
        columns(card),
        card,
        thresholds,
        out_dir / "worklist.csv",
        notes,
        partial=run.note() if run and run.partial else False,
    )


def write_records(
    rows: Sequence[Mapping[str, object]],
    header: Sequence[str],
    card: ModelCard | None,
    thresholds: Mapping[str, float],
    csv_path: Path,
    notes: Mapping[str, object] | None = None,
    partial: bool | str = False,
) -> tuple[Path, Path]:
    """Write ``rows`` as ``csv_path`` and, beside it, the same rows in a JSON document that also
    names the model, the thresholds and the disclaimer (plus ``notes``); returns both paths.

    A ``partial`` worklist's CSV starts with a ``#`` comment line saying so (``partial`` may be that
    line). Both files are written under temporary names and renamed into place together once both
    are whole: an ``OSError`` (a full disk) leaves the previous files as they were.
    """
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
    # No indent: json's C encoder only runs without one (10,000 studies in 0.1 s instead of 0.8 s).
    encoded = (json.dumps(document, allow_nan=False) + "\n").encode("utf-8")
    with atomic_paths(csv_path, json_path) as (csv_temporary, json_temporary):
        with csv_temporary.open("w", newline="", encoding="utf-8") as f:
            if partial:
                f.write((partial if isinstance(partial, str) else PARTIAL_NOTE) + "\n")
            writer = csv.DictWriter(f, fieldnames=list(header))
            writer.writeheader()
            writer.writerows({k: "" if v is None else csv_cell(v) for k, v in row.items()} for row in rows)
        json_temporary.write_bytes(encoded)
    return csv_path, json_path
