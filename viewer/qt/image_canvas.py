"""What the radiograph canvas draws and how the mouse drives it: the grey ramp (:func:`gray_lut`), the
overlay's RGBA from :mod:`inference.render.overlay` (colour map, alpha ramp, contour), both composed as
the view shows them (:func:`render_rgb`), the legend, and a view box whose right-drag sets the window."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap

from inference.render.overlay import blend, colour_bar, heat_rgba

COLOUR_BAR_SIZE = (96, 12)  # width, height of the legend beside the opacity slider


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


class WindowingViewBox(pg.ViewBox):
    """ViewBox whose right-drag reports screen deltas for window/level instead of zooming, and whose
    double-click asks to fit the image."""

    windowDragged = Signal(float, float)
    fitRequested = Signal()

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (Qt override)
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            d = ev.screenPos() - ev.lastScreenPos()
            self.windowDragged.emit(d.x(), d.y())
            return
        super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev):  # noqa: N802 (pyqtgraph override)
        if ev.double() and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.fitRequested.emit()
            return
        super().mouseClickEvent(ev)
