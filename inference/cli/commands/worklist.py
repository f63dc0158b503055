"""``cxr-triage worklist``: the store's studies as a ranked worklist, without scoring anything."""

from __future__ import annotations

import argparse
from pathlib import Path

from inference.api import OPERATING_POINTS, ModelCard
from inference.bundled import DEMO_MODEL
from inference.cli.commands.common import (
    add_db_argument,
    card_and_thresholds,
    check_output_folder,
    fail,
    minutes,
    stop,
    with_store,
)
from inference.cli.commands.run_end import write_and_record
from inference.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worklist", help="write the ranked worklist of every study in the store (no scoring)")
    p.add_argument("--out", type=Path, default=Path("cxr-triage-out"), help="output folder")
    p.add_argument("--operating-point", choices=OPERATING_POINTS, default=None, help="default: the card's")
    p.add_argument(
        "--model", type=Path, default=DEMO_MODEL, help="whose results and thresholds (default: bundled demo)"
    )
    p.add_argument("--deidentify", action="store_true", help="opaque ids instead of files, UIDs, patient IDs")
    p.add_argument("--max-wait", type=minutes, default=None, metavar="MINUTES", help="as for triage")
    add_db_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if problem := check_output_folder(args.out):
        return fail(problem)
    model = card_and_thresholds(args.model, args.operating_point)
    if isinstance(model, str):
        return fail(model)
    card, thresholds = model
    return with_store(args.db, lambda store: _write(store, card, thresholds, args))


def _write(store: Store, card: ModelCard, thresholds: dict[str, float], args: argparse.Namespace) -> int:
    from inference.worklist.ranking import rank  # ranking, studies: not at parser build time
    from inference.worklist.studies import store_worklist

    ranked = rank(store_worklist(store, card.weights_sha256).results, thresholds, max_wait=args.max_wait)
    csv_path, problem = write_and_record(
        ranked, card, thresholds, args.out, store, deidentify=args.deidentify
    )
    if csv_path is None:
        return stop(f"{problem} (any worklist already there is unchanged)")
    print(f"{len(ranked)} studies from {store.path}; worklist: {csv_path} (+ worklist.json)")
    if purged := sum(1 for study in ranked if study.result.meta.purged):
        print(f"{purged} of them with their files removed by purge: listed from their stored results")
    if problem:
        return stop(f"the worklist was written, but {problem}")
    return 0
