"""A site fine-tunes the bundled demo model to its own mutually exclusive classes, then triages.

Normal / bacterial / viral pneumonia from the Kermany file names (tests/fixtures/train, CC BY 4.0):
one short head-only epoch at 64 px on 18 images, so the whole test takes seconds, not minutes.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from inference.api import Task
from inference.bundled import DEMO_MODEL
from inference.cli.main import main
from inference.models.package import load_package

FIX = Path(__file__).parent.parent / "fixtures" / "train" / "kermany"
CLASSES = ("BACTERIA", "NORMAL", "VIRUS")

pytestmark = pytest.mark.skipif(
    not (DEMO_MODEL / "model.safetensors").is_file(), reason="bundled demo package not in this checkout"
)


def site_dataset(root: Path) -> Path:
    """A folder of class folders, the layout `cxr-triage train` reads as a multi-class task."""
    for cls in CLASSES:
        (root / cls).mkdir(parents=True)
    for f in sorted(FIX.rglob("*.jpeg")):
        cls = "NORMAL" if f.parent.name == "NORMAL" else "VIRUS" if "_virus_" in f.name else "BACTERIA"
        shutil.copy(f, root / cls / f.name)
    return root


def test_finetune_demo_to_three_classes_then_triage(tmp_path):
    data = site_dataset(tmp_path / "site")
    package, out = tmp_path / "site-model", tmp_path / "worklist"
    rc = main([
        "train", "--data", f"site={data}", "--init", str(DEMO_MODEL), "--strategy", "head",
        "--epochs", "1", "--input-size", "64", "--batch-size", "4", "--val-fraction", "0.34",
        "--test-fraction", "0", "--min-positives", "1", "--threads", "1", "--n-boot", "50",
        "--name", "site-pneumonia-type", "--out", str(package), "--work", str(tmp_path / "work"),
    ])  # fmt: skip
    assert rc == 0

    card, model = load_package(package)
    assert card.task is Task.MULTICLASS and card.shown_labels == CLASSES
    assert model.classifier.out_features == 3 and card.input_size == 64
    ops = {"high_sensitivity", "youden", "high_specificity"}
    assert all(set(lab.operating_points) == ops for lab in card.labels)
    assert "--init" in card.recipe

    images = sorted(data.rglob("*.jpeg"))
    assert main(["triage", *map(str, images), "--model", str(package), "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "worklist.csv").open(encoding="utf-8")))
    assert len(rows) == len(images) and {r["status"] for r in rows} == {"scored"}
    assert [int(r["rank"]) for r in rows] == list(range(1, len(images) + 1))
    for r in rows:
        probs = [float(r[c]) for c in CLASSES]
        assert sum(probs) == pytest.approx(1.0, abs=1e-3)  # softmax over mutually exclusive classes
