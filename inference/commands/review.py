"""``cxr-triage review STUDY_UID {accept,reject,reviewed,clear}``: the reader's outcome, kept and audited."""

from __future__ import annotations

import argparse

from inference.commands.common import add_db_argument, fail, open_store
from inference.store import StoreError
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
    try:
        store = open_store(args.db)
    except StoreError as exc:
        return fail(str(exc))
    with store:
        if not store.has_study(args.study_uid):
            return fail(f"no study {terminal_safe(args.study_uid)} in {store.path}")
        if args.decision == "clear":
            store.clear_review(args.study_uid)
            print(f"Review cleared: {terminal_safe(args.study_uid)}")
            return 0
        review = store.set_review(args.study_uid, OUTCOME_OF[args.decision], args.note)
    print(f"{review.outcome} by {review.user} at {review.time}: {terminal_safe(args.study_uid)}")
    return 0
