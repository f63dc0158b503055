"""ImageView: levels, inversion, window/level drag, presets, overlay, message, cursor value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent
from PySide6.QtWidgets import QApplication

from inference.api import DisplayScale, HeaderWindow, Heatmap, ImageMeta, XRayImage
from inference.render.overlay import blend, heat_rgba, smooth_map
from viewer.qt.image_canvas import render_rgb
from viewer.qt.image_view import DEFAULT_OPACITY, ImageView
from viewer.qt.window_level import FIXED_PRESETS, FULL_RANGE

REPO = Path(__file__).parent.parent.parent
SAMPLE = REPO / "resources" / "samples" / "00000001_000.png"  # NIH ChestX-ray14 demo study


def ramp(h: int = 64, w: int = 64) -> np.ndarray:
    return np.linspace(0.0, 1.0, h * w, dtype=np.float32).reshape(h, w)


def xray(pixels: np.ndarray, **meta: object) -> XRayImage:
    return XRayImage(pixels, ImageMeta(path=Path("test.png"), study_uid="1.2.3", **meta))


def real_pixels() -> np.ndarray:
    """The NIH sample as [0, 1] floats, or a synthetic chest-like gradient if it is absent."""
    if SAMPLE.exists():
        q = QImage(str(SAMPLE)).convertToFormat(QImage.Format.Format_Grayscale8)
        assert not q.isNull()
        a = np.frombuffer(q.constBits(), np.uint8).reshape(q.height(), q.bytesPerLine())[:, : q.width()]
        return (a.astype(np.float32) / 255.0).copy()
    yy, xx = np.mgrid[0:512, 0:512].astype(np.float32) / 512
    return (0.5 + 0.4 * np.sin(6 * xx) * np.cos(4 * yy)).astype(np.float32)


@pytest.fixture
def view(view: ImageView) -> ImageView:
    view._item.setAutoDownsample(False)  # compare rendered pixels 1:1
    return view


def shown_grey(view: ImageView) -> np.ndarray:
    """The grey values pyqtgraph renders for the base image item."""
    view._item.render()
    q = view._item.qimage
    return np.array([[QColor(q.pixel(x, y)).red() for x in range(q.width())] for y in range(q.height())])


def test_set_image_shows_pixels_at_full_range_without_copy(view: ImageView) -> None:
    px = ramp()
    view.set_image(xray(px))
    assert np.shares_memory(view._item.image, px)
    assert view.levels() == (0.0, 1.0)
    grey = shown_grey(view)
    assert grey[0, 0] == 0 and grey[-1, -1] == 255
    np.testing.assert_array_equal(grey, render_rgb(px, (0.0, 1.0), False)[:, :, 0])


def test_real_image_renders_like_export_path(view: ImageView) -> None:
    px = real_pixels()[::8, ::8].copy()
    view.set_image(xray(px))
    view.set_window(0.45, 0.5)
    np.testing.assert_array_equal(shown_grey(view), render_rgb(px, view.levels(), False)[:, :, 0])


def test_invert_flips_rendered_output(view: ImageView, qtbot) -> None:
    view.set_image(xray(ramp()))
    normal = shown_grey(view)
    with qtbot.waitSignal(view.invertedChanged) as sig:
        view.set_inverted(True)
    assert sig.args == [True] and view.inverted()
    np.testing.assert_array_equal(shown_grey(view), 255 - normal)
    view.set_inverted(False)
    np.testing.assert_array_equal(shown_grey(view), normal)


def _send(widget, kind: QEvent.Type, pos: QPoint, button: Qt.MouseButton, buttons: Qt.MouseButton) -> None:
    gpos = QPointF(widget.mapToGlobal(pos))
    ev = QMouseEvent(kind, QPointF(pos), gpos, button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def test_right_drag_changes_window_not_zoom(view: ImageView, qtbot) -> None:
    view.set_image(xray(ramp()))
    assert not view._vb.menuEnabled()  # the default right-click menu is replaced by windowing
    before_range = view._vb.viewRange()
    vp = view._graphics.viewport()
    start = vp.rect().center()
    right = Qt.MouseButton.RightButton
    _send(vp, QEvent.Type.MouseButtonPress, start, right, right)
    for i in range(1, 11):
        _send(vp, QEvent.Type.MouseMove, start + QPoint(10 * i, 5 * i), Qt.MouseButton.NoButton, right)
    _send(vp, QEvent.Type.MouseButtonRelease, start + QPoint(100, 50), right, Qt.MouseButton.NoButton)
    center, width = view.window()
    assert width > 1.0  # dragged right: wider
    assert center > 0.5  # dragged down: higher level
    assert view._vb.viewRange() == before_range
    assert view._item.levels is not None and tuple(view._item.levels) == pytest.approx(view.levels())


def test_adjust_window_darkens_mid_grey(view: ImageView) -> None:
    px = np.full((8, 8), 0.5, np.float32)
    view.set_image(xray(px))
    mid = shown_grey(view)[0, 0]
    view.adjust_window(0, 64)  # level up: the same pixel is darker
    assert shown_grey(view)[0, 0] < mid
    view.adjust_window(-100000, 0)  # width never collapses to zero
    assert view.window()[1] > 0


def test_presets_and_reset(view: ImageView) -> None:
    view.set_image(xray(ramp()))
    assert view.presets()[0] == "Full range"
    view.apply_preset("Bone")
    assert view.window() == pytest.approx(FIXED_PRESETS["Bone"])
    view.apply_preset("Auto (1–99 %)")
    lo, hi = view.levels()
    assert 0.0 < lo < 0.05 and 0.95 < hi < 1.0
    view._vb.scaleBy((0.25, 0.25))
    view.reset_view()
    assert view.levels() == (0.0, 1.0)
    (x0, x1), _ = view._vb.viewRange()
    assert x1 - x0 >= 64
    windowed = DisplayScale(-1024.0, 3072.0, (HeaderWindow(1024.0, 4096.0),))  # pixels made with it
    view.set_image(XRayImage(ramp(), ImageMeta(path=Path("t.dcm"), study_uid="1"), display=windowed))
    assert view.presets()[0] == "Header 1" and FULL_RANGE not in view.presets()
    with pytest.raises(KeyError):
        view.apply_preset("nope")


def test_overlay_toggle_and_new_image_drops_heatmap(view: ImageView, qtbot) -> None:
    view.set_image(xray(ramp()))
    view.set_heatmap(Heatmap("Effusion", ramp(), 0.8))
    assert view.overlay_visible() and view._overlay.isVisible()
    with qtbot.waitSignal(view.overlayVisibleChanged):
        view.set_overlay_visible(False)
    assert not view._overlay.isVisible() and not view._overlay_check.isChecked()
    view._overlay_check.setChecked(True)  # the in-widget toggle drives the same state
    assert view.overlay_visible() and view._overlay.isVisible()
    view.set_image(xray(ramp()))
    assert view.heatmap() is None and not view._overlay.isVisible()


def test_opacity_slider_sets_overlay_opacity(view: ImageView) -> None:
    view.set_image(xray(ramp()))
    view.set_heatmap(Heatmap("Effusion", ramp(), 0.8))
    view._opacity.setValue(80)
    assert view.overlay_opacity() == pytest.approx(0.8)
    assert view._overlay.opacity() == pytest.approx(0.8)


def test_mismatched_heatmap_is_not_overlaid(view: ImageView) -> None:
    view.set_image(xray(ramp(64, 64)))
    view.set_heatmap(Heatmap("Mass", ramp(32, 32), 0.7))
    assert view.heatmap() is None and not view._overlay.isVisible()


def test_message_instead_of_image(view: ImageView) -> None:
    view.set_image(None, "Not scored: lateral view")
    assert view.message() == "Not scored: lateral view"
    assert view._message.isVisible() and not view._graphics.isVisible()
    view.set_image(xray(ramp()))
    assert view.message() == "" and view._graphics.isVisible()


def test_pixel_value_under_cursor(view: ImageView, qtbot) -> None:
    px = ramp()
    view.set_image(xray(px))
    qtbot.wait(10)
    scene_pt = view._item.mapToScene(QPointF(10.5, 20.5))
    vp_pt = view._graphics.mapFromScene(scene_pt)
    with qtbot.waitSignal(view.cursorValueChanged) as sig:
        qtbot.mouseMove(view._graphics.viewport(), vp_pt)
    assert f"value {px[20, 10]:.3f}" in sig.args[0]
    assert "x 10  y 20" in view.cursor_text()


def test_large_image_is_not_copied(view: ImageView) -> None:
    px = np.random.default_rng(0).random((2000, 2000), dtype=np.float32)
    view._item.setAutoDownsample(True)
    view.set_image(xray(px))
    view.repaint()
    assert np.shares_memory(view._item.image, px)


def test_overlay_shows_the_shared_rule_rgba_and_its_colour_bar(view: ImageView) -> None:
    px = ramp()
    values = np.zeros_like(px)
    values[8:56, 8:56] = smooth_map(np.eye(5, dtype=np.float32) + 0.1, 48, 48)
    view.set_image(xray(px))
    assert not view._colour_bar.isVisible()
    view.set_heatmap(Heatmap("Effusion", values, 0.8))
    rgba = heat_rgba(values)
    np.testing.assert_array_equal(view._overlay.image, rgba)  # what the PNG and the DICOM SC draw
    view._overlay.render()
    q = view._overlay.qimage
    y, x = np.unravel_index(np.argmax(values), values.shape)
    shown = QColor.fromRgba(q.pixel(int(x), int(y)))
    assert (shown.red(), shown.green(), shown.blue(), shown.alpha()) == tuple(rgba[y, x])
    assert view._colour_bar.isVisible()
    grey = np.repeat(render_rgb(px, (0.0, 1.0), False)[:, :, :1], 3, axis=2)
    np.testing.assert_array_equal(
        render_rgb(px, (0.0, 1.0), False, values, DEFAULT_OPACITY), blend(grey, rgba, DEFAULT_OPACITY)
    )
