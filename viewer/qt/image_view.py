"""Radiograph canvas: zoom/pan, window/level by right-drag, inversion and a Grad-CAM overlay.

The grey levels come from :func:`gray_lut`; the overlay is the RGBA that :mod:`inference.render.overlay`
draws (colour map, alpha ramp, contour), the same rule as the annotated PNG and the DICOM SC.
:func:`render_rgb` composes both as the view shows them.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inference.api import Heatmap, XRayImage
from inference.render.overlay import DEFAULT_STYLE, blend, colour_bar, heat_rgba, legend_notes

log = logging.getLogger(__name__)

DRAG_GAIN = 1.0 / 512.0  # window units per screen pixel: a 512 px drag spans the full range
MIN_WIDTH = 1.0 / 1024.0
DEFAULT_OPACITY = DEFAULT_STYLE.opacity
COLOUR_BAR_SIZE = (96, 12)  # width, height of the legend beside the opacity slider

FULL_RANGE = "Full range"
DICOM_DEFAULT = "Default (DICOM window)"
AUTO = "Auto (1–99 %)"
# (centre, width) over normalised [0, 1] pixels.
FIXED_PRESETS: dict[str, tuple[float, float]] = {
    "Lung": (0.35, 0.7),
    "Soft tissue": (0.55, 0.45),
    "Bone": (0.7, 0.4),
}


def gray_lut(inverted: bool = False) -> np.ndarray:
    """256-entry uint8 grey ramp, reversed when ``inverted``."""
    ramp = np.arange(256, dtype=np.uint8)
    return ramp[::-1].copy() if inverted else ramp


def lut_index(values: np.ndarray, levels: tuple[float, float], n: int = 256) -> np.ndarray:
    """Map floats to LUT indices exactly as pyqtgraph's ImageItem does (scale by n/range, truncate)."""
    lo, hi = levels
    rng = (hi - lo) or 1.0
    scaled = (values - np.float32(lo)) * np.float32(n / rng)
    return np.clip(scaled, 0, n - 1).astype(np.uint8)


def render_rgb(
    pixels: np.ndarray,
    levels: tuple[float, float],
    inverted: bool,
    heat: np.ndarray | None = None,
    opacity: float = 0.0,
) -> np.ndarray:
    """H×W×3 uint8 of ``pixels`` as the view shows them, with ``heat`` blended at ``opacity``."""
    grey = np.repeat(gray_lut(inverted)[lut_index(pixels, levels)][:, :, None], 3, axis=2)
    if heat is None or opacity <= 0.0:
        return grey
    return blend(grey, heat_rgba(heat), opacity)


def colour_bar_pixmap() -> QPixmap:
    """The overlay's legend (:func:`inference.render.overlay.colour_bar`) as a pixmap."""
    rgb = np.ascontiguousarray(colour_bar(*COLOUR_BAR_SIZE))
    h, w = rgb.shape[:2]
    return QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


class _WindowingViewBox(pg.ViewBox):
    """ViewBox whose right-drag reports screen deltas for window/level instead of zooming."""

    windowDragged = Signal(float, float)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (Qt override)
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            d = ev.screenPos() - ev.lastScreenPos()
            self.windowDragged.emit(d.x(), d.y())
            return
        super().mouseDragEvent(ev, axis)


