"""Dataset parsing, patient keys, exclusion and patient-disjoint splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inference.fit.train.datasets import (
    Sample,
    exclude,
    multiclass_targets,
    multilabel_targets,
    patient_key,
    read_csv,
    read_dataset,
    read_folder,
)
from inference.fit.train.splits import split_by_patient

FIX = Path(__file__).parent.parent / "fixtures" / "train"


def test_read_csv_nih_style():
    samples = read_csv(FIX / "nih" / "labels.csv", "nih")
    assert len(samples) == 8
    first = samples[0]
    assert first.path.is_file() and first.source == "nih" and first.patient == "nih:5567"
    assert first.findings == {"Pneumonia"} and first.view == "PA" and first.annotated is None
    assert samples[3].findings == {"Infiltration", "Pneumonia"}
    assert samples[4].findings == frozenset()  # "No Finding"


def test_patient_keys_of_kermany_names():
    assert patient_key("person1000_bacteria_2931.jpeg") == "person1000"
    assert patient_key("person1000_virus_1681.jpeg") == "person1000"
    assert patient_key("IM-0429-0001-0002.jpeg") == "IM-0429"
    assert patient_key("IM-0429-0001.jpeg") == "IM-0429"
    assert patient_key("NORMAL2-IM-0429-0001.jpeg") == "NORMAL2-IM-0429"  # a different patient series


def test_read_folder_multiclass_and_class_map():
    multi = read_folder(FIX / "kermany", "k")
    assert {next(iter(s.findings)) for s in multi} == {"NORMAL", "PNEUMONIA"}
    assert all(s.annotated is None for s in multi)
    mapped = read_dataset(f"k={FIX / 'kermany'}", {"NORMAL": "", "PNEUMONIA": "Pneumonia"})
    assert {s.findings for s in mapped} == {frozenset(), frozenset({"Pneumonia"})}
    assert all(s.annotated == {"Pneumonia"} for s in mapped)
    y = multilabel_targets(mapped, ("Pneumonia", "Effusion"))
    assert np.isnan(y[:, 1]).all() and set(np.unique(y[:, 0])) == {0.0, 1.0}


def test_multiclass_targets_one_hot():
    samples = read_folder(FIX / "kermany")
    y = multiclass_targets(samples, ("NORMAL", "PNEUMONIA"))
    assert (y.sum(1) == 1).all() and y[:, 0].sum() == 6


def test_exclude_drops_the_whole_patient_and_nih_ids():
    a = Sample(Path("x/person1_bacteria_1.jpeg"), "k", "k:person1", frozenset({"P"}))
    b = Sample(Path("x/person1_virus_2.jpeg"), "k", "k:person1", frozenset({"P"}))
    c = Sample(Path("y/00003956_000.png"), "nih", "nih:3956", frozenset())
    d = Sample(Path("y/00000002_000.png"), "nih", "nih:2", frozenset())
    kept, dropped = exclude([a, b, c, d], {"person1_bacteria_1.jpeg", "00003956_001.png"})
    assert kept == [d] and dropped == {"k:person1", "nih:3956"}


def _synthetic(n_patients: int = 60) -> list[Sample]:
    rng = np.random.default_rng(0)
    out = []
    for p in range(n_patients):
        for k in range(int(rng.integers(1, 4))):
            src = "a" if p % 3 else "b"
            out.append(Sample(Path(f"{p}_{k}.png"), src, f"{src}:{p}", frozenset({"X"} if p % 2 else ())))
    return out


def test_split_is_patient_disjoint_seeded_and_covers_everything():
    samples = _synthetic()
    split = split_by_patient(samples, 0.2, 0.2, seed=7)
    assert sorted(sum(split.values(), [])) == list(range(len(samples)))
    patients = {k: {samples[i].patient for i in v} for k, v in split.items()}
    assert not patients["train"] & patients["val"] and not patients["train"] & patients["test"]
    assert not patients["val"] & patients["test"]
    assert split == split_by_patient(samples, 0.2, 0.2, seed=7)
    assert split != split_by_patient(samples, 0.2, 0.2, seed=8)
    for part in ("val", "test"):  # stratified: each source and class appears
        assert {(samples[i].source, bool(samples[i].findings)) for i in split[part]} == {
            ("a", True), ("a", False), ("b", True), ("b", False)
        }  # fmt: skip
