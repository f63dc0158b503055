"""The reading order of a worklist: triage figures per study and the rule that orders studies by them.

Figures (:func:`figures`, computed for many studies at once with numpy; the CLI and the viewer both
use it): a finding is **positive** when its probability is >= its threshold; the **risk score** is
the largest log-odds margin, logit(p) - logit(threshold), over the shown findings. The margin
measures each finding against the reader's own operating point (0.30 against a threshold of 0.05
outranks 0.80 against 0.50), and, unlike a p/threshold ratio, does not blow up for findings whose
thresholds sit near zero (0.36 against 0.10 does not outrank 0.97 against 0.55). A finding is
positive exactly when its margin is >= 0, except within EPSILON of 0 or 1, where the logit is
clipped and the probability decides. Positives are listed by margin, largest first, then by name;
the **top finding** is the first positive, else the most probable finding (ties to the larger name).

Reading order (:func:`reading_order_key`, relied on by the viewer; documented in the README):

1. Scored studies with at least one positive finding, by risk score, highest first.
2. Overdue studies, longest-waiting first. Only with a maximum wait (off by default): a scored
   study with no positive finding that arrived more than the maximum wait ago, so that low-risk
   studies are not starved by a stream of positives (Baltruschat et al., Eur Radiol 2021). A study
   whose arrival time is unknown is never overdue.
3. Studies that could not be scored (errors, lateral-only, not chest): their risk is unknown, so
   they go before the studies the model calls negative and are not buried at the end of the list.
4. Scored studies with no positive finding, by highest probability.

Ties go to the study that was acquired first (study date and time, oldest first; studies without a
date after dated ones), then to the study UID, so the order is stable between runs.

Priority (:func:`priority_reasons`, the viewer's red dot): rarer than positive. A finding is a
priority when its probability is >= its **bar**: the card's high-specificity operating point or the
reader's threshold, whichever is higher (the reader's threshold alone where the card has no such
point). At Youden thresholds most positive studies are not priorities; the dot marks the ones the
model is most specific about.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import numpy as np

from inference.api import ModelCard, RankedStudy, Status, StudyResult

EPSILON = 1e-6  # probabilities and thresholds are clipped to [EPSILON, 1 - EPSILON]: logit stays finite


class Figures(NamedTuple):
    """A study's triage figures under one set of thresholds (a tuple: cheap to make 10,000 of)."""

    positives: tuple[str, ...]  # most over threshold first, then by name
    risk: float  # largest log-odds margin; 0.0 when no shown finding was scored
    top_finding: str  # "" when no shown finding was scored
    top_probability: float | None  # None when no shown finding was scored


NO_FIGURES = Figures((), 0.0, "", None)


class Tier(enum.IntEnum):
    """The groups of the reading order, read from the top."""

    POSITIVE = 0
    OVERDUE = 1
    NOT_SCORED = 2
    NEGATIVE = 3


def figures(probabilities: Sequence[Mapping[str, float]], thresholds: Mapping[str, float]) -> list[Figures]:
    """The figures of each study's probabilities under ``thresholds``; findings without one are ignored."""
    # Columns by name, descending, so that argmax's first hit is the larger name on ties.
    labels = sorted(thresholds, reverse=True)
    if not probabilities or not labels:
        return [NO_FIGURES] * len(probabilities)
    p = _matrix(probabilities, labels)
    t = np.array([thresholds[k] for k in labels], dtype=np.float64)
    present = ~np.isnan(p)
    margin = _logit(p) - _logit(t)
    positive = present & (p >= t)
    risk = np.max(np.where(present, margin, -np.inf), axis=1)
    # Each row's columns: positives by margin, then by ascending name (descending column index).
    by_name = np.broadcast_to(-np.arange(len(labels)), p.shape)
    order = np.lexsort((by_name, np.where(positive, -margin, np.inf)), axis=-1)
    count = positive.sum(axis=1)
    most_probable = np.argmax(np.where(present, p, -np.inf), axis=1)
    top = np.where(count > 0, order[:, 0], most_probable)
    top_p = np.take_along_axis(p, top[:, None], axis=1)[:, 0]
    rows = zip(
        present.any(axis=1).tolist(), order.tolist(), count.tolist(), risk.tolist(), top.tolist(),
        top_p.tolist(), strict=True,
    )  # fmt: skip
    return [
        Figures(tuple([labels[j] for j in cols[:n]]), r, labels[j_top], p_top) if any_shown else NO_FIGURES
        for any_shown, cols, n, r, j_top, p_top in rows
    ]


def _matrix(probabilities: Sequence[Mapping[str, float]], labels: Sequence[str]) -> np.ndarray:
    """Rows x labels, NaN where a study has no probability for a label."""
    missing = [math.nan] * len(labels)
    return np.array([list(map(row.get, labels, missing)) for row in probabilities], dtype=np.float64)


def _logit(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, EPSILON, 1.0 - EPSILON)
    return np.log(x / (1.0 - x))


PRIORITY_POINT = "high_specificity"


class Bar(NamedTuple):
    """What a finding's probability must reach to be a priority, and what that value is."""

    value: float
    name: str  # "high-specificity" or "your threshold"


