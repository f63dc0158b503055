"""FindingsPanel: rows, live sensitivity/specificity, single emissions, operating points, selection."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from inference.api import LabelCard, ModelCard, Preprocessing, Task, ValidationCurve
from viewer.qt.findings_panel import FindingsPanel

CURVE = ValidationCurve(
    thresholds=(0.1, 0.3, 0.5, 0.7, 0.9),
    sensitivity=(0.99, 0.95, 0.80, 0.60, 0.30),
    specificity=(0.20, 0.50, 0.70, 0.85, 0.97),
)
OPS_A = {"high_sensitivity": 0.3, "youden": 0.5, "high_specificity": 0.7}
OPS_B = {"high_sensitivity": 0.2, "youden": 0.4, "high_specificity": 0.6}


def make_card() -> ModelCard:
    return ModelCard(
        name="test-model",
        version="1",
        architecture="densenet121",
        task=Task.MULTILABEL,
        preprocessing=Preprocessing.CHEXNET,
        labels=(
            LabelCard("Effusion", operating_points=OPS_A, auroc=0.88, curve=CURVE),
            LabelCard("Hernia", trained=False),
            LabelCard("Pleural_Thickening", operating_points=OPS_B),
        ),
        weights_sha256="ab" * 32,
    )


@pytest.fixture
def panel(qtbot) -> FindingsPanel:
    p = FindingsPanel()
    qtbot.addWidget(p)
    p.set_card(make_card())
    p.show()
    qtbot.waitExposed(p)
    return p


def recorder(signal) -> list:
    got: list = []
    signal.connect(got.append)
    return got


def test_rows_for_shown_labels_at_default_operating_point(panel: FindingsPanel) -> None:
    assert list(panel.rows()) == ["Effusion", "Pleural_Thickening"]  # untrained head hidden
    assert panel.shown_thresholds() == {"Effusion": 0.5, "Pleural_Thickening": 0.4}
    assert panel.operating_point() == "youden"
    rows = panel.rows()
    assert rows["Effusion"].slider.value() == 500
    assert rows["Effusion"].performance_label.text() == "Se 0.80 · Sp 0.70"
    assert rows["Pleural_Thickening"].performance_label.text() == "Se — · Sp —"


def test_keyboard_step_emits_once_and_switches_to_custom(panel: FindingsPanel, qtbot) -> None:
    got = recorder(panel.thresholdsEdited)
    slider = panel.rows()["Effusion"].slider
    assert slider.focusPolicy() & Qt.FocusPolicy.TabFocus
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    assert got == [{"Effusion": 0.501, "Pleural_Thickening": 0.4}]
    assert panel.operating_point() == "custom"
    assert panel.rows()["Effusion"].value_label.text() == "0.501"
    assert panel.rows()["Effusion"].performance_label.text() == "Se 0.60 · Sp 0.85"


def test_drag_updates_live_and_emits_once_on_release(panel: FindingsPanel) -> None:
    got = recorder(panel.thresholdsEdited)
    row = panel.rows()["Effusion"]
    row.slider.setSliderDown(True)
    row.slider.setValue(250)
    assert row.performance_label.text() == "Se 0.95 · Sp 0.50"  # live while dragging
    row.slider.setValue(800)
    assert row.performance_label.text() == "Se 0.30 · Sp 0.97"
    row.slider.setValue(700)
    assert got == []
    row.slider.setSliderDown(False)
    assert got == [{"Effusion": 0.7, "Pleural_Thickening": 0.4}]


def test_positive_highlight_follows_threshold(panel: FindingsPanel) -> None:
    panel.set_probabilities({"Effusion": 0.55, "Pleural_Thickening": 0.1})
    row = panel.rows()["Effusion"]
    assert row.positive() and row.name_label.font().bold()
    assert not panel.rows()["Pleural_Thickening"].positive()
    row.slider.setValue(600)
    assert not row.positive() and not row.name_label.font().bold()
    row.slider.setValue(550)  # probability >= threshold is positive
    assert row.positive()
    panel.set_probabilities(None)
    assert not row.positive()


def test_operating_point_selector_sets_all_thresholds(panel: FindingsPanel) -> None:
    got = recorder(panel.thresholdsEdited)
    combo = panel.findChild(QComboBox)
    index = combo.findData("high_sensitivity")
    combo.setCurrentIndex(index)
    combo.activated.emit(index)  # what a user's choice emits
    assert panel.shown_thresholds() == {"Effusion": 0.3, "Pleural_Thickening": 0.2}
    assert [r.slider.value() for r in panel.rows().values()] == [300, 200]
    assert len(got) == 1
    panel.rows()["Pleural_Thickening"].slider.setValue(250)
    assert panel.operating_point() == "custom" and len(got) == 2


def test_edit_thresholds_emits_once_and_recognises_operating_point(panel: FindingsPanel) -> None:
    got = recorder(panel.thresholdsEdited)
    panel.edit_thresholds({"Effusion": 0.7, "Pleural_Thickening": 0.6, "Unknown": 0.1})
    assert got == [{"Effusion": 0.7, "Pleural_Thickening": 0.6}]
    assert panel.operating_point() == "high_specificity"
    panel.edit_thresholds({"Effusion": 0.7})  # no change, no signal
    assert len(got) == 1
    panel.edit_thresholds({"Effusion": 0.4137})  # exact value kept, not rounded to the slider
    assert panel.shown_thresholds()["Effusion"] == 0.4137 and panel.operating_point() == "custom"
    assert len(got) == 2


def test_showing_the_owners_thresholds_emits_nothing(panel: FindingsPanel) -> None:
    got = recorder(panel.thresholdsEdited)
    panel.show_thresholds({"Effusion": 0.25})
    assert got == [] and panel.shown_thresholds()["Effusion"] == 0.25
    assert panel.rows()["Effusion"].slider.value() == 250


def test_select_finding_by_index_and_click(panel: FindingsPanel, qtbot) -> None:
    got = recorder(panel.findingSelected)
    assert panel.selected_finding() is None
    panel.select_finding(1)
    assert got == ["Pleural_Thickening"] and panel.selected_finding() == "Pleural_Thickening"
    panel.select_finding(1)  # already selected: no repeat
    panel.select_finding(7)  # out of range: ignored
    assert got == ["Pleural_Thickening"]
    qtbot.mouseClick(panel.rows()["Effusion"].name_label, Qt.MouseButton.LeftButton)
    assert got == ["Pleural_Thickening", "Effusion"]


def test_new_card_rebuilds_rows(panel: FindingsPanel) -> None:
    card = make_card()
    panel.select_finding(0)
    panel.set_card(
        ModelCard(
            name="other",
            version="2",
            architecture="densenet121",
            task=Task.MULTILABEL,
            preprocessing=Preprocessing.XRV,
            labels=(LabelCard("Mass", operating_points={"youden": 0.33}),),
            weights_sha256="cd" * 32,
        )
    )
    assert list(panel.rows()) == ["Mass"] and panel.selected_finding() is None
    assert panel.shown_thresholds() == {"Mass": 0.33}
    assert card.shown_labels == ("Effusion", "Pleural_Thickening")
