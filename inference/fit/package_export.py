"""Adding the ONNX export the reading station runs to a model package (``model export``, ``model import``,
publishing a trained package)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from inference.api import OnnxCard
from inference.fit.card_md import render_into
from inference.models.card import write_card
from inference.models.package import load_package
from inference.runtime.backends.onnx_export import export_into_package


def add_export(package: Path) -> OnnxCard:
    """Export the package's weights into it (:func:`export_into_package`) and name the export in its
    card (card.json, and card.md rendered again where the package has one); raises PackageError when the
    weights do not load."""
    card, model = load_package(package)
    section = export_into_package(package, card, model)
    write_card(package, dataclasses.replace(card, onnx=section))
    if (package / "card.md").is_file():
        render_into(package)
    return section
