"""The options of every command that loads a model, described once: which package, where it runs and
how it scores (triage, pull, listen; export-dicom and send draw heat maps with the same model), the
worklist options triage and pull share, and the service they load."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from inference.api import OPERATING_POINTS, TriageService
from inference.bundled import DEMO_MODEL
from inference.cli.commands.common import minutes, positive_int
from inference.runtime.options import BACKEND_HELP, BACKENDS, DEVICES, PRECISION_HELP, PRECISIONS, TTA_MODES

if TYPE_CHECKING:
    from inference.runtime.engine import Loader

SCORING_DEFAULTS = {"tta": "none", "precision": "fp32", "backend": "auto", "batch_size": 8}


def add_model_arguments(
    parser: argparse.ArgumentParser, operating_point: bool = True, scoring: bool = True
) -> None:
    """``--model`` and ``--device``; ``--operating-point`` unless told not; and unless ``scoring`` is
    False (a command that only draws heat maps), how it scores: ``--tta``, ``--precision``,
    ``--backend``, ``--batch-size`` (else their defaults)."""
    parser.add_argument(
        "--model", type=Path, default=DEMO_MODEL, help="model package folder (default: bundled demo)"
    )
    parser.add_argument("--device", choices=DEVICES, default="auto")
    if operating_point:
        parser.add_argument(
            "--operating-point", choices=OPERATING_POINTS, default=None, help="default: the card's"
        )
    if not scoring:
        parser.set_defaults(**SCORING_DEFAULTS)
        return
    parser.add_argument("--tta", choices=TTA_MODES, default=SCORING_DEFAULTS["tta"])
    parser.add_argument(
        "--precision", choices=PRECISIONS, default=SCORING_DEFAULTS["precision"], help=PRECISION_HELP
    )
    parser.add_argument("--backend", choices=BACKENDS, default=SCORING_DEFAULTS["backend"], help=BACKEND_HELP)
    parser.add_argument("--batch-size", type=positive_int, default=SCORING_DEFAULTS["batch_size"])


def add_worklist_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the ranked worklist goes and how it is written (triage, pull)."""
    parser.add_argument("--out", type=Path, default=Path("cxr-triage-out"), help="output folder")
    parser.add_argument("--annotate", action="store_true", help="write one annotated PNG per scored study")
    parser.add_argument(
        "--deidentify",
        action="store_true",
        help="outputs name files and studies by opaque ids and leave out patient ID and accession",
    )
    parser.add_argument(
        "--max-wait",
        type=minutes,
        default=None,
        metavar="MINUTES",
        help="negative studies waiting longer than this move above the unscored and other negatives",
    )


def model_loader(args: argparse.Namespace) -> Loader:
    """The engine's loader of the service the options ask for (the package and device come with each load)."""

    def load(package: Path, device: str) -> TriageService:
        from inference.runtime.service import load_service  # runtime.service: not at parser build time

        return load_service(package, device, args.tta, args.precision, args.backend)

    return load
