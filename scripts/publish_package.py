"""Finish a package for shipping (by hand; ``retrain.sh`` and ``evaluate.sh`` run it): published
reference figures, the retrain command, card.md and the ONNX export. See :mod:`inference.fit.train.publish`.

    .venv/bin/python scripts/publish_package.py PACKAGE [--recipe TEXT] [--reference NAME=AUROC ...]
        [--evaluation TITLE=DIR ...]

``DIR`` is the output of ``cxr-triage evaluate`` (its metrics.json), whose AUROCs and CIs go into the
card under TITLE. The weights (and so their sha256) do not change.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inference.fit.train.publish import publish


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/publish_package.py", description=__doc__.split("\n")[0])
    p.add_argument("package", type=Path)
    p.add_argument("--recipe", default="")
    p.add_argument("--reference", action="append", default=[], metavar="NAME=AUROC")
    p.add_argument("--evaluation", action="append", default=[], metavar="TITLE=DIR")
    args = p.parse_args(argv)
    refs = {k: float(v) for k, v in (r.rsplit("=", 1) for r in args.reference)}
    evaluations = {k: Path(v) for k, v in (e.split("=", 1) for e in args.evaluation)}
    publish(args.package, args.recipe, refs or None, evaluations or None)
    print(f"wrote {args.package / 'card.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
