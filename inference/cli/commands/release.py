"""``cxr-triage release STUDY_UID``: give back your claim of a study on a team store."""

from __future__ import annotations

import argparse

from inference.cli.commands.common import add_db_argument, fail, with_store
from inference.store import Store, StoreError
from inference.text import terminal_safe

EXIT_NOT_HELD = 1  # you held no claim of it


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("release", help="give back your claim of a study on a team store")
    p.add_argument("study_uid", metavar="STUDY_UID")
    add_db_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return with_store(args.db, lambda store: _release(store, args.study_uid))


def _release(store: Store, study_uid: str) -> int:
    try:
        released = store.release(study_uid)
    except StoreError as exc:
        return fail(str(exc))
    if released:
        print(f"Released: {terminal_safe(study_uid)}")
        return 0
    print(f"You hold no claim of {terminal_safe(study_uid)}")
    return EXIT_NOT_HELD
