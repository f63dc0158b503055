"""Small grey thumbnails of radiographs: made on a worker thread (:func:`shrink`), shown as icons on
the GUI thread (:func:`grey_icon`)."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QIcon, QImage, QPixmap

THUMBNAIL = 96  # pixels, longer side


def shrink(pixels: np.ndarray, longest: int = THUMBNAIL) -> np.ndarray:
    """``pixels`` (float in [0, 1]) as 8-bit grey whose longer side is ``longest``."""
    scale = longest / max(pixels.shape)
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8))


def grey_icon(pixels: np.ndarray) -> QIcon:
    """An icon of 8-bit grey ``pixels`` (copied: the array may go)."""
    h, w = pixels.shape
    image = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QIcon(QPixmap.fromImage(image))
