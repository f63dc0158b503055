"""Which labels a trained card shows, its validation figures, and card.md."""

from __future__ import annotations

import numpy as np

from inference.api import ModelCard, Preprocessing, Task
from inference.fit.card_md import render
from inference.fit.train.card import grouped_metrics, label_cards


def _data(n_pos: int, n_neg: int, rng) -> tuple[np.ndarray, np.ndarray]:
    y = np.r_[np.ones(n_pos), np.zeros(n_neg)]
    return y, np.clip(0.3 * y + rng.random(len(y)) * 0.7, 0, 1)


def test_shown_only_with_enough_validation_and_test_positives():
    rng = np.random.default_rng(0)
    y_val_a, p_val_a = _data(30, 30, rng)
    y_val_b, p_val_b = _data(3, 57, rng)  # too few validation positives
    y_val_c, p_val_c = _data(30, 30, rng)
    val_y = np.c_[y_val_a, y_val_b, y_val_c]
    val_p = np.c_[p_val_a, p_val_b, p_val_c]
    test_y = np.c_[_data(20, 40, rng)[0], _data(20, 40, rng)[0], _data(5, 55, rng)[0]]  # C: too few in test
    val_y[:10, 0] = np.nan  # not annotated by one source: left out, not counted as negative
    cards = label_cards(("A", "B", "C"), val_y, val_p, test_y, min_positives=10)
    assert [c.trained for c in cards] == [True, False, False]
    a = cards[0]
    assert (a.n_positive, a.n_negative) == (20, 30)
    assert set(a.operating_points) == {"high_sensitivity", "youden", "high_specificity"}
    assert a.curve is not None and a.curve.at(a.operating_points["high_sensitivity"])[0] >= 0.95
    assert a.curve.at(a.operating_points["high_specificity"])[1] >= 0.95


def test_grouped_metrics_and_markdown():
    rng = np.random.default_rng(1)
    y, p = _data(40, 40, rng)
    cards = label_cards(("Pneumonia",), y[:, None], p[:, None], None, 10)
    groups = grouped_metrics(["nih", "kermany"] * 40, ("Pneumonia",), y[:, None], p[:, None], cards, 100)
    assert set(groups) == {"nih", "kermany"}  # each source holds both classes (interleaved below)
    m = groups["nih"]["Pneumonia"]
    assert m["ci95"][0] <= m["auroc"] <= m["ci95"][1]
    card = ModelCard(
        name="demo", version="1", architecture="densenet121", task=Task.MULTILABEL,
        preprocessing=Preprocessing.CHEXNET, labels=cards, weights_sha256="ab" * 32, input_size=128,
        description="Demo model, trained on public research data, not for clinical use.",
        training_data=("NIH ChestX-ray14",), recipe="retrain.sh",
        metrics={"held_out_test": groups, "published_reference": {"CheXNet mean": 0.841}},
    )  # fmt: skip
    md = render(card)
    assert "not for clinical use" in md and "retrain.sh" in md and "| nih | Pneumonia |" in md
    assert "CheXNet mean: AUROC 0.841" in md
