"""``cxr-triage next``: claim and print the highest-ranked study nobody has reviewed or holds, on a team
store; two readers asking at once get different studies. Studies not scored yet come after the ranked
ones, in arrival order: the AI's flag orders the queue, it never takes a study out of it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inference.api import OPERATING_POINTS
from inference.bundled import DEMO_MODEL
from inference.cli.commands.claim_options import add_lease_argument, as_json, said
from inference.cli.commands.common import add_db_argument, card_and_thresholds, fail, minutes, with_store
from inference.store import Store, StoreError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("next", help="claim and print the next study to read on a team store")
    p.add_argument("--json", action="store_true", help="print the claim as JSON (null: none left)")
    p.add_argument("--operating-point", choices=OPERATING_POINTS, default=None, help="default: the card's")
    p.add_argument(
        "--model", type=Path, default=DEMO_MODEL, help="whose results rank (default: bundled demo)"
    )
    p.add_argument("--max-wait", type=minutes, default=None, metavar="MINUTES", help="as for triage")
    add_lease_argument(p)
    add_db_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model = card_and_thresholds(args.model, args.operating_point)
    if isinstance(model, str):
        return fail(model)
    card, thresholds = model
    return with_store(args.db, lambda store: _next(store, card.weights_sha256, thresholds, args))


def _next(store: Store, weights_sha256: str, thresholds: dict[str, float], args: argparse.Namespace) -> int:
    from inference.worklist.ranking import rank  # ranking, studies: not at parser build time
    from inference.worklist.studies import store_worklist

    worklist = store_worklist(store, weights_sha256)
    ranked = [study.result.study_uid for study in rank(worklist.results, thresholds, max_wait=args.max_wait)]
    waiting = dict.fromkeys(entry.meta.study_uid for entry in worklist.unscored)
    try:
        claim = store.claim_next([*ranked, *waiting], args.lease)
    except StoreError as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps(None if claim is None else as_json(claim)))
    else:
        print("Nothing left to read: every study is reviewed or being read" if claim is None else said(claim))
    return 0
