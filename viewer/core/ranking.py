"""Per-study triage figures under a set of thresholds, for the worklist.

The rule is the triage engine's (:func:`inference.triage.positive_findings` and
:func:`inference.triage.risk_score`) whenever that module can be imported; the local fallback
follows the same rule so the viewer keeps working while the engine is absent. Figures are
computed per row and cached, so a new result costs one row, not a re-rank of 10,000.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

Probs = Mapping[str, float]
Thresholds = Mapping[str, float]


@dataclass(frozen=True)
class Figures:
    positives: tuple[str, ...]  # most over threshold first
    risk: float
    top_finding: str
    top_probability: float | None


def _fallback_positives(probs: Probs, thresholds: Thresholds) -> tuple[str, ...]:
    hits = [(p - thresholds[k], k) for k, p in probs.items() if k in thresholds and p >= thresholds[k]]
    return tuple(k for _, k in sorted(hits, key=lambda x: (-x[0], x[1])))


def _fallback_risk(probs: Probs, thresholds: Thresholds) -> float:
    ratios = [p / max(thresholds[k], 1e-6) for k, p in probs.items() if k in thresholds]
    return max(ratios, default=0.0)


def _engine() -> tuple[Callable[[Probs, Thresholds], tuple[str, ...]], Callable[[Probs, Thresholds], float]]:
    try:
        from inference.triage import positive_findings, risk_score
    except ImportError:
        return _fallback_positives, _fallback_risk
    return (lambda p, t: tuple(positive_findings(p, t))), (lambda p, t: float(risk_score(p, t)))


class Ranker:
    """Computes :class:`Figures`; resolves the engine's functions once, lazily."""

    def __init__(
        self,
        positives: Callable[[Probs, Thresholds], tuple[str, ...]] | None = None,
        risk: Callable[[Probs, Thresholds], float] | None = None,
    ) -> None:
        self._positives, self._risk = positives, risk

    def figures(self, probs: Probs, thresholds: Thresholds) -> Figures:
        if self._positives is None or self._risk is None:
            self._positives, self._risk = _engine()
        shown = {k: float(v) for k, v in probs.items() if k in thresholds}
        if not shown:
            return Figures((), 0.0, "", None)
        positives = self._positives(shown, thresholds)
        # The most over-threshold positive, else the finding closest to its threshold.
        top = positives[0] if positives else max(shown, key=lambda k: shown[k] / max(thresholds[k], 1e-6))
        return Figures(positives, self._risk(shown, thresholds), top, shown[top])
