"""Radiograph canvas: zoom/pan, window/level by right-drag or keys, inversion and a Grad-CAM overlay.

The grey levels and the overlay are drawn as :mod:`viewer.qt.image_canvas` says (the same rule as the
annotated PNG and the DICOM SC). The window is kept over the normalised
pixels and shown in the image's own units (:mod:`viewer.qt.window_level`); a map of a finding below
its threshold is drawn faintly and every map is named on the image (:mod:`viewer.qt.heat_overlay`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QSlider,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inference.api import Heatmap, XRayImage
from inference.render.overlay import DEFAULT_STYLE, heat_rgba, legend_notes
from viewer.qt import heat_overlay
from viewer.qt.flow_layout import FlowLayout
from viewer.qt.image_canvas import WindowingViewBox, colour_bar_pixmap, gray_lut
from viewer.qt.window_level import format_value, readout, scale_of, to_normalised, to_units
from viewer.qt.window_presets import FULL, WindowPresets

log = logging.getLogger(__name__)

DRAG_GAIN = 1.0 / 512.0  # window units per screen pixel: a 512 px drag spans the full range
MIN_WIDTH = 1.0 / 1024.0
MAX_WIDTH = 64.0  # normalised: a header window far wider than the applied one still fits
CENTER_LIMIT = 64.0  # normalised centre within ±this: a header window outside the pixels still applies
WIDTH_STEP = 1.1  # one key press widens or narrows the window by this factor
LEVEL_STEP = 0.05  # one key press moves the level by this share of the window width
ZOOM_STEP = 1.25
DEFAULT_OPACITY = DEFAULT_STYLE.opacity
# What the mouse does on the image, for the shortcut table (F1).
MOUSE_ACTIONS: tuple[tuple[str, str], ...] = (
    ("Wheel", "Zoom in or out at the pointer"),
    ("Left-drag", "Pan the image"),
    ("Right-drag", "Window/level: right/left widens/narrows the window, down/up raises/lowers the level"),
    ("Double-click", "Fit the image to the pane"),
)


class ImageView(QWidget):
    """One radiograph with window/level, inversion and an optional Grad-CAM overlay."""

    cursorValueChanged = Signal(str)
    windowChanged = Signal(float, float)  # centre, width
    invertedChanged = Signal(bool)
    overlayVisibleChanged = Signal(bool)
    userPresetsChanged = Signal(dict)  # name -> (level, width) in image units

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: XRayImage | None = None
        self._heatmap: Heatmap | None = None
        self._threshold: float | None = None  # of the heat map's finding
        self._full_strength = False  # below-threshold maps drawn like the others
        self._center, self._width = FULL
        self._inverted = False
        self._overlay_visible = True
        self._build_canvas()
        self._build_controls()
        self._layout()
        self.set_image(None)

    # -- construction -----------------------------------------------------------------------
    def _build_canvas(self) -> None:
        self._graphics = pg.GraphicsView(background="k")
        self._vb = WindowingViewBox(lockAspect=True, invertY=True, enableMenu=False)
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
        self._vb.fitRequested.connect(self.fit)
        self._vb.sigTransformChanged.connect(self._update_readout)
        self._graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._heat_label = QLabel(self._graphics)  # names the map on the image
        self._heat_label.setStyleSheet("background: rgba(0, 0, 0, 160); color: white; padding: 2px 6px;")
        self._heat_label.move(6, 6)
        self._heat_label.raise_()
        self._heat_label.setAccessibleName("Heat map shown")
        self._heat_label.hide()
        self._message = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self._message.setStyleSheet("background: black; color: #ddd; font-size: 14pt;")
        self._stack = QStackedWidget()
        self._stack.addWidget(self._graphics)
        self._stack.addWidget(self._message)

    def _build_controls(self) -> None:
        self._presets = WindowPresets()
        self._presets.chosen.connect(self.set_window)
        self._presets.saveRequested.connect(self.save_preset_dialog)
        self._presets.userPresetsChanged.connect(self.userPresetsChanged)
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
        self._opacity.valueChanged.connect(lambda _value: self._sync_overlay())
        self._colour_bar = QLabel(pixmap=colour_bar_pixmap())
        self._colour_bar.setToolTip(f"Grad-CAM, share of its peak, 0 (left) to 1 (right): {legend_notes()}")
        self._colour_bar.setAccessibleName("Heat map colour scale")
        self._value_label = QLabel(" ")
        self._window_label = QLabel(" ")

    def _layout(self) -> None:
        bar = FlowLayout()  # wraps in a narrow pane rather than squeezing the preset's name
        for w in (self._presets, self._invert_button, self._reset_button, self._overlay_check):
            bar.addWidget(w)
        bar.addWidget(self._opacity)
        bar.addWidget(self._colour_bar)
        keep_place = self._colour_bar.sizePolicy()
        keep_place.setRetainSizeWhenHidden(True)  # a heat map arriving moves nothing
        self._colour_bar.setSizePolicy(keep_place)
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
        self._sync_overlay()
        if image is None:
            self._item.clear()
            self._message.setText(message)
            self._stack.setCurrentWidget(self._message)
        else:
            self._item.setImage(image.pixels, autoLevels=False, levels=(0.0, 1.0))
            self._stack.setCurrentWidget(self._graphics)
        self._presets.rebuild(scale_of(image), self._auto_window(), self.window())
        self._update_controls()
        self.reset_view()

    def image(self) -> XRayImage | None:
        return self._image

    def message(self) -> str:
        """The text shown instead of an image ('' while an image is shown)."""
        return "" if self._image is not None else self._message.text()

    def set_heatmap(self, heatmap: Heatmap | None, threshold: float | None = None) -> None:
        """Overlay ``heatmap`` (same shape as the image) of a finding with ``threshold`` (None: unknown,
        drawn as a positive one); None removes it."""
        if heatmap is not None and (self._image is None or heatmap.values.shape != self._image.pixels.shape):
            log.warning("heat map %s does not match the shown image; not overlaid", heatmap.label)
            heatmap = None
        self._heatmap = heatmap
        self._threshold = threshold
        self._draw_heatmap()
        self._update_controls()

    def set_threshold(self, threshold: float | None) -> None:
        """The reader moved the shown finding's threshold: redraw its map faintly or fully."""
        if threshold != self._threshold:
            self._threshold = threshold
            self._draw_heatmap()

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

    def set_full_strength(self, on: bool) -> None:
        """Draw a below-threshold finding's map like any other (the reader asked for it)."""
        self._full_strength = bool(on)
        self._draw_heatmap()

    def faint(self) -> bool:
        """Whether the map shown is drawn faintly (its finding is below its threshold)."""
        return (
            self._heatmap is not None
            and not self._full_strength
            and heat_overlay.below_threshold(self._heatmap, self._threshold)
        )

    def heat_caption(self) -> str:
        """The label on the image naming the map shown ('' when none is shown)."""
        return self._heat_label.text() if self._heat_label.isVisibleTo(self) else ""

    def _draw_heatmap(self) -> None:
        if self._heatmap is None:
            self._overlay.clear()
        else:
            style = heat_overlay.FAINT_STYLE if self.faint() else DEFAULT_STYLE
            self._overlay.setImage(heat_rgba(self._heatmap.values, style), autoLevels=False)
            self._heat_label.setText(heat_overlay.caption(self._heatmap, self._threshold))
            self._heat_label.adjustSize()
        self._sync_overlay()

    def _sync_overlay(self) -> None:
        shown = self._overlay_visible and self._heatmap is not None
        opacity = self.overlay_opacity()
        self._overlay.setOpacity(min(opacity, heat_overlay.FAINT_OPACITY) if self.faint() else opacity)
        self._overlay.setVisible(shown)
        self._heat_label.setVisible(shown)

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
        """Window centre and width in normalised pixel units (full range = 0.5, 1.0); the preset box
        names the preset it matches, else says Custom."""
        self._center = float(min(max(center, -CENTER_LIMIT), 1.0 + CENTER_LIMIT))
        self._width = float(min(max(width, MIN_WIDTH), MAX_WIDTH))
        self._item.setLevels(self.levels())
        self._update_readout()
        self._presets.show_window(self.window())
        self.windowChanged.emit(self._center, self._width)

    def window(self) -> tuple[float, float]:
        return self._center, self._width

    def set_window_units(self, level: float, width: float) -> None:
        """Window level and width in the image's own units (DICOM modality values, 0-255, …)."""
        self.set_window(*to_normalised(scale_of(self._image), level, width))

    def window_units(self) -> tuple[float, float]:
        """(level, width) in the image's own units."""
        return to_units(scale_of(self._image), self._center, self._width)

    def window_text(self) -> str:
        """The readout under the image: 'W 5310 L 2725 · 37%'."""
        return self._window_label.text()

    def widen_window(self, steps: int = 1) -> None:
        """Keyboard W/L: widen (positive) or narrow (negative) the window."""
        self.set_window(self._center, self._width * WIDTH_STEP**steps)

    def raise_level(self, steps: int = 1) -> None:
        """Keyboard W/L: raise (positive, darker) or lower (negative) the level."""
        self.set_window(self._center + steps * LEVEL_STEP * self._width, self._width)

    def levels(self) -> tuple[float, float]:
        """(black, white) pixel values of the current window."""
        return self._center - self._width / 2, self._center + self._width / 2

    def adjust_window(self, dx: float, dy: float) -> None:
        """Right-drag step in screen pixels: right widens the window, down raises the level."""
        self.set_window(self._center + dy * DRAG_GAIN, self._width + dx * DRAG_GAIN)

    def presets(self) -> list[str]:
        return self._presets.names()

    def preset_shown(self) -> str:
        """The preset box's text: the preset the window matches, or Custom."""
        return self._presets.shown()

    def apply_preset(self, name: str) -> None:
        self._presets.apply(name)

    # -- the reader's own presets, in the image's units (settings keep them) -----------------
    def set_user_presets(self, presets: Mapping[str, Sequence[float]]) -> None:
        self._presets.set_user_presets(presets)

    def user_presets(self) -> dict[str, tuple[float, float]]:
        return self._presets.user_presets()

    def save_preset(self, name: str) -> bool:
        """Keep the current window as ``name`` (False for an empty name or a built-in preset's)."""
        return self._presets.save(name, *self.window_units())

    def delete_shown_preset(self) -> None:
        self._presets.delete_shown()

    def save_preset_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "Save window preset", f"Name for {self.window_text()}:")
        if ok and not self.save_preset(name):
            self._window_label.setText(f"Not saved: {name.strip() or 'no name'} is not a name for a preset")

    def _auto_window(self) -> tuple[float, float]:
        if self._image is None:
            return 0.5, 1.0
        px = self._image.pixels
        step = max(1, int(math.sqrt(px.size / 65536)))  # percentiles of a strided view: no full copy
        lo, hi = np.percentile(px[::step, ::step], (1.0, 99.0))
        return float(lo + hi) / 2, max(float(hi - lo), MIN_WIDTH)

    # -- view -------------------------------------------------------------------------------
    def reset_view(self) -> None:
        """Fit the image and return to the window its pixels were made with (the full range)."""
        self.set_window(*FULL)
        self.fit()

    def fit(self) -> None:
        """The whole image in the pane."""
        if self._image is not None:
            h, w = self._image.pixels.shape
            self._vb.setRange(xRange=(0, w), yRange=(0, h), padding=0.0)

    def actual_size(self) -> None:
        """1:1: one image pixel per screen pixel, about the centre of the view."""
        if self._image is None:
            return
        (x0, x1), (y0, y1) = self._vb.viewRange()
        rect = self._vb.rect()
        ratio = self.devicePixelRatioF()
        half_w, half_h = rect.width() * ratio / 2, rect.height() * ratio / 2
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        self._vb.setRange(xRange=(cx - half_w, cx + half_w), yRange=(cy - half_h, cy + half_h), padding=0.0)

    def zoom_in(self, steps: int = 1) -> None:
        """Zoom about the centre of the view; negative steps zoom out."""
        if self._image is not None:
            factor = ZOOM_STEP**-steps
            self._vb.scaleBy((factor, factor))

    def zoom(self) -> float | None:
        """Screen pixels per image pixel (1.0 = 100 %), None without an image."""
        if self._image is None:
            return None
        size = self._vb.viewPixelSize()[0]  # image pixels per (logical) screen pixel
        return self.devicePixelRatioF() / size if size > 0 else None

    def _update_readout(self) -> None:
        if self._image is None:
            self._window_label.setText(" ")
            return
        self._window_label.setText(readout(scale_of(self._image), self._center, self._width, self.zoom()))

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
            scale = scale_of(self._image)  # the value in the image's units, as the window's
            value = format_value(scale.to_units(float(self._image.pixels[row, col])), scale.span)
            text = f"x {col}  y {row}  value {value}"
            if self._heatmap is not None:
                text += f"  CAM {float(self._heatmap.values[row, col]):.2f}"
        else:
            text = " "
        self._value_label.setText(text)
        self.cursorValueChanged.emit(text)

    def cursor_text(self) -> str:
        return self._value_label.text().strip()
