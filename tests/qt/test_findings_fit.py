"""The findings pane fits the width the main window gives it (issue #22, problems 1 and 2): at
1280×800 and at 150% scaling (853×533 logical pixels) with the demo model, no row scrolls sideways
and every figure (finding name, probability, threshold, sensitivity/specificity) is shown whole; a
name too long for a narrow pane ends in "…" and is whole in its tooltip. The pane's size hint is
what its rows need on one line, so a splitter that honours it gives them that."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QScrollArea, QWidget

from inference.api import LabelCard, ModelCard, Preprocessing, Task, ValidationCurve
from inference.models.card import read_card
from viewer.qt.findings_panel import FindingsPanel

REPO = Path(__file__).parents[2]
DEMO = REPO / "models" / "cxr-demo-densenet121"
SIZES = {"1280x800 at 100%": (1280, 800), "1280x800 at 150%": (853, 533)}
CURVE = ValidationCurve((0.1, 0.5, 0.9), (0.99, 0.8, 0.3), (0.2, 0.7, 0.97))
LONG = "Pleural_Thickening_of_the_left_apex_and_costophrenic_angle"


def scroll_area(panel: FindingsPanel) -> QScrollArea:
    area = panel.findChild(QScrollArea)
    assert area is not None
    return area


def whole(label: QLabel) -> bool:
    """The label's text is painted in full: it fits the label's contents."""
    return label.fontMetrics().horizontalAdvance(label.text()) <= label.contentsRect().width()


def inside(widget: QWidget, area: QScrollArea) -> bool:
    """The widget is shown and lies within the scroll area's viewport, left to right."""
    left = widget.mapTo(area.viewport(), widget.rect().topLeft()).x()
    return widget.isVisibleTo(area) and left >= 0 and left + widget.width() <= area.viewport().width()


def shown_name(name: str) -> str:
    return name.replace("_", " ")


def every_figure_whole(panel: FindingsPanel) -> list[str]:
    """What is cut, row by row ([] when nothing is)."""
    area = scroll_area(panel)
    cut: list[str] = []
    if area.horizontalScrollBar().isVisible():
        cut.append("horizontal scroll bar")
    for name, row in panel.rows().items():
        for part in (row.name_label, row.bar, row.slider, row.value_label, row.performance_label):
            if not inside(part, area):
                cut.append(f"{name}: {type(part).__name__} {part.objectName()} out of view")
        for label in (row.value_label, row.performance_label):
            if not whole(label):
                cut.append(f"{name}: {label.text()!r} cut")
        if row.name_label.text() != shown_name(name) and shown_name(name) not in row.name_label.toolTip():
            cut.append(f"{name}: name cut with no tooltip")
        bar_text = row.bar.fontMetrics().horizontalAdvance("0.00")
        if row.bar.width() < bar_text + 8:
            cut.append(f"{name}: probability bar {row.bar.width()} px")
    return cut


def nothing_cut(panel: FindingsPanel) -> None:
    assert every_figure_whole(panel) == []


@pytest.fixture
def demo_window(qtbot, window, fake_service, tmp_path):
    """The main window with the demo model's card (its real card.json) and a study's scores shown."""
    fake_service.card = read_card(DEMO)
    with qtbot.waitSignal(window.session.modelLoaded, timeout=5000):
        window.load_model(tmp_path / "demo")
    labels = fake_service.card.shown_labels
    window.findings.set_probabilities({n: 0.123 + i / 10 for i, n in enumerate(labels)})
    return window


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_every_figure_of_every_finding_is_whole_in_the_pane_the_window_gives(qtbot, demo_window, size):
    demo_window.resize(*size)
    QApplication.processEvents()
    panel = demo_window.findings
    qtbot.waitUntil(lambda: nothing_cut(panel), timeout=2000)
    for name, row in panel.rows().items():
        assert row.name_label.text() == shown_name(name)  # the demo's names are short enough: whole


def panel_with(qtbot, card: ModelCard, width: int) -> FindingsPanel:
    panel = FindingsPanel()
    qtbot.addWidget(panel)
    panel.set_card(card)
    panel.set_probabilities({n: 0.5 for n in card.shown_labels})
    panel.resize(width, 400)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def card_with(*names: str) -> ModelCard:
    points = {"high_sensitivity": 0.2, "youden": 0.5, "high_specificity": 0.8}
    labels = tuple(LabelCard(n, operating_points=points, auroc=0.81, curve=CURVE) for n in names)
    return ModelCard(
        name="m",
        version="1",
        architecture="densenet121",
        task=Task.MULTILABEL,
        preprocessing=Preprocessing.CHEXNET,
        labels=labels,
        weights_sha256="c" * 64,
    )


def test_a_long_finding_name_ends_in_an_ellipsis_and_is_whole_in_its_tooltip(qtbot):
    panel = panel_with(qtbot, card_with("Effusion", LONG), 320)
    qtbot.waitUntil(lambda: nothing_cut(panel), timeout=2000)
    row = panel.rows()[LONG]
    shown = row.name_label.text()
    assert shown.endswith("…") and len(shown) < len(shown_name(LONG))
    assert shown_name(LONG) in row.name_label.toolTip()
    assert "AUROC 0.810" in row.name_label.toolTip()  # the validation figures stay in it too
    assert panel.rows()["Effusion"].name_label.text() == "Effusion"


def test_the_size_hint_is_what_the_rows_need_on_one_line(qtbot, demo_window):
    """A splitter that gives the pane its size hint gets every row on one line, nothing cut."""
    demo_window.resize(1600, 900)
    QApplication.processEvents()
    panel, splitter = demo_window.findings, demo_window.splitter
    need = panel.sizeHint().width()
    rest = sum(splitter.sizes()) - need
    splitter.setSizes([rest // 2, rest - rest // 2, need])
    QApplication.processEvents()
    assert panel.width() == need
    qtbot.waitUntil(lambda: nothing_cut(panel), timeout=2000)
    for row in panel.rows().values():
        slider, figures = row.slider.geometry(), row.performance_label.geometry()
        assert figures.top() < slider.bottom() and slider.top() < figures.bottom()  # side by side
        assert row.slider.width() >= row.slider.sizeHint().width()


@pytest.mark.parametrize("width", [240, 320, 371])
def test_no_sideways_scroll_in_any_width_the_pane_may_get(qtbot, width):
    """From about the least the splitter keeps for the pane (viewer/qt/pane_layout.py) upwards, with a
    longer name than the demo's."""
    panel = panel_with(qtbot, card_with(*read_card(DEMO).shown_labels, "Pleural_Thickening"), width)
    qtbot.waitUntil(lambda: nothing_cut(panel), timeout=2000)
