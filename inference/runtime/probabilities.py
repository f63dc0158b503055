"""A network's logits as probabilities, in numpy: what every runtime's scores go through."""

from __future__ import annotations

import numpy as np

from inference.api import Task


def probabilities(logits: np.ndarray, task: Task) -> np.ndarray:
    """The logits (N×L) as probabilities (float32): softmax for mutually exclusive labels, else sigmoid."""
    x = np.asarray(logits, np.float32)
    if task is Task.MULTICLASS:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    with np.errstate(over="ignore"):  # exp(-x) is inf for x below about -88: the probability is 0
        return (1 / (1 + np.exp(-x))).astype(np.float32)
