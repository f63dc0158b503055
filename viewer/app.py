"""Composition root of ``cxr-triage``: the headless commands of :mod:`inference.cli.main` plus ``gui``,
which opens the desktop viewer (also what no arguments do) on the study store, and the files or
folders given; ``gui --samples`` on the bundled sample studies, kept in memory (``make run``). Qt and
:mod:`viewer.gui` are imported only when ``gui`` runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inference.cli.commands.common import add_db_argument, seconds
from inference.cli.main import main as cli_main

SMOKE_LIMIT_S = 120.0  # viewer.gui.SMOKE_LIMIT_S (not imported: --help stays free of the viewer)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cxr-triage`` console script; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    return cli_main(args or ["gui"], extra={"gui": register_gui})


def register_gui(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop viewer (also what `cxr-triage` alone does)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to add to the study store")
    add_db_argument(p)
    p.add_argument(
        "--samples",
        action="store_true",
        help="open the bundled sample studies in memory (never in the study store) instead of the store",
    )
    p.add_argument(
        "--smoke-screenshot",
        type=Path,
        default=None,
        metavar="PNG",
        help="check an installation: open the viewer as usual, wait until the model has loaded and the "
        "worklist is scored, save a screenshot of the window to PNG and quit with 0; 1, with one line on "
        "stderr, when the model does not load, scoring fails, the PNG cannot be written or the time "
        "limit passes",
    )
    p.add_argument(
        "--smoke-timeout",
        type=seconds,
        default=SMOKE_LIMIT_S,
        metavar="SECONDS",
        help=f"time limit of --smoke-screenshot (default {SMOKE_LIMIT_S:g})",
    )
    p.add_argument(
        "--smoke-layout",
        type=Path,
        default=None,
        metavar="FILE",
        help="for tests and CI: append the panes' sizes to FILE (JSON lines) whenever the shown study "
        "changes or the viewer goes idle",
    )
    p.set_defaults(func=run_gui)


def run_gui(args: argparse.Namespace) -> int:
    from viewer.gui import main as gui_main

    options: dict = {"samples": True} if args.samples else {}
    if args.smoke_screenshot is not None:
        options.update(smoke_screenshot=args.smoke_screenshot, smoke_limit_s=args.smoke_timeout)
    if args.smoke_layout is not None:
        options["layout_log"] = args.smoke_layout
    return gui_main(args.paths, db=args.db, **options)


if __name__ == "__main__":
    sys.exit(main())
