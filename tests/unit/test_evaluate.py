"""``cxr-triage evaluate`` writes metrics, a Markdown report and ROC/threshold PNGs."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from inference.cli.main import main
from inference.fit.evaluation.analysis import extremes, label_report
from inference.models.package import load_package

FIX = Path(__file__).parent.parent / "fixtures" / "train"


def test_extremes_and_sweep_on_a_hand_case():
    y = np.array([1, 1, 0, 1, 0, 0], float)
    p = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    e = extremes(y, p, 2)
    assert e == {"n": 2, "top_positive_rate": 1.0, "bottom_negative_rate": 1.0}
    assert extremes(y, p, 3)["top_positive_rate"] == round(2 / 3, 4)
    r = label_report(y, p, {"youden": 0.8}, n_extremes=2, n_boot=50)
    sweep = {row["threshold"]: row for row in r["sweep"]}
    assert (sweep[0.5]["tp"], sweep[0.5]["fp"], sweep[0.2]["tp"], sweep[0.2]["fp"]) == (2, 1, 3, 2)
    assert r["operating_points"]["youden"]["sensitivity"] == round(2 / 3, 4)
    assert label_report(np.ones(3), p[:3], {}) is None


def small_copy(package: Path, tmp_path: Path) -> Path:
    """The random package at a 64 px input (same weights and hash): a quick forward on 2 cores."""
    small = tmp_path / "small"
    shutil.copytree(package, small)
    card = json.loads((small / "card.json").read_text())
    (small / "card.json").write_text(json.dumps(card | {"input_size": 64}))
    return small


def test_evaluate_writes_report_and_plots(random_package, tmp_path):
    out = tmp_path / "eval"
    package = small_copy(random_package, tmp_path)
    rc = main(["evaluate", str(package), f"nih={FIX / 'nih' / 'labels.csv'}", "--out", str(out),
               "--n-boot", "50", "--extremes", "2", "--calibrated-out", str(tmp_path / "site")])  # fmt: skip
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_images"] == 8 and set(metrics["labels"]) == {"Pneumonia", "Infiltration"}
    pn = metrics["labels"]["Pneumonia"]
    assert pn["n_positive"] == 4 and pn["n_negative"] == 4 and pn["ci95"][0] <= pn["auroc"] <= pn["ci95"][1]
    assert set(pn["operating_points"]) == {"high_sensitivity", "youden", "high_specificity"}
    assert {"nih/PA", "nih/AP"} <= set(metrics["by_stratum"])
    report = (out / "report.md").read_text()
    assert "## Pneumonia" in report and "Threshold sweep" in report and "Extremes" in report
    for name in ("roc_Pneumonia.png", "thresholds_Pneumonia.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"({name})" in report
    assert len((out / "predictions.csv").read_text().splitlines()) == 9
    site_card, _ = load_package(tmp_path / "site")  # same weights, thresholds from this data
    assert site_card.label("Pneumonia").auroc == pn["auroc"] and site_card.label("Pneumonia").n_positive == 4
    assert "operating_points_from" in site_card.metrics


def test_evaluate_applies_the_safety_gate_and_reports_what_it_stopped(random_package, tmp_path):
    """Four real radiographs and one colour picture labelled Pneumonia: the package has no gate
    section, so its image statistics stop the colour picture, which every main figure still counts."""
    data = tmp_path / "data"
    radiographs = {
        "NORMAL": ["IM-0222-0001.jpeg", "IM-0349-0001.jpeg"],
        "PNEUMONIA": ["person1129_bacteria_3070.jpeg", "person294_virus_610.jpeg"],
    }
    for folder, names in radiographs.items():
        (data / folder).mkdir(parents=True)
        for name in names:
            shutil.copy(FIX / "kermany" / folder / name, data / folder / name)
    photo = np.zeros((120, 100, 3), np.uint8)
    photo[:, :, 0] = np.linspace(0, 255, 100, dtype=np.uint8)  # a blue-to-red ramp: plainly colour
    photo[:, :, 2] = 255 - photo[:, :, 0]
    cv2.imwrite(str(data / "PNEUMONIA" / "photo.png"), photo)
    out = tmp_path / "eval"
    package = small_copy(random_package, tmp_path)
    classes = ["--class-map", "NORMAL=", "--class-map", "PNEUMONIA=Pneumonia"]
    rc = main(["evaluate", str(package), f"site={data}", *classes, "--out", str(out), "--n-boot", "20"])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    gate = metrics["gate"]
    assert (gate["stopped"], gate["n_images"], gate["by_source"]) == (1, 5, {"site": {"stopped": 1, "n": 5}})
    assert gate["reasons"] == {"a colour image; radiographs are grey-scale": 1}
    assert gate["description"].startswith("image statistics (colour, noise-like texture) only")
    assert metrics["labels"]["Pneumonia"]["n_positive"] == 3  # the stopped picture counted, as if scored
    passed = metrics["labels_gate_passed"]["Pneumonia"]
    assert (passed["n_positive"], passed["n_negative"]) == (2, 2)
    rows = {Path(r["path"]).name: r for r in csv.DictReader((out / "predictions.csv").open())}
    assert rows["photo.png"]["gate"].endswith("(a colour image; radiographs are grey-scale)")
    assert rows["photo.png"]["p_Pneumonia"] and rows["photo.png"]["y_Pneumonia"] == "1"
    assert {r["gate"] for name, r in rows.items() if name != "photo.png"} == {""}
    assert {r["gate_score"] for r in rows.values()} == {""}  # no feature statistics: no gate score
    report = (out / "report.md").read_text()
    assert "## Safety gate" in report and "stopped 1 of 5 images (site: 1 of 5)" in report
    assert "- a colour image; radiographs are grey-scale: 1" in report
    assert "as if a reader had scored them anyway" in report
