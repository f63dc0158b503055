"""Per-study triage figures under a set of thresholds, for the worklist.

The rule is the triage engine's (:mod:`inference.triage`: positive findings by ratio to threshold,
risk = largest ratio; positives first, then studies that could not be scored, then negatives by
top probability; ties by acquisition time, then UID). Its functions are used when importable, with
a local fallback of the same rule. Figures are computed per row and cached, so a new result costs
one row plus a C-level sort, not a re-rank of 10,000 in Python; a test checks the order against
:func:`inference.triage.rank`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

Probs = Mapping[str, float]
Thresholds = Mapping[str, float]


class Figures(NamedTuple):
    """A study's triage figures under one set of thresholds (a tuple: cheap to make 10,000 of)."""

    positives: tuple[str, ...]  # most over threshold first
    risk: float
    top_finding: str
    top_probability: float | None


def _fallback_positives(probs: Probs, thresholds: Thresholds) -> tuple[str, ...]:
    hits = [(p - thresholds[k], k) for k, p in probs.items() if k in thresholds and p >= thresholds[k]]
    return tuple(k for _, k in sorted(hits, key=lambda x: (-x[0], x[1])))


def _fallback_risk(probs: Probs, thresholds: Thresholds) -> float:  # same rule as the engine
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
        # The most over-threshold positive, else the most probable finding.
        top = positives[0] if positives else max(shown, key=lambda k: (shown[k], k))
        return Figures(positives, self._risk(shown, thresholds), top, shown[top])


def acquired(study_date: str, study_time: str) -> tuple[int, str]:
    """Tie-breaker: dated studies oldest first, undated after them."""
    stamp = (study_date + study_time).strip()
    return (0, stamp) if stamp else (1, "")


def order_key(
    scored: bool, positive: bool, risk: float, top_probability: float | None, stamp: str, uid: str
) -> tuple[int, float, int, str, str]:
    """Reading order: positives by risk, then unscorable studies, then negatives by top probability;
    ties by acquisition (``stamp`` = study date + time; dated oldest first, undated after), then UID."""
    if scored and positive:
        head = (0, -risk)
    elif scored:
        head = (2, -(top_probability or 0.0))
    else:
        head = (1, 0.0)
    stamp = stamp.strip()
    return (*head, 0 if stamp else 1, stamp, uid)
