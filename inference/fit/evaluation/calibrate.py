"""Re-derive operating points on a site's own labelled data (thresholds do not transfer across sites).

Writes a new package: the same weights (same sha256), a card whose operating points, validation
curve and AUROC come from the given data. Use data that is not also used to report performance.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np

from inference.api import ModelCard
from inference.fit.evaluation.metrics import auroc, operating_points, validation_curve
from inference.fit.evaluation.predict import Scored
from inference.models.card import WEIGHTS, write_card


def recalibrated_card(card: ModelCard, scored: Scored, source: str) -> ModelCard:
    labels = []
    for lab in card.labels:
        if lab.name not in scored.labels:
            labels.append(lab)
            continue
        j = scored.labels.index(lab.name)
        y, p = scored.targets[:, j], scored.probs[:, j]
        keep = ~np.isnan(y)
        y, p = y[keep], p[keep]
        if not (y == 1).any() or not (y == 0).any():
            labels.append(lab)
            continue
        labels.append(dataclasses.replace(
            lab, operating_points=operating_points(y, p), curve=validation_curve(y, p),
            auroc=round(auroc(y, p), 4), n_positive=int((y == 1).sum()), n_negative=int((y == 0).sum()),
        ))  # fmt: skip
    metrics = dict(card.metrics) | {"operating_points_from": f"{source} ({len(scored.samples)} images)"}
    return dataclasses.replace(card, labels=tuple(labels), metrics=metrics)


def write_calibrated(package: Path, card: ModelCard, out: Path) -> Path:
    """Copy the weights unchanged and write the new card next to them."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(Path(package) / WEIGHTS, out / WEIGHTS)
    write_card(out, card)
    return out
