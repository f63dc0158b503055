"""What the PACS commands (pull, listen, export-dicom, send) share: the network option, the engine they
score and draw with, and the exit code of a PACS failure."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from inference.cli.commands.common import seconds
from inference.cli.commands.model_options import model_loader
from inference.models.card import PackageError
from inference.pacs.destinations import DEFAULT_TIMEOUT_S

if TYPE_CHECKING:
    from inference.runtime.engine import Engine, Listener, ModelInfo
    from inference.store import Store

EXIT_PACS = 3  # the PACS was down, refused, answered an error or timed out; what arrived is kept


def add_timeout_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long to wait for the PACS to connect or answer (default {DEFAULT_TIMEOUT_S:g})",
    )


def start_engine(
    args: argparse.Namespace, store: Store, listener: Listener | None = None
) -> tuple[Engine, ModelInfo | str]:
    """An engine on ``store`` with ``--model`` loaded on ``--device`` as the options ask
    (:func:`inference.cli.commands.model_options.add_model_arguments`), or the reason it could not load."""
    from inference.runtime.engine import Engine  # runtime.engine: not at parser build time

    engine = Engine(listener, loader=model_loader(args), store=store, batch_size=args.batch_size)
    try:
        return engine, engine.load(args.model, args.device).result()
    except (PackageError, ValueError, OSError) as exc:
        return engine, f"cannot load model: {exc}"


def fail_pacs(message: str) -> int:
    """Print a PACS failure and return its exit code."""
    print(f"cxr-triage: {message}", file=sys.stderr)
    return EXIT_PACS
