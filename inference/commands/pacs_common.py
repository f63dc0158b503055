"""What the PACS commands (pull, listen, export-dicom, send) share: model and network options, the
engine they score and draw with, and the exit code of a PACS failure."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from inference.api import OPERATING_POINTS
from inference.bundled import DEMO_MODEL
from inference.commands.common import seconds
from inference.options import DEVICES
from inference.pacs.destinations import DEFAULT_TIMEOUT_S

if TYPE_CHECKING:
    from inference.engine import Engine, Listener, ModelInfo
    from inference.store import Store

EXIT_PACS = 3  # the PACS was down, refused, answered an error or timed out; what arrived is kept


def add_model_arguments(parser: argparse.ArgumentParser, operating_point: bool = True) -> None:
    parser.add_argument(
        "--model", type=Path, default=DEMO_MODEL, help="model package folder (default: bundled demo)"
    )
    parser.add_argument("--device", choices=DEVICES, default="auto")
    if operating_point:
        parser.add_argument(
            "--operating-point", choices=OPERATING_POINTS, default=None, help="default: the card's"
        )


def add_timeout_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long to wait for the PACS to connect or answer (default {DEFAULT_TIMEOUT_S:g})",
    )


def start_engine(
    args: argparse.Namespace, store: Store, listener: Listener | None = None, batch_size: int = 8
) -> tuple[Engine, ModelInfo | str]:
    """An engine on ``store`` with ``--model`` loaded on ``--device``, or the reason it could not load."""
    from inference.engine import Engine
    from inference.models.card import PackageError
    from inference.service import load_service

    backend = getattr(args, "backend", "auto")  # pull has --backend; listen scores with the default
    engine = Engine(
        listener,
        loader=lambda package, device: load_service(package, device, backend=backend),
        store=store,
        batch_size=batch_size,
    )
    try:
        return engine, engine.load(args.model, args.device).result()
    except (PackageError, ValueError, OSError) as exc:
        return engine, f"cannot load model: {exc}"


def fail_pacs(message: str) -> int:
    """Print a PACS failure and return its exit code."""
    print(f"cxr-triage: {message}", file=sys.stderr)
    return EXIT_PACS
