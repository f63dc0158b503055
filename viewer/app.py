"""Composition root of ``cxr-triage``: the headless commands of :mod:`inference.cli` plus ``gui``,
which opens the desktop viewer (also what no arguments do), on the bundled sample studies when no
path is given. Qt and :mod:`viewer.gui` are imported only when ``gui`` runs."""

from __future__ import annotations

import argparse
import sys

from inference.cli import main as cli_main
from inference.commands.common import add_db_argument


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cxr-triage`` console script; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    return cli_main(args or ["gui"], extra={"gui": register_gui})


def register_gui(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop viewer (also what `cxr-triage` alone does)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: the bundled samples)")
    add_db_argument(p)
    p.set_defaults(func=run_gui)


def run_gui(args: argparse.Namespace) -> int:
    from inference.bundled import SAMPLES
    from viewer.gui import main as gui_main

    return gui_main(args.paths or [str(SAMPLES)], db=args.db)
