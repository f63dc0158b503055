"""ROC and threshold plots as PNG (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from inference.fit.evaluation.metrics import rates_at, roc_points  # noqa: E402


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def roc_png(
    y: np.ndarray, p: np.ndarray, label: str, auc: float, ops: Mapping[str, float], out: Path
) -> Path:
    """ROC curve with the operating points marked."""
    fpr, tpr, _ = roc_points(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    ax.plot(fpr, tpr, lw=2, label=f"AUROC {auc:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    for name, t in ops.items():
        sens, spec = rates_at(y, p, np.array([t]))
        ax.scatter(1 - spec[0], sens[0], zorder=3, label=f"{name} (t={t:.3f})")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title=f"ROC: {label}", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=8)
    return _saved(fig, Path(out) / f"roc_{_safe(label)}.png")


def threshold_png(y: np.ndarray, p: np.ndarray, label: str, ops: Mapping[str, float], out: Path) -> Path:
    """Sensitivity and specificity against the threshold, operating points as vertical lines."""
    t = np.linspace(0.0, 1.0, 201)
    sens, spec = rates_at(y, p, t)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(t, sens, lw=2, label="sensitivity")
    ax.plot(t, spec, lw=2, label="specificity")
    for name, v in ops.items():
        ax.axvline(v, ls=":", c="grey")
        ax.text(v, 0.02, name, rotation=90, fontsize=7, va="bottom")
    ax.set(xlabel="threshold (positive if score >= threshold)", ylabel="rate", title=f"Thresholds: {label}")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="center right", fontsize=8)
    return _saved(fig, Path(out) / f"thresholds_{_safe(label)}.png")


def _saved(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
