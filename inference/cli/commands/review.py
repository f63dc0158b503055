"""``cxr-triage review STUDY_UID {accept,reject,reviewed,clear}``: the reader's outcome, kept and audited."""

from __future__ import annotations

import argparse

from inference.cli.commands.common import add_db_argument, fail, with_store
from inference.store import Store
from inference.text import terminal_safe

OUTCOME_OF = {"accept": "accepted", "reject": "rejected", "reviewed": "reviewed"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("review", help="record a study's review outcome in the store")
    p.add_argument("study_uid", metavar="STUDY_UID")
    p.add_argument("decision", choices=[*OUTCOME_OF, "clear"])
    p.add_argument("--note", default="", help="free text kept with the review")
    add_db_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return with_store(args.db, lambda store: _review(store, args.study_uid, args.decision, args.note))


def _review(store: Store, study_uid: str, decision: str, note: str) -> int:
    if not store.has_study(study_uid):
        return fail(f"no study {terminal_safe(study_uid)} in {store.path}")
    if decision == "clear":
        store.clear_review(study_uid)
        print(f"Review cleared: {terminal_safe(study_uid)}")
        return 0
    review = store.set_review(study_uid, OUTCOME_OF[decision], note)
    print(f"{review.outcome} by {review.user} at {review.time}: {terminal_safe(study_uid)}")
    return 0
