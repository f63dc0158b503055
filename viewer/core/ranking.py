"""Per-study triage figures under a set of thresholds, for the worklist.

The rule is the triage engine's (:mod:`inference.triage`: positive findings by log-odds margin
over threshold, risk = largest margin; positives first, then studies that could not be scored,
then negatives by top probability; ties by acquisition time, then UID), computed with its
functions. Figures are cached per row, so a new result costs one row plus a C-level sort, not a
re-rank of 10,000 in Python; a test checks the order against :func:`inference.triage.rank`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from inference.triage import positive_findings, risk_score

Probs = Mapping[str, float]
Thresholds = Mapping[str, float]


class Figures(NamedTuple):
    """A study's triage figures under one set of thresholds (a tuple: cheap to make 10,000 of)."""

    positives: tuple[str, ...]  # most over threshold first
    risk: float
    top_finding: str
    top_probability: float | None


class Ranker:
    """Computes :class:`Figures` with the triage engine's functions."""

    def figures(self, probs: Probs, thresholds: Thresholds) -> Figures:
        shown = {k: float(v) for k, v in probs.items() if k in thresholds}
        if not shown:
            return Figures((), 0.0, "", None)
        positives = positive_findings(shown, thresholds)
        # The most over-threshold positive, else the most probable finding.
        top = positives[0] if positives else max(shown, key=lambda k: (shown[k], k))
        return Figures(positives, risk_score(shown, thresholds), top, shown[top])
