"""Metrics against hand-computed cases and a brute-force implementation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from inference.fit.evaluation.metrics import (
    auroc,
    bootstrap_auroc_ci,
    confusion_at,
    operating_points,
    rates_at,
    roc_points,
    validation_curve,
)


def brute_auroc(y, s):
    pos = [b for a, b in zip(y, s, strict=True) if a]
    neg = [b for a, b in zip(y, s, strict=True) if not a]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def brute_rates(y, s, t):
    y, s = np.asarray(y, bool), np.asarray(s)
    pred = s >= t
    return (pred & y).sum() / y.sum(), (~pred & ~y).sum() / (~y).sum()


def test_auroc_hand_cases():
    assert auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert auroc([0, 1], [0.2, 0.9]) == 1.0
    assert auroc([0, 1], [0.9, 0.2]) == 0.0
    assert auroc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert auroc([0, 0, 1], [0.3, 0.5, 0.5]) == pytest.approx(0.75)  # one win, one tie


def test_auroc_needs_both_classes():
    with pytest.raises(ValueError):
        auroc([1, 1], [0.2, 0.3])


@pytest.mark.parametrize("seed", range(5))
def test_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 40
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    s = np.round(rng.random(n), 1)  # many ties
    assert auroc(y, s) == pytest.approx(brute_auroc(y, s))
    ops = operating_points(y, s)
    cands = np.unique(s)
    rates = {t: brute_rates(y, s, t) for t in cands}
    assert ops["high_sensitivity"] == max(t for t in cands if rates[t][0] >= 0.95)
    spec_ok = [t for t in cands if rates[t][1] >= 0.95]
    assert ops["high_specificity"] == (min(spec_ok) if spec_ok else cands.max())
    best_j = max(r[0] + r[1] - 1 for r in rates.values())
    assert rates[ops["youden"]][0] + rates[ops["youden"]][1] - 1 == pytest.approx(best_j)
    sens, spec = rates_at(y, s, cands)
    for t, a, b in zip(cands, sens, spec, strict=True):
        assert (a, b) == pytest.approx(rates[t])


def test_operating_points_hand_case():
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    s = [0.1, 0.2, 0.3, 0.6, 0.4, 0.5, 0.7, 0.9]
    ops = operating_points(y, s)
    assert ops["high_sensitivity"] == 0.4  # all four positives >= 0.4
    assert ops["high_specificity"] == 0.7  # no negative >= 0.7
    assert ops["youden"] == 0.4  # J = 0.75 at 0.4, 0.5 at 0.7


def test_roc_points_trapezoid_equals_auroc():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 100)
    s = rng.random(100) + 0.3 * y
    fpr, tpr, thr = roc_points(y, s)
    assert thr[0] == np.inf and np.all(np.diff(thr) < 0)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.trapezoid(tpr, fpr) == pytest.approx(auroc(y, s))


def test_confusion_at():
    c = confusion_at([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.8], 0.5)
    assert (c["tp"], c["fp"], c["tn"], c["fn"]) == (1, 1, 1, 1)
    assert c["sensitivity"] == c["specificity"] == c["ppv"] == c["npv"] == 0.5


def test_validation_curve_ascending_and_exact_at_operating_points():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 1000)
    s = rng.random(1000) * 0.7 + 0.3 * y
    curve = validation_curve(y, s, max_points=50)
    assert list(curve.thresholds) == sorted(curve.thresholds)
    assert len(curve.thresholds) <= 53
    for t in operating_points(y, s).values():
        assert curve.at(t) == pytest.approx(brute_rates(y, s, t))
    assert all(a >= b for a, b in zip(curve.sensitivity, curve.sensitivity[1:], strict=False))


def test_bootstrap_ci_brackets_auroc():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    s = rng.random(200) + 0.5 * y
    lo, hi = bootstrap_auroc_ci(y, s, n_boot=300)
    assert lo < auroc(y, s) < hi
    assert bootstrap_auroc_ci(y, s, n_boot=300) == (lo, hi)  # seeded


def test_youden_tie_takes_larger_threshold():
    assert operating_points([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])["youden"] == 0.8  # J = 0.5 at 0.35 and 0.8
