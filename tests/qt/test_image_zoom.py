"""Zoom: fit, 1:1, ± by keys, double-click fit, and the zoom shown in the readout (issue #22, problem 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from inference.api import ImageMeta, XRayImage
from inference.io.raster import read_raster
from viewer.qt.image_view import ZOOM_STEP, ImageView

PNG = Path(__file__).parents[2] / "resources" / "samples" / "00000001_000.png"  # NIH, 512 x 512


def fit_zoom(view: ImageView) -> float:
    h, w = view.image().pixels.shape
    rect = view._vb.rect()
    return min(rect.width() / w, rect.height() / h) * view.devicePixelRatioF()


def test_fit_shows_the_whole_image_and_its_zoom(view: ImageView) -> None:
    view.set_image(read_raster(PNG))
    zoom = view.zoom()
    assert zoom == pytest.approx(fit_zoom(view), rel=1e-3)
    assert zoom != pytest.approx(1.0)
    assert view.window_text().endswith(f" · {zoom * 100:.0f}%")


def test_actual_size_zoom_steps_and_fit(view: ImageView) -> None:
    view.set_image(read_raster(PNG))
    view.actual_size()
    assert view.zoom() == pytest.approx(1.0, rel=1e-3)
    assert view.window_text().endswith(" · 100%")
    view.zoom_in(1)
    assert view.zoom() == pytest.approx(ZOOM_STEP, rel=1e-3)
    view.zoom_in(-2)
    assert view.zoom() == pytest.approx(1 / ZOOM_STEP, rel=1e-3)
    view.fit()
    assert view.zoom() == pytest.approx(fit_zoom(view), rel=1e-3)


def test_double_click_fits(view: ImageView, qtbot) -> None:
    view.set_image(read_raster(PNG))
    view.zoom_in(3)
    assert view.zoom() > fit_zoom(view) * 1.5
    vp = view._graphics.viewport()
    pos = QPointF(vp.rect().center())
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    # what a window system sends for a double-click (QTest.mouseDClick adds a second press)
    for kind, buttons in (
        (QEvent.Type.MouseButtonPress, left),
        (QEvent.Type.MouseButtonRelease, none),
        (QEvent.Type.MouseButtonDblClick, left),
        (QEvent.Type.MouseButtonRelease, none),
    ):
        event = QMouseEvent(kind, pos, vp.mapToGlobal(pos), left, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(vp, event)
    qtbot.waitUntil(lambda: view.zoom() == pytest.approx(fit_zoom(view), rel=1e-3), timeout=2000)


def test_zoom_keys_in_the_main_window(qtbot, window) -> None:
    from test_main_window import open_and_score, wait_image

    open_and_score(qtbot, window, "2")
    wait_image(qtbot, window)
    window.activateWindow()
    window.worklist.table.setFocus()
    qtbot.waitUntil(window.worklist.table.hasFocus, timeout=2000)
    view, table = window.image_view, window.worklist.table
    fitted = view.zoom()
    qtbot.keyClick(table, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom() == pytest.approx(1.0, rel=1e-3)
    qtbot.keyClick(table, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom() == pytest.approx(ZOOM_STEP, rel=1e-3)
    qtbot.keyClick(table, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom() == pytest.approx(1.0, rel=1e-3)
    qtbot.keyClick(table, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom() == pytest.approx(fitted, rel=1e-3)
    qtbot.keyClick(table, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(table, Qt.Key.Key_F)  # F fits too
    assert view.zoom() == pytest.approx(fitted, rel=1e-3)


def test_no_zoom_without_an_image(view: ImageView) -> None:
    view.set_image(XRayImage(np.zeros((8, 8), np.float32), ImageMeta(path=Path("x.png"), study_uid="1")))
    view.set_image(None, "Loading…")
    view.zoom_in(1)
    view.actual_size()
    assert view.zoom() is None and view.window_text().strip() == ""
