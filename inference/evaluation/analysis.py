"""Per-label evaluation tables: AUROC with CI, operating points, threshold sweep, extremes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from inference.evaluation.metrics import auroc, bootstrap_auroc_ci, confusion_at

SWEEP = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)


def _json(v):
    if isinstance(v, float):
        return None if np.isnan(v) else round(v, 4)
    return v


def extremes(y: np.ndarray, p: np.ndarray, n: int) -> dict[str, object]:
    """Among the ``n`` highest-scored cases, the share truly positive; among the ``n`` lowest, negative."""
    n = max(1, min(n, len(y) // 2))
    order = np.argsort(-p, kind="mergesort")
    top, bottom = y[order[:n]], y[order[-n:]]
    return {
        "n": n,
        "top_positive_rate": round(float(top.mean()), 4),
        "bottom_negative_rate": round(float(1 - bottom.mean()), 4),
    }


def label_report(
    y: np.ndarray,
    p: np.ndarray,
    operating_points: Mapping[str, float],
    n_extremes: int = 20,
    n_boot: int = 1000,
) -> dict[str, object] | None:
    """Everything the report says about one label (annotated cases only); None without both classes."""
    keep = ~np.isnan(y)
    y, p = y[keep].astype(bool), p[keep]
    if y.all() or not y.any():
        return None
    lo, hi = bootstrap_auroc_ci(y, p, n_boot=n_boot)
    return {
        "auroc": round(auroc(y, p), 4),
        "ci95": [round(lo, 4), round(hi, 4)],
        "n_positive": int(y.sum()),
        "n_negative": int((~y).sum()),
        "operating_points": {
            k: {m: _json(v) for m, v in confusion_at(y, p, t).items()} for k, t in operating_points.items()
        },
        "sweep": [{m: _json(v) for m, v in confusion_at(y, p, t).items()} for t in SWEEP],
        "extremes": extremes(y.astype(float), p, n_extremes),
    }
