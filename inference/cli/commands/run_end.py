"""How a command that writes the worklist ends (triage, pull, batch, worklist): the files written and
their export recorded in the audit trail, the last line, and the exit code."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

from inference.api import ModelCard, RankedStudy, Status, StudyResult
from inference.cli.commands.common import INTERRUPTED, stopped_early, write_failure
from inference.cli.main import EXIT_INTERRUPTED
from inference.store import Store, StoreError
from inference.text import terminal_safe
from inference.worklist.export import RunSummary, write_worklist

EXIT_NOTHING_SCORED = 1


def write_and_record(
    ranked: Sequence[RankedStudy],
    card: ModelCard,
    thresholds: Mapping[str, float],
    out: Path,
    store: Store,
    *,
    deidentify: bool = False,
    run: RunSummary | None = None,
) -> tuple[Path | None, str]:
    """Write the worklist files into ``out`` (atomically: a failure leaves any worklist already there
    unchanged) with the store's reviews, and record the export in the audit trail. Returns the CSV's
    path (None when the files could not be written) and what went wrong ("" when nothing did)."""
    problem = ""
    try:
        reviews = store.reviews()
    except (StoreError, sqlite3.Error) as exc:
        reviews, problem = {}, f"the study store could not be read: {exc}"
    try:
        csv_path, _ = write_worklist(
            ranked, card, thresholds, out, reviews=reviews, deidentify=deidentify, run=run
        )
    except OSError as exc:
        return None, write_failure(f"the worklist into {out}", exc)
    try:
        store.log("exported", weights_sha256=card.weights_sha256, what="worklist", studies=len(ranked))
    except StoreError as exc:
        problem = problem or f"the export could not be recorded in the audit trail: {exc}"
    return csv_path, problem


def worklist_line(csv_path: Path, studies: int, run: RunSummary, stopped: str) -> str:
    """The run's last line on stdout: where the worklist is, and what was scored."""
    tail = (
        " — interrupted, partial" if stopped == INTERRUPTED else " — stopped, partial" if run.partial else ""
    )
    return (
        f"Worklist: {terminal_safe(str(csv_path))} (+ worklist.json); {studies} studies; images scored "
        f"{run.scored}, reused {run.reused}, errors {run.errors}{tail}"
    )


def exit_code(stopped: str, results: Sequence[StudyResult], left: str) -> int:
    """130 after Ctrl+C; a run that stopped early says why (``left``: what it did not score); else 0
    when any study was scored, :data:`EXIT_NOTHING_SCORED` when none was."""
    if stopped == INTERRUPTED:
        return EXIT_INTERRUPTED
    if stopped:
        return stopped_early(stopped, left)
    return 0 if any(r.status is Status.SCORED for r in results) else EXIT_NOTHING_SCORED
