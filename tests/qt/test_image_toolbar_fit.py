"""The image's toolbar fits the image pane (issue #22, problems 2 and 7): at 1280×800 and at 150%
scaling (853×533 logical pixels) the preset box shows its preset's whole name ("Full range", not
"Full r…") and every other control is whole and inside the pane: the row wraps instead of
squeezing them. A heat map arriving or going does not move the image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QLabel,
    QSlider,
    QStyle,
    QStyleOptionComboBox,
    QToolButton,
    QWidget,
)

from inference.api import Heatmap
from inference.io.dicom import read_dicom
from inference.io.raster import read_raster
from viewer.qt.image_view import ImageView

REPO = Path(__file__).parents[2]
WINDOWED = REPO / "tests" / "fixtures" / "dicom" / "CR_chest_SIIM_window_2725_5310.dcm"
PNG = REPO / "resources" / "samples" / "00000001_000.png"
SIZES = {"1280x800 at 100%": (1280, 800), "1280x800 at 150%": (853, 533)}


def named(view: ImageView, kind: type[QWidget], name: str) -> QWidget:
    [widget] = [w for w in view.findChildren(kind) if name in (w.accessibleName(), getattr(w, "text", str)())]
    return widget


def controls(view: ImageView) -> dict[str, QWidget]:
    return {
        "preset box": named(view, QComboBox, "Window preset"),
        "presets menu": named(view, QToolButton, "Presets"),
        "invert": named(view, QToolButton, "Invert"),
        "reset": named(view, QToolButton, "Reset"),
        "heat map": named(view, QCheckBox, "Grad-CAM"),
        "opacity": named(view, QSlider, "Overlay opacity"),
        "colour scale": named(view, QLabel, "Heat map colour scale"),
    }


def preset_name_room(box: QComboBox) -> int:
    option = QStyleOptionComboBox()
    box.initStyleOption(option)
    field = box.style().subControlRect(
        QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, box
    )
    return field.width()


def what_is_cut(view: ImageView) -> list[str]:
    cut: list[str] = []
    box = named(view, QComboBox, "Window preset")
    assert isinstance(box, QComboBox)
    if box.fontMetrics().horizontalAdvance(box.currentText()) > preset_name_room(box):
        cut.append(f"preset name {box.currentText()!r} in {preset_name_room(box)} px")
    shown = controls(view)
    for name, widget in shown.items():
        left = widget.mapTo(view, widget.rect().topLeft()).x()
        if not widget.isVisibleTo(view) or left < 0 or left + widget.width() > view.width():
            cut.append(f"{name} not in the pane")
        if widget is not box and widget.width() < widget.sizeHint().width():  # the box: its name whole
            cut.append(f"{name} squeezed to {widget.width()} of {widget.sizeHint().width()} px")
    boxes = [(n, w.geometry().translated(w.parentWidget().mapTo(view, w.parentWidget().rect().topLeft())))
             for n, w in shown.items()]  # fmt: skip
    for i, (a, ra) in enumerate(boxes):
        cut += [f"{a} over {b}" for b, rb in boxes[i + 1 :] if ra.intersects(rb)]
    return cut


def nothing_cut(view: ImageView) -> None:
    assert what_is_cut(view) == []


def with_heat_map(view: ImageView, path: Path) -> None:
    image = read_dicom(path) if path.suffix == ".dcm" else read_raster(path)
    view.set_image(image)
    values = np.linspace(0, 1, image.pixels.size, dtype=np.float32).reshape(image.pixels.shape)
    view.set_heatmap(Heatmap("Effusion", values, 0.9), threshold=0.5)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("path", [PNG, WINDOWED], ids=["PNG", "DICOM"])
def test_the_preset_name_and_every_control_are_whole_in_the_image_pane(qtbot, window, size, path):
    window.resize(*size)
    with_heat_map(window.image_view, path)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: nothing_cut(window.image_view), timeout=2000)
    expected = "Full range" if path == PNG else "Header 1"
    assert window.image_view.preset_shown() == expected


def test_a_long_preset_name_of_the_readers_is_whole(qtbot, window):
    window.resize(853, 533)
    view = window.image_view
    with_heat_map(view, PNG)
    view.set_user_presets({"Mediastinum and soft tissue": (40.0, 400.0)})
    view.apply_preset("Mediastinum and soft tissue")
    assert view.preset_shown() == "Mediastinum and soft tissue"
    qtbot.waitUntil(lambda: nothing_cut(view), timeout=2000)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_a_heat_map_arriving_or_going_does_not_move_the_image(qtbot, window, size):
    window.resize(*size)
    view = window.image_view
    view.set_image(read_raster(PNG))
    QApplication.processEvents()
    canvas = view._stack
    before = canvas.geometry()
    with_heat_map(view, PNG)
    QApplication.processEvents()
    assert named(view, QLabel, "Heat map colour scale").isVisible()
    assert canvas.geometry() == before
    view.set_heatmap(None)
    QApplication.processEvents()
    assert canvas.geometry() == before
