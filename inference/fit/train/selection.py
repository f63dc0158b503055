"""Model selection on validation: mean over sources of the mean per-label AUROC."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inference.fit.evaluation.metrics import auroc


def selection_score(
    targets: np.ndarray,
    probs: np.ndarray,
    sources: Sequence[str],
    labels: Sequence[str],
    select: Sequence[str] | None = None,
) -> tuple[float, str]:
    """(score, human-readable detail). Labels or sources without both classes are left out; NaN if
    nothing can be measured (the caller then keeps the first epoch as best only if nothing beats it)."""
    src = np.asarray(sources)
    per_source, parts = [], []
    for s in sorted(set(sources)):
        values = []
        for j, name in enumerate(labels):
            if select and name not in select:
                continue
            y = targets[src == s, j]
            keep = ~np.isnan(y)
            y, p = y[keep], probs[src == s, j][keep]
            if (y == 1).any() and (y == 0).any():
                values.append(auroc(y, p))
                parts.append(f"{s}/{name} {values[-1]:.3f}")
        if values:
            per_source.append(float(np.mean(values)))
    score = float(np.mean(per_source)) if per_source else float("-inf")
    return score, ", ".join(parts) if parts else "n/a"
