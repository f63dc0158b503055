"""``cxr-triage claim STUDY_UID``: claim a study on a team store for a lease, so that other readers see
it is being read; ``--take-over`` takes it from another reader (audited)."""

from __future__ import annotations

import argparse

from inference.cli.commands.claim_options import add_lease_argument, said
from inference.cli.commands.common import add_db_argument, fail, with_store
from inference.store import Store, StoreError
from inference.text import terminal_safe

EXIT_HELD = 1  # another reader holds the study


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("claim", help="claim a study on a team store (others see it is being read)")
    p.add_argument("study_uid", metavar="STUDY_UID")
    p.add_argument("--take-over", action="store_true", help="take it from the reader who holds it (audited)")
    add_lease_argument(p)
    add_db_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return with_store(args.db, lambda store: _claim(store, args))


def _claim(store: Store, args: argparse.Namespace) -> int:
    try:
        claim = store.claim(args.study_uid, args.lease, take_over=args.take_over)
    except KeyError:
        return fail(f"no study {terminal_safe(args.study_uid)} in {store.path}")
    except StoreError as exc:  # a SQLite store, a role that may not claim, the server gone
        return fail(str(exc))
    print(said(claim))
    return 0 if claim.mine else EXIT_HELD
