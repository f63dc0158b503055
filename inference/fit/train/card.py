"""Validation figures for the card (operating points, curves) and per-source held-out metrics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inference.api import LabelCard
from inference.fit.evaluation.analysis import AurocSummary, ConfusionRow, confusion_row
from inference.fit.evaluation.metrics import (
    auroc,
    balancing_weights,
    bootstrap_auroc_ci,
    confusion_at,
    operating_points,
    validation_curve,
)
from inference.labels import label_code


class GroupMetrics(AurocSummary, total=False):
    """One label's metrics in one stratum, as the card's ``metrics`` hold them."""

    at_validation_operating_points: dict[str, ConfusionRow]  # operating point name -> confusion


def _defined(y: np.ndarray) -> np.ndarray:
    return ~np.isnan(y)


def counts(y: np.ndarray) -> tuple[int, int]:
    y = y[_defined(y)]
    return int((y == 1).sum()), int((y == 0).sum())


def label_cards(
    labels: Sequence[str],
    val_targets: np.ndarray,
    val_probs: np.ndarray,
    test_targets: np.ndarray | None,
    min_positives: int,
    val_sources: Sequence[str] | None = None,
) -> tuple[LabelCard, ...]:
    """One card per output. ``trained`` (shown) only with >= ``min_positives`` positives and
    negatives in validation and, when there is a test split, in test too. With ``val_sources``,
    operating points and curves weight every source equally (:func:`balancing_weights`). Each card
    carries the finding's code from :data:`inference.labels.CODES` (None for a label it lacks)."""
    cards = []
    for j, name in enumerate(labels):
        y, p = val_targets[:, j], val_probs[:, j]
        keep = _defined(y)
        n_pos, n_neg = counts(y)
        enough = min(n_pos, n_neg) >= min_positives
        if test_targets is not None and len(test_targets):
            enough = enough and min(counts(test_targets[:, j])) >= min_positives
        if n_pos and n_neg:
            w = None if val_sources is None else balancing_weights(np.asarray(val_sources)[keep], y[keep])
            cards.append(
                LabelCard(
                    name=name,
                    trained=enough,
                    operating_points=operating_points(y[keep], p[keep], w),
                    auroc=round(auroc(y[keep], p[keep]), 4),
                    n_positive=n_pos,
                    n_negative=n_neg,
                    curve=validation_curve(y[keep], p[keep], weights=w),
                    code=label_code(name),
                )
            )
        else:
            cards.append(
                LabelCard(name=name, trained=False, n_positive=n_pos, n_negative=n_neg, code=label_code(name))
            )
    return tuple(cards)


def label_metrics(
    y: np.ndarray, p: np.ndarray, thresholds: dict[str, float] | None, n_boot: int = 1000
) -> GroupMetrics | None:
    """AUROC with 95% bootstrap CI, counts, and the confusion at each given threshold."""
    keep = _defined(y)
    y, p = y[keep], p[keep]
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if not n_pos or not n_neg:
        return None
    lo, hi = bootstrap_auroc_ci(y, p, n_boot=n_boot)
    out: GroupMetrics = {
        "auroc": round(auroc(y, p), 4),
        "ci95": [round(lo, 4), round(hi, 4)],
        "n_positive": n_pos,
        "n_negative": n_neg,
    }
    if thresholds:
        out["at_validation_operating_points"] = {
            k: confusion_row(confusion_at(y, p, t)) for k, t in thresholds.items()
        }
    return out


def grouped_metrics(
    groups: Sequence[str],
    labels: Sequence[str],
    targets: np.ndarray,
    probs: np.ndarray,
    cards: Sequence[LabelCard],
    n_boot: int = 1000,
) -> dict[str, dict[str, GroupMetrics]]:
    """{group: {label: metrics}} for shown labels, e.g. per source or per view."""
    groups_arr = np.asarray(groups)
    out: dict[str, dict[str, GroupMetrics]] = {}
    for g in sorted(set(groups)):
        sel = groups_arr == g
        per = {}
        for j, name in enumerate(labels):
            if not cards[j].trained:
                continue
            m = label_metrics(targets[sel, j], probs[sel, j], dict(cards[j].operating_points), n_boot)
            if m is not None:
                per[name] = m
        if per:
            out[g] = per
    return out
