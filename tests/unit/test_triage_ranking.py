"""Ranking and study aggregation: pure functions, no model."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.api import ImageMeta, Prediction, ScanEntry, Status, StudyResult
from inference.triage import positive_findings, rank, risk_score, summarise_study

THRESHOLDS = {"Pneumonia": 0.5, "Effusion": 0.1}


def study(uid: str, status: Status = Status.SCORED, date: str = "", **probs: float) -> StudyResult:
    meta = ImageMeta(path=Path(f"{uid}.png"), study_uid=uid, study_date=date)
    return StudyResult(study_uid=uid, meta=meta, status=status, probabilities=probs)


def test_positive_findings_are_at_or_above_threshold_most_exceeded_first():
    assert positive_findings({"Pneumonia": 0.6, "Effusion": 0.3}, THRESHOLDS) == ("Effusion", "Pneumonia")
    assert positive_findings({"Pneumonia": 0.5, "Effusion": 0.09}, THRESHOLDS) == ("Pneumonia",)


def test_risk_score_is_largest_log_odds_margin():
    # logit(0.3) - logit(0.1) = 1.350 beats logit(0.6) - logit(0.5) = 0.405
    assert risk_score({"Pneumonia": 0.6, "Effusion": 0.3}, THRESHOLDS) == pytest.approx(1.3499, abs=1e-4)
    assert risk_score({"Pneumonia": 0.5}, THRESHOLDS) == pytest.approx(0.0)  # at threshold: margin 0


def test_margin_over_threshold_outranks_raw_probability():
    thresholds = {"Pneumonia": 0.5, "Effusion": 0.05}
    low_threshold_hit = study("a", Pneumonia=0.2, Effusion=0.3)  # margin 2.10
    high_probability = study("b", Pneumonia=0.8, Effusion=0.0)  # margin 1.39
    assert [r.result.study_uid for r in rank([high_probability, low_threshold_hit], thresholds)] == ["a", "b"]


def test_a_near_zero_threshold_does_not_swamp_a_confident_finding():
    # The demo model's case: Effusion 0.36 over 0.103 (ratio 3.5) vs Pneumonia 0.97 over 0.545 (ratio 1.8).
    thresholds = {"Pneumonia": 0.545, "Effusion": 0.103}
    assert positive_findings({"Pneumonia": 0.97, "Effusion": 0.36}, thresholds) == ("Pneumonia", "Effusion")


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


def entry(name: str, status: Status = Status.SCORED, reason: str = "") -> ScanEntry:
    return ScanEntry(ImageMeta(path=Path(name), study_uid="s1"), status, reason)


def test_study_takes_per_finding_maximum_over_frontal_images_and_notes_the_lateral():
    entries = [entry("pa.dcm"), entry("ap.dcm"), entry("lat.dcm", Status.NOT_SCORED, "lateral view")]
    predictions = {
        Path("pa.dcm"): Prediction(Path("pa.dcm"), {"Pneumonia": 0.2, "Effusion": 0.6}, "h"),
        Path("ap.dcm"): Prediction(Path("ap.dcm"), {"Pneumonia": 0.7, "Effusion": 0.1}, "h"),
    }
    result = summarise_study("s1", entries, predictions, {})
    assert result.status is Status.SCORED
    assert result.probabilities == {"Pneumonia": 0.7, "Effusion": 0.6}
    assert result.meta.path == Path("ap.dcm")
    assert result.reason == "lat.dcm: lateral view"


def test_study_with_only_failures_is_an_error_with_the_decoder_reason():
    result = summarise_study(
        "s1",
        [entry("a.dcm"), entry("lat.dcm", Status.NOT_SCORED, "lateral")],
        {},
        {Path("a.dcm"): "truncated pixel data"},
    )
    assert result.status is Status.ERROR
    assert result.reason == "a.dcm: truncated pixel data"


def test_lateral_only_study_is_not_scored():
    result = summarise_study("s1", [entry("lat.dcm", Status.NOT_SCORED, "lateral view")], {}, {})
    assert (result.status, result.reason) == (Status.NOT_SCORED, "lateral view")
