"""Epoch orders: plain shuffles, or balanced draws (equal weight per source, then per stratum)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np


def balanced_weights(sources: Sequence[str], strata: Sequence[Hashable]) -> np.ndarray:
    """Probabilities giving every source the same share and, inside a source, every stratum the same."""
    per_source = Counter(sources)
    n_sources = len(per_source)
    strata_in = {s: {k for src, k in zip(sources, strata, strict=True) if src == s} for s in per_source}
    count = Counter(zip(sources, strata, strict=True))
    w = np.array(
        [1.0 / n_sources / len(strata_in[s]) / count[(s, k)] for s, k in zip(sources, strata, strict=True)]
    )
    return w / w.sum()


def epoch_order(n: int, size: int, rng: np.random.Generator, weights: np.ndarray | None) -> np.ndarray:
    """``size`` indices into the training set: a shuffle (repeated as needed) or a weighted draw."""
    if weights is None:
        reps = -(-size // n)
        return np.concatenate([rng.permutation(n) for _ in range(reps)])[:size]
    return rng.choice(n, size=size, replace=True, p=weights)
