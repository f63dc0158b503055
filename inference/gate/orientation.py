"""The orientation part of the safety gate: whether an embedding looks like a turned radiograph's.

A radiograph rotated by 90° or upside down keeps the texture and much of the content of an upright
one, so it can lie close to the training images' embeddings and pass the distance rule. The model's
features do change with the turn, though, along a consistent direction: a Fisher linear discriminant
between training images embedded upright and the same images embedded turned (90° either way, 180°,
flipped upside down) finds it. The direction is regularised by shrinking the pooled within-class
covariance towards its mean diagonal (the embedding has more dimensions than a quick fit has
images); its scale makes the upright images' scores unit-spread, and the bias is calibrated on
validation images so nearly every upright radiograph scores at most 0. Numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

SHRINKAGE = 0.1
BOUNDARY_MARGIN = 1e-9  # in units of the upright scores' spread
# The card's gate report key for the orientation fit's image counts: ``model info`` reads the
# orientation check as active from it (it only has the card, not the file).
ORIENTATION_REPORT = "orientation_fit_images"


@dataclass(frozen=True)
class Orientation:
    """A linear score on the embedding: above 0 means the image looks turned."""

    weights: np.ndarray  # (d,)
    bias: float

    def score(self, embedding: np.ndarray) -> float:
        return float(self.weights @ np.asarray(embedding, dtype=np.float64) + self.bias)

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        return np.asarray(embeddings, dtype=np.float64) @ self.weights + self.bias


def fit_direction(upright: np.ndarray, turned: np.ndarray, shrinkage: float = SHRINKAGE) -> np.ndarray:
    """The Fisher direction (d,) from ``upright`` (n, d) towards ``turned`` (m, d) embeddings, scaled
    so the upright images' projections have unit standard deviation."""
    a, b = np.asarray(upright, dtype=np.float64), np.asarray(turned, dtype=np.float64)
    centred = np.concatenate([a - a.mean(axis=0), b - b.mean(axis=0)])
    within = centred.T @ centred / (len(centred) - 2)
    target = np.trace(within) / len(within)
    shrunk = (1.0 - shrinkage) * within + shrinkage * target * np.eye(len(within))
    direction = np.linalg.solve(shrunk, b.mean(axis=0) - a.mean(axis=0))
    return direction / float(np.std(a @ direction, ddof=1))


def calibrate(
    direction: np.ndarray, upright_by_source: Mapping[str, np.ndarray], quantile: float
) -> Orientation:
    """``direction`` with the bias that lets at least ``quantile`` of every source's upright
    images score at most 0: the highest per-source quantile of their projections sets it."""
    # The weights as the gate file keeps them (float32; the bias is kept in float64), so an image
    # calibrated to pass still passes once the file is loaded.
    unbiased = Orientation(np.asarray(direction, dtype=np.float32).astype(np.float64), 0.0)
    # "inverted_cdf" is an observed projection with at least `quantile` of the source at or below
    # it; the default interpolation can fall below that on a small calibration set.
    limit = max(
        float(np.quantile(unbiased.scores(x), quantile, method="inverted_cdf"))
        for x in upright_by_source.values()
    )
    # That image scores exactly 0: a hair of margin keeps it passing whatever order the check sums in.
    return Orientation(unbiased.weights, -limit - BOUNDARY_MARGIN)
