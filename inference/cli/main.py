"""``cxr-triage`` headless commands. Each command lives in ``inference/cli/commands/<name>.py`` and
exposes ``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.

Only the module of the command being run is imported; ``--help`` and a mistyped command register
every command, to list them."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Mapping

COMMANDS = (
    "triage", "worklist", "review", "audit", "model", "train", "evaluate", "similar",
    "pull", "listen", "export-dicom", "send", "batch", "purge", "store", "next", "claim", "release",
)  # fmt: skip
EXIT_INTERRUPTED = 130

Register = Callable[[argparse._SubParsersAction], None]


def _register_headless(name: str) -> Register:
    module = name.replace("-", "_")  # "export-dicom" lives in export_dicom.py
    return lambda sub: importlib.import_module(f"inference.cli.commands.{module}").register(sub)


def build_parser(
    extra: Mapping[str, Register] | None = None, only: str | None = None
) -> argparse.ArgumentParser:
    """The parser of every command, or of ``only`` that one; ``extra`` adds commands that live
    outside :mod:`inference` (the viewer's ``gui``)."""
    registrars = {name: _register_headless(name) for name in COMMANDS} | dict(extra or {})
    parser = argparse.ArgumentParser(prog="cxr-triage", description="Offline chest-radiograph triage.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, register in registrars.items():
        if only in (None, name):
            register(sub)
    return parser


def parse(argv: list[str], extra: Mapping[str, Register] | None = None) -> argparse.Namespace:
    """Parse ``argv``, importing only the named command's module; exits 2 on misuse (argparse)."""
    named = argv[0] if argv and argv[0] in (*COMMANDS, *(extra or {})) else None
    return build_parser(extra, only=named).parse_args(argv)


def main(argv: list[str] | None = None, extra: Mapping[str, Register] | None = None) -> int:
    """Run one command; Ctrl+C at any point (even while importing) ends with one line and 130."""
    try:
        args = parse(sys.argv[1:] if argv is None else argv, extra)
        return int(args.func(args))
    except KeyboardInterrupt:
        print("cxr-triage: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
