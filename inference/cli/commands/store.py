"""``cxr-triage store``: set up a team store on a PostgreSQL server (IT's part, with an administrator's
URL): ``store init ADMIN_URL`` makes the schema and the roles ``cxr_service`` and ``cxr_reader``;
``store add-user ADMIN_URL NAME --role reader|service`` adds a login to one of them, its password from
``PGPASSWORD`` or asked for."""

from __future__ import annotations

import argparse
import getpass
import os

from inference.cli.commands.common import fail
from inference.store import Store, StoreError, is_server_url
from inference.text import terminal_safe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("store", help="set up a team store on a PostgreSQL server (schema, roles, users)")
    actions = p.add_subparsers(dest="store_action", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="make (or bring up to date) the schema and the two group roles")
    init.add_argument("admin_url", metavar="ADMIN_URL", help="postgresql://ADMIN@HOST:PORT/DBNAME")
    init.set_defaults(func=run_init)
    add = actions.add_parser("add-user", help="add a login role (password: $PGPASSWORD, else asked)")
    add.add_argument("admin_url", metavar="ADMIN_URL", help="postgresql://ADMIN@HOST:PORT/DBNAME")
    add.add_argument("name", metavar="NAME", help="the login: what the audit will say")
    add.add_argument(
        "--role", choices=("reader", "service"), required=True,
        help="reader: reviews and claims; service: listen, pull, batch (images and results, never reviews)",
    )  # fmt: skip
    add.set_defaults(func=run_add_user)


def run_init(args: argparse.Namespace) -> int:
    if not is_server_url(args.admin_url):
        return fail(
            f"ADMIN_URL must be postgresql://USER@HOST:PORT/DBNAME, got {terminal_safe(args.admin_url)}"
        )
    from inference.store.postgres_schema import READER_ROLE, SERVICE_ROLE

    try:
        with Store(args.admin_url) as store:
            version = store.version
    except StoreError as exc:
        return fail(str(exc))
    print(f"Team store ready (schema {version}); roles {SERVICE_ROLE} and {READER_ROLE}.")
    print("Add each reader and service: cxr-triage store add-user ADMIN_URL NAME --role reader|service")
    return 0


def run_add_user(args: argparse.Namespace) -> int:
    if not is_server_url(args.admin_url):
        return fail(
            f"ADMIN_URL must be postgresql://USER@HOST:PORT/DBNAME, got {terminal_safe(args.admin_url)}"
        )
    from inference.store.postgres_backend import create_login
    from inference.store.postgres_schema import ROLES

    # The new login's password: taken out of the environment, so that the administrator's connection
    # uses its own (from ADMIN_URL, ~/.pgpass or the server's local authentication).
    password = os.environ.pop("PGPASSWORD", "") or _asked(args.name)
    if not password:
        return fail("no password: set PGPASSWORD, or type the same one twice")
    try:
        create_login(args.admin_url, args.name, ROLES[args.role], password)
    except StoreError as exc:
        return fail(str(exc))
    print(f"{terminal_safe(args.name)} may now log in as a {args.role} ({ROLES[args.role]}).")
    return 0


def _asked(name: str) -> str:
    first = getpass.getpass(f"Password for {name}: ")
    return first if first == getpass.getpass("Again: ") else ""
