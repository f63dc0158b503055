"""Ranking and study aggregation: pure functions, no model."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inference.api import ImageMeta, RankedStudy, ScanEntry, Status, StudyResult
from inference.store import ImageResult
from inference.worklist.ranking import NO_FIGURES, Figures, figures, rank
from inference.worklist.studies import summarise_study

THRESHOLDS = {"Pneumonia": 0.5, "Effusion": 0.1}


def study(
    uid: str, status: Status = Status.SCORED, date: str = "", arrived: str = "", **probs: float
) -> StudyResult:
    meta = ImageMeta(path=Path(f"{uid}.png"), study_uid=uid, study_date=date)
    return StudyResult(study_uid=uid, meta=meta, status=status, probabilities=probs, arrived=arrived)


def positives(probs: dict[str, float], thresholds: dict[str, float] = THRESHOLDS) -> tuple[str, ...]:
    return figures([probs], thresholds)[0].positives


def risk(probs: dict[str, float]) -> float:
    return figures([probs], THRESHOLDS)[0].risk


def test_positive_findings_are_at_or_above_threshold_most_exceeded_first():
    assert positives({"Pneumonia": 0.6, "Effusion": 0.3}) == ("Effusion", "Pneumonia")
    assert positives({"Pneumonia": 0.5, "Effusion": 0.09}) == ("Pneumonia",)
    # Where logit clipping makes the margin 0, the probability still decides.
    assert positives({"Pneumonia": 0.9999999}, {"Pneumonia": 1.0}) == ()


def test_risk_score_is_largest_log_odds_margin():
    # logit(0.3) - logit(0.1) = 1.350 beats logit(0.6) - logit(0.5) = 0.405
    assert risk({"Pneumonia": 0.6, "Effusion": 0.3}) == pytest.approx(1.3499, abs=1e-4)
    assert risk({"Pneumonia": 0.5}) == pytest.approx(0.0)  # at threshold: margin 0


def test_margin_over_threshold_outranks_raw_probability():
    thresholds = {"Pneumonia": 0.5, "Effusion": 0.05}
    low_threshold_hit = study("a", Pneumonia=0.2, Effusion=0.3)  # margin 2.10
    high_probability = study("b", Pneumonia=0.8, Effusion=0.0)  # margin 1.39
    assert [r.result.study_uid for r in rank([high_probability, low_threshold_hit], thresholds)] == ["a", "b"]


def test_a_near_zero_threshold_does_not_swamp_a_confident_finding():
    # The demo model's case: Effusion 0.36 over 0.103 (ratio 3.5) vs Pneumonia 0.97 over 0.545 (ratio 1.8).
    thresholds = {"Pneumonia": 0.545, "Effusion": 0.103}
    assert positives({"Pneumonia": 0.97, "Effusion": 0.36}, thresholds) == ("Pneumonia", "Effusion")


def test_order_is_positives_then_unscored_then_negatives_by_probability():
    results = [
        study("neg-low", Pneumonia=0.1, Effusion=0.01),
        study("err", Status.ERROR),
        study("neg-high", Pneumonia=0.4, Effusion=0.05),
        study("lat", Status.NOT_SCORED),
        study("pos", Pneumonia=0.7, Effusion=0.0),
    ]
    ranked = rank(results, THRESHOLDS)
    assert [r.result.study_uid for r in ranked] == ["pos", "err", "lat", "neg-high", "neg-low"]
    assert [r.rank for r in ranked] == [1, 2, 3, 4, 5]
    assert ranked[0].positive_findings == ("Pneumonia",) and ranked[0].top_finding == "Pneumonia"
    assert ranked[3].positive_findings == () and ranked[3].top_finding == "Pneumonia"


def test_ties_go_to_the_oldest_study_then_uid():
    same = {"Pneumonia": 0.7, "Effusion": 0.0}
    results = [study("c", date="20250102", **same), study("b", **same), study("a", date="20250101", **same)]
    assert [r.result.study_uid for r in rank(results, THRESHOLDS)] == ["a", "c", "b"]


def test_changing_a_threshold_reranks():
    results = [study("a", Pneumonia=0.45, Effusion=0.0), study("b", Pneumonia=0.2, Effusion=0.15)]
    assert rank(results, THRESHOLDS)[0].result.study_uid == "b"
    assert rank(results, {"Pneumonia": 0.4, "Effusion": 0.5})[0].result.study_uid == "a"


def reference_figures(probs: dict[str, float], thresholds: dict[str, float]) -> Figures:
    """The rule of the module docstring, one study at a time, written independently of the numpy code."""
    shown = {k: v for k, v in probs.items() if k in thresholds}
    if not shown:
        return NO_FIGURES

    def logit(x: float) -> float:
        x = min(max(x, 1e-6), 1 - 1e-6)
        return math.log(x / (1 - x))

    margin = {k: logit(v) - logit(thresholds[k]) for k, v in shown.items()}
    hits = tuple(sorted((k for k in shown if shown[k] >= thresholds[k]), key=lambda k: (-margin[k], k)))
    top = hits[0] if hits else max(shown, key=lambda k: (shown[k], k))
    return Figures(hits, max(margin.values()), top, shown[top])


@pytest.mark.parametrize("seed", [3, 4])
def test_figures_follow_the_rule_for_every_row(seed):
    rng = random.Random(seed)
    labels = ("Atelectasis", "Effusion", "Pneumothorax")
    thresholds = {k: rng.choice([0.0, 0.2, 0.5, 0.5, 0.9, 1.0]) for k in labels}
    # Coarse values make ties in probability and margin (and clipping at 0 and 1) common.
    probs = [
        {k: rng.choice([0.0, 0.2, 0.5, 1.0, round(rng.random(), 2)]) for k in labels} for _ in range(500)
    ]
    probs += [{}, {"Unknown": 0.9}, {"Effusion": 0.5}, {"Effusion": 0.5, "Unknown": 1.0}]
    for p, got in zip(probs, figures(probs, thresholds), strict=True):
        expected = reference_figures(p, thresholds)
        assert got[0::2] == expected[0::2] and got.top_finding == expected.top_finding
        assert got.risk == pytest.approx(expected.risk)


def test_figure_ties_go_to_names():
    thresholds = {"A": 0.5, "B": 0.5}
    assert figures([{"B": 0.7, "A": 0.7}], thresholds)[0][0::2] == (("A", "B"), "A")  # positives: by name
    assert figures([{"A": 0.3, "B": 0.3}], thresholds)[0].top_finding == "B"  # negatives: the larger name


def test_figures_without_a_shown_finding_are_empty():
    assert figures([{}, {"Unknown": 0.9}], THRESHOLDS) == [NO_FIGURES, NO_FIGURES]
    assert figures([{"Pneumonia": 0.9}], {}) == [NO_FIGURES]
    assert figures([], THRESHOLDS) == []


NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def waiting_list() -> list[StudyResult]:
    return [
        study("fresh", arrived="2025-01-01T11:30:00Z", Pneumonia=0.4, Effusion=0.05),
        study("old-neg", arrived="2025-01-01T09:00:00Z", Pneumonia=0.1, Effusion=0.01),
        study("err", Status.ERROR, arrived="2025-01-01T08:00:00Z"),
        study("old-pos", arrived="2025-01-01T08:00:00Z", Pneumonia=0.6, Effusion=0.0),
        study("pos", arrived="2025-01-01T11:59:00Z", Pneumonia=0.9, Effusion=0.0),
    ]


def order(ranked: list[RankedStudy]) -> list[str]:
    return [r.result.study_uid for r in ranked]


def test_maximum_wait_is_off_by_default():
    results = waiting_list()
    without_arrivals = [replace(r, arrived="") for r in results]
    ranked = rank(results, THRESHOLDS, now=NOW)
    expected = ["pos", "old-pos", "err", "fresh", "old-neg"]
    assert order(ranked) == order(rank(without_arrivals, THRESHOLDS)) == expected
    assert not any(r.overdue for r in ranked)


def test_an_overdue_negative_goes_after_the_positives_and_before_the_rest():
    ranked = rank(waiting_list(), THRESHOLDS, max_wait=HOUR, now=NOW)
    assert order(ranked) == ["pos", "old-pos", "old-neg", "err", "fresh"]
    assert [r.result.study_uid for r in ranked if r.overdue] == ["old-neg"]  # not the old positive or error


def test_a_study_is_overdue_only_once_it_has_waited_longer_than_the_maximum():
    at_limit = study("at-limit", arrived="2025-01-01T11:00:00Z", Pneumonia=0.1)
    past = study("past", arrived="2025-01-01T10:59:59Z", Pneumonia=0.1)
    ranked = rank([at_limit, past], THRESHOLDS, max_wait=HOUR, now=NOW)
    assert [(r.result.study_uid, r.overdue) for r in ranked] == [("past", True), ("at-limit", False)]


def test_an_unknown_or_unreadable_arrival_is_never_overdue():
    results = [study("unknown", Pneumonia=0.1), study("garbled", arrived="yesterday", Pneumonia=0.2)]
    ranked = rank(results, THRESHOLDS, max_wait=timedelta(0), now=NOW)
    assert order(ranked) == ["garbled", "unknown"] and not any(r.overdue for r in ranked)


def test_overdue_studies_longest_waiting_first_whatever_their_probability():
    results = [
        study("waited-2h", arrived="2025-01-01T10:00:00Z", Pneumonia=0.4),
        study("waited-3h", arrived="2025-01-01T11:00:00+02:00", Pneumonia=0.1),  # 09:00 UTC
        study("waited-4h", arrived="2025-01-01T08:00:00", Pneumonia=0.2),  # no offset: UTC
    ]
    ranked = rank(results, THRESHOLDS, max_wait=HOUR, now=NOW)
    assert order(ranked) == ["waited-4h", "waited-3h", "waited-2h"] and all(r.overdue for r in ranked)


def test_a_negative_maximum_wait_is_refused():
    with pytest.raises(ValueError, match="maximum wait cannot be negative"):
        rank(waiting_list(), THRESHOLDS, max_wait=-HOUR, now=NOW)


def entry(name: str, status: Status = Status.SCORED, reason: str = "") -> ScanEntry:
    return ScanEntry(ImageMeta(path=Path(name), study_uid="s1"), status, reason)


def scored(probabilities: dict[str, float]) -> ImageResult:
    return ImageResult("uid", Status.SCORED, probabilities)


def test_study_takes_per_finding_maximum_over_frontal_images_and_notes_the_lateral():
    entries = [entry("pa.dcm"), entry("ap.dcm"), entry("lat.dcm", Status.NOT_SCORED, "lateral view")]
    outcomes = [
        scored({"Pneumonia": 0.2, "Effusion": 0.6}),
        scored({"Pneumonia": 0.7, "Effusion": 0.1}),
        None,
    ]
    result = summarise_study("s1", entries, outcomes)
    assert result.status is Status.SCORED
    assert result.probabilities == {"Pneumonia": 0.7, "Effusion": 0.6}
    assert result.meta.path == Path("ap.dcm")
    assert result.reason == "lat.dcm: lateral view"
    assert result.images == (Path("pa.dcm"), Path("ap.dcm"), Path("lat.dcm"))


def test_study_with_only_failures_is_an_error_with_the_decoder_reason():
    failed = ImageResult("uid", Status.ERROR, reason="truncated pixel data", warnings=("grey",))
    result = summarise_study(
        "s1", [entry("a.dcm"), entry("lat.dcm", Status.NOT_SCORED, "lateral")], [failed, None]
    )
    assert result.status is Status.ERROR
    assert result.reason == "a.dcm: truncated pixel data"
    assert result.warnings == ("a.dcm: grey",)


def test_lateral_only_study_is_not_scored():
    result = summarise_study("s1", [entry("lat.dcm", Status.NOT_SCORED, "lateral view")], [None])
    assert (result.status, result.reason) == (Status.NOT_SCORED, "lateral view")