def high_specificity_points(card: ModelCard) -> dict[str, float]:
    """The card's high-specificity threshold of each trained finding that has one."""
    return {
        lab.name: float(lab.operating_points[PRIORITY_POINT])
        for lab in card.labels
        if lab.trained and PRIORITY_POINT in lab.operating_points
    }


def priority_bars(points: Mapping[str, float], thresholds: Mapping[str, float]) -> dict[str, Bar]:
    """Each shown finding's bar: its high-specificity point or the reader's threshold, the higher."""
    bars = {}
    for label, threshold in thresholds.items():
        point = points.get(label)
        bars[label] = (
            Bar(point, "high-specificity")
            if point is not None and point >= threshold
            else Bar(threshold, "your threshold")
        )
    return bars


def priority_reasons(
    probabilities: Sequence[Mapping[str, float]], bars: Mapping[str, Bar]
) -> list[tuple[str, ...]]:
    """Why each study is a priority: one text per finding at or over its bar, the most over it (in
    log-odds) first, then by name ("Pneumonia 0.91 ≥ high-specificity 0.80"); () when it is not one.
    Computed for many studies at once; only the few priorities are put in words."""
    labels = sorted(bars)
    out: list[tuple[str, ...]] = [()] * len(probabilities)
    if not probabilities or not labels:
        return out
    p = _matrix(probabilities, labels)
    bar = np.array([bars[k].value for k in labels], dtype=np.float64)
    over = ~np.isnan(p) & (p >= bar)
    margin = _logit(p) - _logit(bar)
    for i in np.flatnonzero(over.any(axis=1)).tolist():
        cols = sorted(np.flatnonzero(over[i]).tolist(), key=lambda j: (-margin[i, j], labels[j]))
        out[i] = tuple(
            f"{labels[j].replace('_', ' ')} {p[i, j]:.2f} ≥ {bars[labels[j]].name} {bar[j]:.2f}" for j in cols
        )
    return out


def seconds_overdue(arrived: str, max_wait: timedelta | None, now: datetime) -> float | None:
    """Seconds a study that ``arrived`` (ISO 8601, UTC when no offset) has waited beyond ``max_wait``.

    None when the rule is off, the arrival is unknown or unreadable, or the wait is not over yet.
    """
    arrival = _utc(arrived)
    if max_wait is None or arrival is None:
        return None
    excess = (_as_utc(now) - arrival - max_wait).total_seconds()
    return excess if excess > 0 else None


def _utc(text: str) -> datetime | None:
    try:
        return _as_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        return None


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def rank(
    results: Sequence[StudyResult],
    thresholds: Mapping[str, float],
    *,
    max_wait: timedelta | None = None,
    now: datetime | None = None,
) -> list[RankedStudy]:
    """The worklist in reading order under ``thresholds`` (see the module docstring).

    With ``max_wait``, negatives that arrived longer than that before ``now`` (default: the current
    time) are overdue.
    """
    if max_wait is not None and max_wait < timedelta(0):
        raise ValueError(f"the maximum wait cannot be negative (got {max_wait})")
    clock = now or datetime.now(UTC)
    shown = [r.probabilities if r.status is Status.SCORED else {} for r in results]
    placed = []
    for result, f in zip(results, figures(shown, thresholds), strict=True):
        scored, positive = result.status is Status.SCORED, bool(f.positives)
        overdue_by = seconds_overdue(result.arrived, max_wait, clock)
        meta = result.meta
        key = reading_order_key(
            scored, positive, f.risk, f.top_probability, meta.study_date + meta.study_time, result.study_uid,
            overdue_by=overdue_by,
        )  # fmt: skip
        placed.append((key, result, f, tier(scored, positive, overdue_by is not None) is Tier.OVERDUE))
    placed.sort(key=lambda row: row[0])
    return [
        RankedStudy(
            rank=i,
            result=r,
            positive_findings=f.positives,
            risk_score=f.risk,
            top_finding=f.top_finding,
            top_probability=math.nan if f.top_probability is None else f.top_probability,
            overdue=overdue,
        )
        for i, (_key, r, f, overdue) in enumerate(placed, start=1)
    ]


def tier(scored: bool, positive: bool, overdue: bool) -> Tier:
    """The reading-order group of a study; ``overdue`` (past the maximum wait) only lifts negatives."""
    if not scored:
        return Tier.NOT_SCORED
    if positive:
        return Tier.POSITIVE
    return Tier.OVERDUE if overdue else Tier.NEGATIVE


def reading_order_key(
    scored: bool,
    positive: bool,
    risk: float,
    top_probability: float | None,
    acquired: str,
    uid: str,
    *,
    overdue_by: float | None = None,
) -> tuple[int, float, int, str, str]:
    """Sort key of one study in reading order (the module docstring's rule).

    ``acquired`` is the study date + time (DICOM DA + TM); undated studies go after dated ones.
    ``overdue_by`` is :func:`seconds_overdue`'s seconds past the maximum wait, None when not overdue.
    """
    group = tier(scored, positive, overdue_by is not None)
    if group is Tier.POSITIVE:
        order = -risk
    elif group is Tier.OVERDUE:
        order = -(overdue_by or 0.0)
    elif group is Tier.NEGATIVE:
        order = -(top_probability if top_probability is not None and not math.isnan(top_probability) else 0.0)
    else:
        order = 0.0
    stamp = acquired.strip()
    return (group, order, 0 if stamp else 1, stamp, uid)
