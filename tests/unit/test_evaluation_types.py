"""The typed evaluation/training tables: JSON-safe rows, strata summaries, report rows, class maps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inference.cli.commands.train import class_map_of
from inference.fit.evaluation.analysis import AurocSummary, Extremes, LabelReport, label_report
from inference.fit.evaluation.predict import Scored
from inference.fit.evaluation.report import markdown
from inference.fit.evaluation.run import by_stratum
from inference.fit.train.card import grouped_metrics, label_cards
from inference.fit.train.datasets import Sample


def _data(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y = (np.arange(n) % 3 == 0).astype(float)
    return y, np.clip(0.3 * y + rng.random(n) * 0.7, 0, 0.99)


def test_undefined_rates_are_null_in_json_and_figures_rounded():
    y, p = _data()
    report = label_report(y, p, {"above_every_score": 1.0}, n_boot=20)
    assert report is not None
    row = report["operating_points"]["above_every_score"]
    assert (row["tp"], row["fp"], row["ppv"]) == (0, 0, None)
    cards = label_cards(("A",), y[:, None], p[:, None], None, 5)
    groups = grouped_metrics(["nih"] * len(y), ("A",), y[:, None], p[:, None], cards, 20)
    youden = groups["nih"]["A"]["at_validation_operating_points"]["youden"]
    assert youden["sensitivity"] == round(youden["sensitivity"] or 0.0, 4)
    json.dumps([report, groups], allow_nan=False)  # raises on NaN


def test_strata_summaries_are_the_label_report_figures():
    y, p = _data()
    y[:6] = np.nan  # not annotated: left out
    samples = tuple(
        Sample(Path(f"{i}.png"), "nih", str(i), frozenset(), view="PA" if i % 2 else "AP")
        for i in range(len(y))
    )
    strata = by_stratum(Scored(("A",), samples, y[:, None], p[:, None], ()), n_boot=30)
    pa = np.arange(len(y)) % 2 == 1
    full = label_report(y[pa], p[pa], {}, n_boot=30)
    assert full is not None
    assert strata["nih/PA"]["A"] == {k: full[k] for k in ("auroc", "ci95", "n_positive", "n_negative")}


def test_report_tables_share_one_summary_row_format():
    summary: AurocSummary = {"auroc": 0.75, "ci95": [0.6, 0.9], "n_positive": 3, "n_negative": 4}
    extremes: Extremes = {"n": 1, "top_positive_rate": 1.0, "bottom_negative_rate": 1.0}
    report: LabelReport = {**summary, "operating_points": {}, "sweep": [], "extremes": extremes}
    md = markdown("T", {}, {"A": report}, {"nih": {"A": summary}}, [], {})
    assert "| A | 0.750 | 0.600–0.900 | 3 | 4 |" in md
    assert "| nih | A | 0.750 | 0.600–0.900 | 3 | 4 |" in md


def test_class_map_options():
    assert class_map_of(None) is None and class_map_of([]) is None
    assert class_map_of(["PNEUMONIA=Pneumonia", "NORMAL=", "COVID", "A=b=c"]) == {
        "PNEUMONIA": "Pneumonia",
        "NORMAL": "",
        "COVID": "",
        "A": "b=c",
    }