class ImageView(QWidget):
    """One radiograph with window/level, inversion and an optional Grad-CAM overlay."""

    cursorValueChanged = Signal(str)
    windowChanged = Signal(float, float)  # centre, width
    invertedChanged = Signal(bool)
    overlayVisibleChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: XRayImage | None = None
        self._heatmap: Heatmap | None = None
        self._center, self._width = 0.5, 1.0
        self._inverted = False
        self._overlay_visible = True
        self._build_canvas()
        self._build_controls()
        self._layout()
        self.set_image(None)

    # -- construction -----------------------------------------------------------------------
    def _build_canvas(self) -> None:
        self._graphics = pg.GraphicsView(background="k")
        self._vb = _WindowingViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self._graphics.setCentralItem(self._vb)
        self._item = pg.ImageItem(axisOrder="row-major")
        self._item.setAutoDownsample(True)
        self._item.setLookupTable(gray_lut(False))
        self._overlay = pg.ImageItem(axisOrder="row-major")
        self._overlay.setZValue(1)
        self._overlay.setOpacity(DEFAULT_OPACITY)
        self._overlay.hide()
        self._vb.addItem(self._item)
        self._vb.addItem(self._overlay)
        self._vb.windowDragged.connect(self.adjust_window)
        self._graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._message = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self._message.setStyleSheet("background: black; color: #ddd; font-size: 14pt;")
        self._stack = QStackedWidget()
        self._stack.addWidget(self._graphics)
        self._stack.addWidget(self._message)

    def _build_controls(self) -> None:
        self._presets = QComboBox(toolTip="Window/level preset (right-drag on the image adjusts it)")
        self._presets.setAccessibleName("Window preset")
        self._presets.activated.connect(lambda i: self.apply_preset(self._presets.itemText(i)))
        self._invert_button = QToolButton(text="Invert", checkable=True, toolTip="Invert grey scale")
        self._invert_button.toggled.connect(self.set_inverted)
        self._reset_button = QToolButton(text="Reset", toolTip="Reset zoom and window")
        self._reset_button.clicked.connect(self.reset_view)
        self._overlay_check = QCheckBox("Grad-CAM", checked=True, toolTip="Show the heat map overlay")
        self._overlay_check.toggled.connect(self.set_overlay_visible)
        self._opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
        self._opacity.setValue(round(DEFAULT_OPACITY * 100))
        self._opacity.setMaximumWidth(120)
        self._opacity.setAccessibleName("Overlay opacity")
        self._opacity.setToolTip("Overlay opacity")
        self._opacity.valueChanged.connect(lambda v: self._overlay.setOpacity(v / 100.0))
        self._colour_bar = QLabel(pixmap=colour_bar_pixmap())
        self._colour_bar.setToolTip(f"Grad-CAM, share of its peak, 0 (left) to 1 (right): {legend_notes()}")
        self._colour_bar.setAccessibleName("Heat map colour scale")
        self._value_label = QLabel(" ")
        self._window_label = QLabel(" ")

    def _layout(self) -> None:
        bar = QHBoxLayout()
        for w in (self._presets, self._invert_button, self._reset_button, self._overlay_check):
            bar.addWidget(w)
        bar.addWidget(self._opacity)
        bar.addWidget(self._colour_bar)
        bar.addStretch(1)
        status = QHBoxLayout()
        status.addWidget(self._value_label, 1)
        status.addWidget(self._window_label)
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.addLayout(bar)
        root.addWidget(self._stack, 1)
        root.addLayout(status)

    # -- content ----------------------------------------------------------------------------
    def set_image(self, image: XRayImage | None, message: str = "") -> None:
        """Show ``image`` at full range (no copy of its pixels), or ``message`` centred when None.

        A new image drops the previous heat map: it belonged to another radiograph.
        """
        self._image = image
        self._heatmap = None
        self._overlay.clear()
        self._overlay.hide()
        if image is None:
            self._item.clear()
            self._message.setText(message)
            self._stack.setCurrentWidget(self._message)
        else:
            self._item.setImage(image.pixels, autoLevels=False, levels=(0.0, 1.0))
            self._stack.setCurrentWidget(self._graphics)
        self._refresh_presets()
        self._update_controls()
        self.reset_view()

    def image(self) -> XRayImage | None:
        return self._image

    def message(self) -> str:
        """The text shown instead of an image ('' while an image is shown)."""
        return "" if self._image is not None else self._message.text()

    def set_heatmap(self, heatmap: Heatmap | None) -> None:
        """Overlay ``heatmap`` (same shape as the image); None removes it."""
        if heatmap is not None and (self._image is None or heatmap.values.shape != self._image.pixels.shape):
            log.warning("heat map %s does not match the shown image; not overlaid", heatmap.label)
            heatmap = None
        self._heatmap = heatmap
        if heatmap is None:
            self._overlay.clear()
        else:
            self._overlay.setImage(heat_rgba(heatmap.values), autoLevels=False)
        self._sync_overlay()
        self._update_controls()

    def heatmap(self) -> Heatmap | None:
        return self._heatmap

    # -- overlay ----------------------------------------------------------------------------
    def set_overlay_visible(self, visible: bool) -> None:
        visible = bool(visible)
        if visible == self._overlay_visible:
            return
        self._overlay_visible = visible
        self._overlay_check.setChecked(visible)
        self._sync_overlay()
        self.overlayVisibleChanged.emit(visible)

    def overlay_visible(self) -> bool:
        """Whether the overlay toggle is on (a heat map is drawn only when one is set)."""
        return self._overlay_visible

    def set_overlay_opacity(self, opacity: float) -> None:
        self._opacity.setValue(round(min(max(opacity, 0.0), 1.0) * 100))

    def overlay_opacity(self) -> float:
        return self._opacity.value() / 100.0

    def _sync_overlay(self) -> None:
        self._overlay.setVisible(self._overlay_visible and self._heatmap is not None)

    # -- grey scale -------------------------------------------------------------------------
    def set_inverted(self, inverted: bool) -> None:
        inverted = bool(inverted)
        if inverted == self._inverted:
            return
        self._inverted = inverted
        self._invert_button.setChecked(inverted)
        self._item.setLookupTable(gray_lut(inverted))
        self.invertedChanged.emit(inverted)

    def inverted(self) -> bool:
        return self._inverted

    def set_window(self, center: float, width: float) -> None:
        """Window centre and width in normalised pixel units (full range = 0.5, 1.0)."""
        self._center = float(min(max(center, -0.5), 1.5))
        self._width = float(min(max(width, MIN_WIDTH), 2.0))
        self._item.setLevels(self.levels())
        self._window_label.setText(f"W {self._width:.3f}  L {self._center:.3f}")
        self.windowChanged.emit(self._center, self._width)

    def window(self) -> tuple[float, float]:
        return self._center, self._width

    def levels(self) -> tuple[float, float]:
        """(black, white) pixel values of the current window."""
        return self._center - self._width / 2, self._center + self._width / 2

    def adjust_window(self, dx: float, dy: float) -> None:
        """Right-drag step in screen pixels: right widens the window, down raises the level."""
        self.set_window(self._center + dy * DRAG_GAIN, self._width + dx * DRAG_GAIN)

    def presets(self) -> list[str]:
        return [self._presets.itemText(i) for i in range(self._presets.count())]

    def apply_preset(self, name: str) -> None:
        if name in (FULL_RANGE, DICOM_DEFAULT):
            self.set_window(0.5, 1.0)
        elif name == AUTO:
            self.set_window(*self._auto_window())
        elif name in FIXED_PRESETS:
            self.set_window(*FIXED_PRESETS[name])
        else:
            raise KeyError(name)

    def _auto_window(self) -> tuple[float, float]:
        if self._image is None:
            return 0.5, 1.0
        px = self._image.pixels
        step = max(1, int(math.sqrt(px.size / 65536)))  # percentiles of a strided view: no full copy
        lo, hi = np.percentile(px[::step, ::step], (1.0, 99.0))
        return float(lo + hi) / 2, max(float(hi - lo), MIN_WIDTH)

    def _refresh_presets(self) -> None:
        meta = self._image.meta if self._image is not None else None
        # Pixels arrive VOI-applied and normalised, so the header window is the full range here.
        first = DICOM_DEFAULT if meta is not None and meta.window_width else FULL_RANGE
        self._presets.clear()
        self._presets.addItems([first, AUTO, *FIXED_PRESETS])

    # -- view -------------------------------------------------------------------------------
    def reset_view(self) -> None:
        """Fit the image and return to the full-range window."""
        self.set_window(0.5, 1.0)
        self._presets.setCurrentIndex(0)
        if self._image is not None:
            h, w = self._image.pixels.shape
            self._vb.setRange(xRange=(0, w), yRange=(0, h), padding=0.0)

    def _update_controls(self) -> None:
        has_image = self._image is not None
        for w in (self._presets, self._invert_button, self._reset_button):
            w.setEnabled(has_image)
        self._overlay_check.setEnabled(self._heatmap is not None)
        self._opacity.setEnabled(self._heatmap is not None)
        self._colour_bar.setVisible(self._heatmap is not None)
        self._value_label.setText(" ")

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self._image is None:
            return
        p = self._item.mapFromScene(scene_pos)
        col, row = math.floor(p.x()), math.floor(p.y())
        h, w = self._image.pixels.shape
        if 0 <= row < h and 0 <= col < w:
            text = f"x {col}  y {row}  value {float(self._image.pixels[row, col]):.3f}"
            if self._heatmap is not None:
                text += f"  CAM {float(self._heatmap.values[row, col]):.2f}"
        else:
            text = " "
        self._value_label.setText(text)
        self.cursorValueChanged.emit(text)

    def cursor_text(self) -> str:
        return self._value_label.text().strip()
