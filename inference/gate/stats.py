"""The model-feature half of the safety gate: how far an embedding lies from the training images'.

The statistics are a probabilistic PCA of the training images' pooled ``norm5`` embeddings (the
vectors ``predict`` returns with every score): their mean, the ``k`` leading principal directions
with their variances, and the mean variance left outside them. An embedding's distance is the
Mahalanobis distance under that model, ``sqrt(sum(z_i**2 / var_i) + |residual|**2 / residual_var)``,
so a direction the training images never varied in counts heavily. The same file may carry the
orientation discriminant (:mod:`inference.gate.orientation`) as ``orientation_weights`` (d,) and
``orientation_bias``; files written before it lack both and load without it. The file is a plain
``.npz`` (numbers only, read with ``allow_pickle=False``); its sha256 is on the card.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inference.gate.orientation import Orientation

GATE_FILE = "gate.npz"
METHOD = "ppca-mahalanobis"
# The card's gate report key a site fit (``cxr-triage model gate``) writes, naming the images it
# used: the card and ``model info`` tell from it that the statistics are not the training data's.
SITE_REPORT = "source"
_ARRAYS = ("mean", "components", "variances", "residual_variance")
_ORIENTATION = ("orientation_weights", "orientation_bias")


@dataclass(frozen=True)
class GateStats:
    """Mean (d,), components (k, d) with orthonormal rows, their variances (k,), residual variance;
    the orientation discriminant when the file has one."""

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    residual_variance: float
    orientation: Orientation | None = None

    def distance(self, embedding: np.ndarray) -> float:
        """Mahalanobis distance of one embedding under the PPCA model (0 at the training mean)."""
        centred = np.asarray(embedding, dtype=np.float64) - self.mean
        z = self.components @ centred
        residual = float(centred @ centred - z @ z)
        return float(np.sqrt(np.sum(z**2 / self.variances) + max(residual, 0.0) / self.residual_variance))

    def distances(self, embeddings: np.ndarray) -> np.ndarray:
        return np.array([self.distance(e) for e in embeddings])


def fit_stats(embeddings: np.ndarray, k: int) -> GateStats:
    """PPCA statistics of ``embeddings`` (n, d), keeping ``k`` principal directions."""
    x = np.asarray(embeddings, dtype=np.float64)
    mean = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
    variances = singular**2 / (len(x) - 1)
    rest = variances[k:]
    residual = float(rest.sum() / (x.shape[1] - k)) if rest.size else float(variances[-1])
    return GateStats(mean, vt[:k].copy(), variances[:k].copy(), residual)


def stats_bytes(stats: GateStats) -> bytes:
    """The ``.npz`` form of ``stats`` (float32 arrays, but for the orientation bias)."""
    # Any: numpy's stubs check **kwargs of savez against its allow_pickle flag as well.
    arrays: dict[str, Any] = {
        "mean": stats.mean.astype(np.float32),
        "components": stats.components.astype(np.float32),
        "variances": stats.variances.astype(np.float32),
        "residual_variance": np.float32(stats.residual_variance),
    }
    if stats.orientation is not None:
        arrays["orientation_weights"] = stats.orientation.weights.astype(np.float32)
        arrays["orientation_bias"] = np.float64(stats.orientation.bias)  # calibrated to the last digit
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def read_stats(path: Path) -> GateStats:
    """Statistics from a gate file; ``ValueError`` when it is not one (names what is wrong)."""
    with np.load(path, allow_pickle=False) as data:
        missing = [name for name in _ARRAYS if name not in data]
        if missing:
            raise ValueError(f"{GATE_FILE} lacks {', '.join(missing)}")
        mean, components = data["mean"].astype(np.float64), data["components"].astype(np.float64)
        variances = data["variances"].astype(np.float64)
        residual = float(data["residual_variance"])
        orientation = _read_orientation(data, mean.shape)
    if components.ndim != 2 or mean.shape != (components.shape[1],) or variances.shape != (len(components),):
        raise ValueError(f"{GATE_FILE}: array shapes do not fit together")
    if not (np.all(variances > 0) and residual > 0):
        raise ValueError(f"{GATE_FILE}: variances must be positive")
    return GateStats(mean, components, variances, residual, orientation)


def _read_orientation(data: Mapping[str, np.ndarray], shape: tuple[int, ...]) -> Orientation | None:
    """The orientation discriminant, or None in a file without one (written before it existed)."""
    missing = [name for name in _ORIENTATION if name not in data]
    if len(missing) == len(_ORIENTATION):
        return None
    if missing:
        raise ValueError(f"{GATE_FILE} lacks {missing[0]} (it has the other orientation array)")
    weights, bias = data["orientation_weights"].astype(np.float64), data["orientation_bias"]
    if weights.shape != shape:
        raise ValueError(f"{GATE_FILE}: orientation_weights has shape {weights.shape}, mean {shape}")
    if bias.shape != ():
        raise ValueError(f"{GATE_FILE}: orientation_bias must be one number (shape {bias.shape})")
    return Orientation(weights, float(bias))
