"""Finish a package for shipping: published reference figures, the retrain command, card.md.

``python -m inference.train.publish PACKAGE [--recipe TEXT] [--reference NAME=AUROC ...]``
Only card.json and card.md change; the weights (and so their sha256) do not.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from inference.models.card import read_card, write_card
from inference.train.card_md import render


def publish(package: Path, recipe: str = "", references: dict[str, float] | None = None) -> None:
    package = Path(package)
    card = read_card(package)
    if references:
        card = dataclasses.replace(card, metrics=dict(card.metrics) | {"published_reference": references})
    if recipe:
        card = dataclasses.replace(
            card, recipe=recipe if not card.recipe else f"{recipe}\n(which runs: {card.recipe})"
        )
    write_card(package, card)
    (package / "card.md").write_text(render(read_card(package)), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m inference.train.publish")
    p.add_argument("package", type=Path)
    p.add_argument("--recipe", default="")
    p.add_argument("--reference", action="append", default=[], metavar="NAME=AUROC")
    args = p.parse_args(argv)
    refs = {k: float(v) for k, v in (r.rsplit("=", 1) for r in args.reference)}
    publish(args.package, args.recipe, refs or None)
    print(f"wrote {args.package / 'card.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
