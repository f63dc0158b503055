"""The triage figures of many studies at once, with numpy: a threshold change re-ranks 10,000 rows
in milliseconds instead of a Python loop per row.

Same rule as :func:`inference.triage.positive_findings` / :func:`~inference.triage.risk_score`
(margin = logit(p) - logit(threshold), both clipped to [1e-6, 1 - 1e-6]; positive at probability >=
threshold; positives by margin, then name; top = first positive, else the most probable finding,
ties to the larger name).
A unit test checks it against the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from inference.triage import EPSILON
from viewer.core.ranking import Figures


def _logit(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, EPSILON, 1.0 - EPSILON)
    return np.log(x / (1.0 - x))


def bulk_figures(probs: Sequence[Mapping[str, float]], thresholds: Mapping[str, float]) -> list[Figures]:
    """Figures of each probability mapping under ``thresholds``."""
    # Columns by name, descending, so that argmax's first hit is the larger name on ties.
    labels = sorted(thresholds, reverse=True)
    if not probs or not labels:
        return [Figures((), 0.0, "", None) for _ in probs]
    nan = float("nan")
    p = np.array([[float(row.get(k, nan)) for k in labels] for row in probs], dtype=np.float64)
    t = np.array([float(thresholds[k]) for k in labels], dtype=np.float64)
    present = ~np.isnan(p)
    margin = _logit(p) - _logit(t)
    positive = present & (np.nan_to_num(p, nan=-1.0) >= t)
    any_present = present.any(axis=1)
    risk = np.where(any_present, np.max(np.where(present, margin, -np.inf), axis=1), 0.0)
    top_negative = np.argmax(np.where(present, p, -np.inf), axis=1)
    # Positives most over threshold first, then by name: sort every row's columns at once.
    name_rank = np.argsort(np.argsort(labels))  # ascending-name rank of each column
    keys = (np.broadcast_to(name_rank, p.shape), np.where(positive, -margin, np.inf))
    order = np.lexsort(keys, axis=-1)
    hit = np.take_along_axis(positive, order, axis=1)
    none = Figures((), 0.0, "", None)
    out: list[Figures] = []
    for cols, hits, has, r, neg, row in zip(
        order.tolist(), hit.tolist(), any_present.tolist(), risk.tolist(), top_negative.tolist(), p.tolist(),
        strict=True,
    ):  # fmt: skip
        if not has:
            out.append(none)
            continue
        positives = tuple(labels[j] for j, h in zip(cols, hits, strict=True) if h)
        top = cols[0] if positives else neg
        out.append(Figures(positives, r, labels[top], row[top]))
    return out
