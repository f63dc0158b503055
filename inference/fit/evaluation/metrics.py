"""Binary classification metrics on numpy arrays (no torch, no sklearn).

Convention everywhere: a case is called positive when ``score >= threshold``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypedDict

import numpy as np

from inference.api import ValidationCurve

HIGH_SENSITIVITY_RECALL = 0.95
HIGH_SPECIFICITY = 0.95


class Confusion(TypedDict):
    """The confusion matrix at one threshold and the rates derived from it (NaN where undefined)."""

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    sensitivity: float
    specificity: float
    ppv: float
    npv: float
    accuracy: float


def _check(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in length")
    if not y.any() or y.all():
        raise ValueError("need at least one positive and one negative case")
    return y, s


def _rank_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann-Whitney U / (n_pos * n_neg), ties counted one half (average ranks)."""
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(len(s), dtype=np.float64)
    # average rank of each tie group (1-based)
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def auroc(y: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (probability a positive outscores a negative, ties 1/2)."""
    y, s = _check(y, scores)
    return _rank_auc(y, s)


def rates_at(
    y: np.ndarray, scores: np.ndarray, thresholds: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(sensitivity, specificity) at each threshold, calling ``score >= t`` positive; with
    ``weights``, each case counts that much (see :func:`balancing_weights`)."""
    y, s = _check(y, scores)
    w = np.ones(len(s)) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    t = np.asarray(thresholds, dtype=np.float64)
    tp = _weight_at_or_above(s[y], w[y], t) / w[y].sum()
    fp = _weight_at_or_above(s[~y], w[~y], t) / w[~y].sum()
    return np.clip(tp, 0.0, 1.0), np.clip(1.0 - fp, 0.0, 1.0)  # weighted sums: rounding past 0 or 1


def _weight_at_or_above(s: np.ndarray, w: np.ndarray, t: np.ndarray) -> np.ndarray:
    order = np.argsort(s, kind="mergesort")
    suffix = np.concatenate([np.cumsum(w[order][::-1])[::-1], [0.0]])
    return suffix[np.searchsorted(s[order], t, side="left")]


def balancing_weights(groups: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weights under which every group (e.g. data source) counts equally among the positives and
    among the negatives: rates become the mean of the per-group rates. Without them a pooled
    operating point is the majority source's (a mostly pediatric validation split set the adults'
    thresholds)."""
    groups, y = np.asarray(groups), np.asarray(y).astype(bool).ravel()
    w = np.zeros(len(y))
    for cls in (True, False):
        present = np.unique(groups[y == cls])
        for g in present:
            cell = (groups == g) & (y == cls)
            w[cell] = 1.0 / (cell.sum() * len(present))
    return w


def roc_points(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds): thresholds are +inf then the distinct scores, descending."""
    y, s = _check(y, scores)
    thresholds = np.concatenate([[np.inf], np.unique(s)[::-1]])
    sens, spec = rates_at(y, s, thresholds)
    return 1.0 - spec, sens, thresholds


def operating_points(
    y: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, float]:
    """Thresholds chosen among the observed scores (rates weighted as in :func:`rates_at`).

    ``high_sensitivity``: the largest threshold with recall >= 0.95; ``youden``: the threshold
    maximising sensitivity + specificity - 1 (the largest one on ties); ``high_specificity``:
    the smallest threshold with specificity >= 0.95 (+inf-free: the largest score if none).
    """
    y, s = _check(y, scores)
    cand = np.unique(s)  # ascending
    sens, spec = rates_at(y, s, cand, weights)
    hs = cand[sens >= HIGH_SENSITIVITY_RECALL].max()  # cand[0] always has sensitivity 1
    j = sens + spec - 1.0
    youden = cand[np.flatnonzero(j >= j.max() - 1e-12).max()]
    ok = spec >= HIGH_SPECIFICITY
    hsp = cand[ok].min() if ok.any() else cand[-1]
    return {"high_sensitivity": float(hs), "youden": float(youden), "high_specificity": float(hsp)}


def confusion_at(y: np.ndarray, scores: np.ndarray, threshold: float) -> Confusion:
    """Confusion matrix and derived rates at one threshold (NaN where undefined)."""
    y, s = _check(y, scores)
    pred = s >= threshold
    tp = int((pred & y).sum())
    fp = int((pred & ~y).sum())
    fn = int((~pred & y).sum())
    tn = int((~pred & ~y).sum())

    def ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    return {
        "threshold": float(threshold),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "sensitivity": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
        "ppv": ratio(tp, tp + fp),
        "npv": ratio(tn, tn + fn),
        "accuracy": ratio(tp + tn, len(y)),
    }


def validation_curve(
    y: np.ndarray, scores: np.ndarray, max_points: int = 200, weights: np.ndarray | None = None
) -> ValidationCurve:
    """Sensitivity/specificity at up to ``max_points`` ascending thresholds drawn from the scores.

    The operating points' thresholds are always among them, so ``curve.at(op)`` is exact.
    """
    y, s = _check(y, scores)
    cand = np.unique(s)
    if len(cand) > max_points:
        idx = np.unique(np.linspace(0, len(cand) - 1, max_points).round().astype(int))
        cand = cand[idx]
    cand = np.unique(np.concatenate([cand, list(operating_points(y, s, weights).values())]))
    sens, spec = rates_at(y, s, cand, weights)
    return ValidationCurve(
        thresholds=tuple(float(v) for v in cand),
        sensitivity=tuple(float(v) for v in sens),
        specificity=tuple(float(v) for v in spec),
    )


def _stratified_resamples(y: np.ndarray, n_boot: int, seed: int) -> tuple[np.ndarray, Iterator[np.ndarray]]:
    """(labels of a resample, ``n_boot`` resamples as case indices): positives and negatives each
    drawn with replacement from their own kind, so every resample keeps the class counts."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    lab = np.concatenate([np.ones(len(pos), bool), np.zeros(len(neg), bool)])
    draws = (np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]) for _ in range(n_boot))
    return lab, draws


def _percentile_ci(values: np.ndarray, alpha: float) -> tuple[float, float]:
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bootstrap_auroc_ci(
    y: np.ndarray, scores: np.ndarray, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of AUROC, resampling positives and negatives separately."""
    y, s = _check(y, scores)
    lab, draws = _stratified_resamples(y, n_boot, seed)
    return _percentile_ci(np.array([_rank_auc(lab, s[idx]) for idx in draws]), alpha)


def paired_bootstrap_auroc_difference_ci(
    y: np.ndarray,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of AUROC(scores_a) − AUROC(scores_b) on the same cases, resampling
    positives and negatives separately and taking the same cases for both scores (the pairing
    cancels the case-mix variance the two AUROCs share, which comparing their own CIs does not)."""
    y, a = _check(y, scores_a)
    _, b = _check(y, scores_b)
    lab, draws = _stratified_resamples(y, n_boot, seed)
    return _percentile_ci(np.array([_rank_auc(lab, a[idx]) - _rank_auc(lab, b[idx]) for idx in draws]), alpha)
