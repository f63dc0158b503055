"""Composition root of ``cxr-triage``: headless commands go to :mod:`inference.cli`;
no arguments (or ``gui [PATH...]``) opens the desktop viewer, on the bundled sample studies when
no path is given. Qt is imported only on that path."""

from __future__ import annotations

import sys

from inference.bundled import SAMPLES
from inference.cli import COMMANDS


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and (args[0] in COMMANDS or args[0].startswith("-")):
        from inference.cli import main as cli_main

        return cli_main(args)
    from viewer.gui import main as gui_main

    paths = args[1:] if args and args[0] == "gui" else args
    return gui_main(paths or [str(SAMPLES)])
