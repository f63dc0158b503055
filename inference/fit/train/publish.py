"""Finish a package for shipping: published reference figures, the retrain command, card.md, and the
ONNX export the CPU runtime runs (``model.onnx``, named in the card).

Run by hand through ``scripts/publish_package.py``. The weights (and so their sha256) do not change.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from inference.fit.card_md import render_into
from inference.fit.package_export import add_export
from inference.models.card import read_card, write_card
from inference.runtime.backends import onnx

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
    render_into(package)
    if card.architecture in onnx.ARCHITECTURES:  # the export the CPU runtime runs, named in the card
        add_export(package)
