"""The red priority dot means something rarer than "positive": a finding at or above the card's
high-specificity point (or the reader's threshold, whichever is higher), and its tooltip says which
(issue #22, item 11)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from viewer_fakes import LABELS, entry, make_card, result

from inference.worklist.ranking import high_specificity_points
from viewer.core.worklist_columns import Column
from viewer.qt.worklist_model import FLAG, WorklistModel

YOUDEN = dict.fromkeys(LABELS, 0.5)  # the fake card's points: 0.2, 0.5 (Youden), 0.8 (high specificity)


def model_with(probabilities: list[dict[str, float]], thresholds: dict[str, float]) -> WorklistModel:
    model = WorklistModel()
    model.set_priority_points(high_specificity_points(make_card()))
    model.set_thresholds(thresholds)
    entries = [entry(i) for i in range(len(probabilities))]
    model.add_entries(entries)
    model.apply_results([result(e, p) for e, p in zip(entries, probabilities, strict=True)])
    return model


def flag_of(model: WorklistModel, uid: str) -> tuple[str, str | None]:
    index = model.index_of(uid, Column.FLAG)
    return index.data(), index.data(Qt.ItemDataRole.ToolTipRole)


def test_a_positive_below_the_high_specificity_point_gets_no_dot():
    low = dict.fromkeys(LABELS, 0.1)
    model = model_with([{**low, "Effusion": 0.91}, {**low, "Effusion": 0.6}, low], YOUDEN)
    rows = {r.uid: r for r in model.worklist.rows}
    assert rows["1.2.0"].positives and rows["1.2.1"].positives  # both positive at Youden
    assert flag_of(model, "1.2.0") == (FLAG, "Priority: Effusion 0.91 ≥ high-specificity 0.80")
    assert flag_of(model, "1.2.1")[0] == "" and flag_of(model, "1.2.2")[0] == ""
    assert sum(r.flagged for r in rows.values()) < sum(bool(r.positives) for r in rows.values())


def test_the_readers_threshold_is_the_bar_when_it_is_higher():
    low = dict.fromkeys(LABELS, 0.1)
    model = model_with([{**low, "Pneumothorax": 0.85}, {**low, "Pneumothorax": 0.95}], YOUDEN)
    assert flag_of(model, "1.2.0")[0] == FLAG
    model.set_thresholds({**YOUDEN, "Pneumothorax": 0.9})
    assert flag_of(model, "1.2.0")[0] == ""
    assert flag_of(model, "1.2.1") == (FLAG, "Priority: Pneumothorax 0.95 ≥ your threshold 0.90")


def test_a_card_without_high_specificity_points_flags_at_the_readers_threshold():
    low = dict.fromkeys(LABELS, 0.1)
    model = model_with([{**low, "Effusion": 0.6}], YOUDEN)
    model.set_priority_points({})
    assert flag_of(model, "1.2.0") == (FLAG, "Priority: Effusion 0.60 ≥ your threshold 0.50")


def test_the_window_takes_the_loaded_cards_high_specificity_points(window):
    assert window.session.worklist_model.worklist.priority_points == dict.fromkeys(LABELS, 0.8)
