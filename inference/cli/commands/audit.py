"""``cxr-triage audit``: the store's audit trail, oldest first (never holds patient names)."""

from __future__ import annotations

import argparse
import dataclasses
import json

from inference.cli.commands.common import add_db_argument, with_store
from inference.store import AuditEvent
from inference.text import terminal_safe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="print the audit trail of the store")
    p.add_argument("--json", action="store_true", help="a JSON list of events")
    add_db_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return with_store(args.db, lambda store: _print(store.audit(), args.json))


def _print(events: list[AuditEvent], as_json: bool) -> int:
    if as_json:
        print(json.dumps([dataclasses.asdict(e) for e in events], indent=2))
        return 0
    for e in events:
        detail = " ".join(f"{k}={v}" for k, v in e.detail.items())
        study, weights = e.study_uid or "-", e.weights_sha256[:12]
        line = f"{e.time}  {e.user:<12} {e.action:<16} {study}  {weights}  {detail}"
        print(terminal_safe(line.rstrip()))
    return 0
