"""Composition root of ``cxr-triage``: headless commands go to :mod:`inference.cli`;
no arguments (or ``gui``) opens the desktop viewer. Qt is imported only on that path."""

from __future__ import annotations

import sys
from pathlib import Path

from inference.cli import COMMANDS

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "resources" / "samples"
DEMO_MODEL = REPO / "models" / "cxr-demo-densenet121"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and (args[0] in COMMANDS or args[0].startswith("-")):
        from inference.cli import main as cli_main

        return cli_main(args)
    from viewer.gui import main as gui_main

    return gui_main(args[1:] if args and args[0] == "gui" else args)
