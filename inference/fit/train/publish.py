"""Finish a package for shipping: published reference figures, the retrain command, card.md, and the
ONNX export the CPU runtime runs (``model.onnx``, named in the card).

``python -m inference.fit.train.publish PACKAGE [--recipe TEXT] [--reference NAME=AUROC ...]
[--evaluation TITLE=DIR ...]``: ``DIR`` is the output of ``cxr-triage evaluate`` (its metrics.json),
whose AUROCs and CIs go into the card under TITLE. The weights (and so their sha256) do not change.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from inference.fit.train.card_md import render
from inference.models.card import read_card, write_card
from inference.runtime.backends import onnx, onnx_export

SUMMARY_KEYS = ("auroc", "ci95", "n_positive", "n_negative")


def evaluation_strata(folder: Path, title: str) -> dict[str, dict[str, dict[str, object]]]:
    """stratum -> label -> AUROC summary of one ``evaluate`` output: its strata (sources, views) when
    it has several sources, else the whole set under ``title``."""
    metrics = json.loads((Path(folder) / "metrics.json").read_text(encoding="utf-8"))
    if metrics.get("by_stratum"):
        return metrics["by_stratum"]
    labels = metrics["labels"]
    return {title: {label: {k: r[k] for k in SUMMARY_KEYS if k in r} for label, r in labels.items()}}


def publish(
    package: Path,
    recipe: str = "",
    references: dict[str, float] | None = None,
    evaluations: dict[str, Path] | None = None,
) -> None:
    package = Path(package)
    card = read_card(package)
    if references:
        card = dataclasses.replace(card, metrics=dict(card.metrics) | {"published_reference": references})
    if evaluations:
        product_path = {title: evaluation_strata(folder, title) for title, folder in evaluations.items()}
        card = dataclasses.replace(card, metrics=dict(card.metrics) | {"product_path_test": product_path})
    if recipe:
        card = dataclasses.replace(
            card, recipe=recipe if not card.recipe else f"{recipe}\n(which runs: {card.recipe})"
        )
    write_card(package, card)
    (package / "card.md").write_text(render(read_card(package)), encoding="utf-8")
    if card.architecture in onnx.ARCHITECTURES:  # the export the CPU runtime runs, named in the card
        onnx_export.add_export(package)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m inference.fit.train.publish")
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
