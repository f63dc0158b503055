"""Burned-in PNG export of the image as shown, with a provenance band (DOMAIN.md "Export conventions").

The pixels are rendered with the view's own levels, inversion and overlay colour map (not a
screen grab, which is unreliable offscreen), then an annotation band is painted under them.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter

from viewer.qt.image_view import ImageView, render_rgb

NOT_FOR_DIAGNOSIS = "NOT FOR DIAGNOSTIC USE"
MAX_SIDE = 1024
HASH_CHARS = 12


@dataclass(frozen=True)
class ExportInfo:
    """What the band says; ``patient_id`` is printed only when not None."""

    finding: str | None
    probability: float | None
    threshold: float | None
    model_name: str
    weights_sha256: str
    patient_id: str | None
    timestamp: str
    cam_method: str | None


def band_lines(info: ExportInfo, view: ImageView, overlay_drawn: bool) -> list[str]:
    """The annotation text, one entry per line; the last line is the disclaimer."""
    if info.finding is None:
        first = "No finding selected"
    else:
        p = "—" if info.probability is None else f"{info.probability:.3f}"
        first = f"{info.finding.replace('_', ' ')}   p = {p}"
        if info.threshold is not None:
            first += f"   threshold {info.threshold:.3f}"
            if info.probability is not None:
                first += "   POSITIVE" if info.probability >= info.threshold else "   negative"
    weights = info.weights_sha256[:HASH_CHARS] or "unknown"
    cam = (info.cam_method or "unknown method") if overlay_drawn else "overlay off"
    center, width = view.window()
    third = f"{info.timestamp}   W/L {width:.2f}/{center:.2f}" + ("   inverted" if view.inverted() else "")
    lines = [first, f"Model {info.model_name}   weights {weights}   CAM: {cam}", third]
    if info.patient_id is not None:
        lines.append(f"Patient ID: {info.patient_id}")
    return [*lines, NOT_FOR_DIAGNOSIS]


def render_view(view: ImageView, max_side: int = MAX_SIDE) -> tuple[QImage, bool]:
    """The image as shown (levels, inversion, visible overlay), scaled to at most ``max_side``.

    Returns the image and whether the overlay was drawn.
    """
    image = view.image()
    if image is None:
        raise ValueError("no image to export")
    heatmap = view.heatmap()
    heat = heatmap.values if view.overlay_visible() and heatmap is not None else None
    rgb = np.ascontiguousarray(
        render_rgb(image.pixels, view.levels(), view.inverted(), heat, view.overlay_opacity())
    )
    h, w = rgb.shape[:2]
    qimage = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    if max(h, w) > max_side:
        qimage = qimage.scaled(
            max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    else:
        qimage = qimage.copy()  # detach from the numpy buffer
    return qimage, heat is not None and view.overlay_opacity() > 0


def compose(picture: QImage, lines: list[str]) -> QImage:
    """``picture`` above a black band carrying ``lines``, word-wrapped (disclaimer last, in amber)."""
    w = picture.width()
    pad = max(4, round(w / 100))
    text_w = max(1, w - 2 * pad)
    flags = Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap
    fonts, rects = [], []
    for i in range(len(lines)):
        font = QFont()
        font.setPixelSize(max(12, round(w / 52)))
        font.setBold(i == 0 or i == len(lines) - 1)
        fonts.append(font)
        rects.append(QFontMetrics(font).boundingRect(QRect(0, 0, text_w, 100000), flags, lines[i]))
    out = QImage(w, picture.height() + sum(r.height() for r in rects) + 2 * pad, QImage.Format.Format_RGB32)
    out.fill(QColor("black"))
    qp = QPainter(out)
    qp.drawImage(0, 0, picture)
    y = picture.height() + pad
    for i, (text, font, rect) in enumerate(zip(lines, fonts, rects, strict=True)):
        qp.setFont(font)
        qp.setPen(QColor("#ffb000") if i == len(lines) - 1 else QColor("white"))
        qp.drawText(QRect(pad, y, text_w, rect.height()), flags, text)
        y += rect.height()
    qp.end()
    return out


def export_view(view: ImageView, info: ExportInfo, folder: Path, max_side: int = MAX_SIDE) -> Path:
    """Write the annotated PNG into ``folder`` (created) under a name free of patient data."""
    picture, overlay_drawn = render_view(view, max_side)
    lines = band_lines(info, view, overlay_drawn)
    out = compose(picture, lines)
    out.setText("Software", "CXR Triage")
    out.setText("Description", " | ".join(lines))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    while True:
        path = folder / f"cxr-{stamp}-{uuid.uuid4().hex[:8]}.png"
        if not path.exists():
            break
    tmp = path.with_suffix(".part")
    if not out.save(str(tmp), "PNG"):
        raise OSError(f"could not write {path}")
    os.replace(tmp, path)
    return path
