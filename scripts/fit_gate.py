"""Fit and calibrate a model package's safety gate on the public data folder, and report it (by hand,
after training; ``retrain.sh`` runs it). See :mod:`inference.fit.gate`.

    .venv/bin/python scripts/fit_gate.py PACKAGE DATA_DIR [--components K] [--per-source N]
        [--orientation-per-source M]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inference.fit.gate import fit_public_gate
from inference.gate.stats import GATE_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/fit_gate.py", description=__doc__.split("\n")[0])
    parser.add_argument("package", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--components", type=int, default=32)
    parser.add_argument("--per-source", type=int, default=600, help="images per source and split at most")
    parser.add_argument(
        "--orientation-per-source",
        type=int,
        default=150,
        help="training images per source the orientation fit embeds upright and turned four ways",
    )
    args = parser.parse_args(argv)
    fit_public_gate(args.package, args.data, args.components, args.per_source, args.orientation_per_source)
    print(f"wrote {args.package / GATE_FILE}; the figures are in {args.package / 'card.md'} (Safety gate)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
