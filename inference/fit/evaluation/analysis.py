"""Per-label evaluation tables: AUROC with CI, operating points, threshold sweep, extremes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

import numpy as np

from inference.fit.evaluation.metrics import Confusion, auroc, bootstrap_auroc_ci, confusion_at

SWEEP = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)


class ConfusionRow(TypedDict):
    """A :class:`Confusion` as written to JSON: floats rounded to 4 decimals, NaN as None."""

    threshold: float | None
    tp: int
    fp: int
    tn: int
    fn: int
    sensitivity: float | None
    specificity: float | None
    ppv: float | None
    npv: float | None
    accuracy: float | None


class Extremes(TypedDict):
    n: int
    top_positive_rate: float
    bottom_negative_rate: float


class AurocSummary(TypedDict):
    auroc: float
    ci95: list[float]  # [low, high]
    n_positive: int
    n_negative: int


class LabelReport(AurocSummary):
    operating_points: dict[str, ConfusionRow]  # operating point name -> confusion at its threshold
    sweep: list[ConfusionRow]  # one per threshold of SWEEP
    extremes: Extremes


def rounded(v: float) -> float | None:
    """JSON-safe: NaN -> None, else rounded to 4 decimals."""
    return None if np.isnan(v) else round(v, 4)


def confusion_row(c: Confusion) -> ConfusionRow:
    return {
        "threshold": rounded(c["threshold"]),
        "tp": c["tp"],
        "fp": c["fp"],
        "tn": c["tn"],
        "fn": c["fn"],
        "sensitivity": rounded(c["sensitivity"]),
        "specificity": rounded(c["specificity"]),
        "ppv": rounded(c["ppv"]),
        "npv": rounded(c["npv"]),
        "accuracy": rounded(c["accuracy"]),
    }


def extremes(y: np.ndarray, p: np.ndarray, n: int) -> Extremes:
    """Among the ``n`` highest-scored cases, the share truly positive; among the ``n`` lowest, negative."""
    n = max(1, min(n, len(y) // 2))
    order = np.argsort(-p, kind="mergesort")
    top, bottom = y[order[:n]], y[order[-n:]]
    return {
        "n": n,
        "top_positive_rate": round(float(top.mean()), 4),
        "bottom_negative_rate": round(float(1 - bottom.mean()), 4),
    }


def _both_classes(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The annotated cases (targets as bool), or None unless they hold positives and negatives."""
    keep = ~np.isnan(y)
    y, p = y[keep].astype(bool), p[keep]
    return None if y.all() or not y.any() else (y, p)


def _summary(y: np.ndarray, p: np.ndarray, n_boot: int) -> AurocSummary:
    lo, hi = bootstrap_auroc_ci(y, p, n_boot=n_boot)
    return {
        "auroc": round(auroc(y, p), 4),
        "ci95": [round(lo, 4), round(hi, 4)],
        "n_positive": int(y.sum()),
        "n_negative": int((~y).sum()),
    }


def auroc_summary(y: np.ndarray, p: np.ndarray, n_boot: int = 1000) -> AurocSummary | None:
    """AUROC with 95% bootstrap CI and counts (annotated cases only); None without both classes."""
    cases = _both_classes(y, p)
    return None if cases is None else _summary(*cases, n_boot)


def label_report(
    y: np.ndarray,
    p: np.ndarray,
    operating_points: Mapping[str, float],
    n_extremes: int = 20,
    n_boot: int = 1000,
) -> LabelReport | None:
    """Everything the report says about one label (annotated cases only); None without both classes."""
    cases = _both_classes(y, p)
    if cases is None:
        return None
    y, p = cases
    return {
        **_summary(y, p, n_boot),
        "operating_points": {k: confusion_row(confusion_at(y, p, t)) for k, t in operating_points.items()},
        "sweep": [confusion_row(confusion_at(y, p, t)) for t in SWEEP],
        "extremes": extremes(y.astype(float), p, n_extremes),
    }
