"""Burned-in annotated PNGs for headless triage: image, heatmap, findings, model, disclaimer."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from inference.api import Heatmap, ModelCard, RankedStudy, XRayImage
from inference.io.atomic import write_bytes_atomic
from inference.io.marker import mark
from inference.render.overlay import DEFAULT_STYLE, OverlayStyle, blend, colour_bar, heat_rgba, legend_notes

MAX_SIDE = 1024
FONT = cv2.FONT_HERSHEY_SIMPLEX
DISCLAIMER = "NOT FOR DIAGNOSTIC USE"


def render(
    image: XRayImage,
    heatmap: Heatmap | None,
    study: RankedStudy,
    card: ModelCard,
    thresholds: Mapping[str, float],
    style: OverlayStyle = DEFAULT_STYLE,
) -> np.ndarray:
    """BGR uint8: the image (heatmap drawn by :mod:`inference.render.overlay`'s rule), its colour bar, and a
    text panel."""
    size = _canvas_size(image.pixels.shape)
    gray = cv2.resize(image.pixels, size, interpolation=cv2.INTER_AREA)
    canvas = cv2.cvtColor(np.clip(gray * 255, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    parts = [canvas]
    if heatmap is not None:
        heat = cv2.resize(heatmap.values, size, interpolation=cv2.INTER_AREA)
        bgra = heat_rgba(heat, style)[:, :, [2, 1, 0, 3]]
        parts = [blend(canvas, bgra, style.opacity), _legend(canvas.shape[1], style)]
    return np.vstack([*parts, _panel(canvas.shape[1], heatmap, study, card, thresholds)])


def _canvas_size(shape: tuple[int, ...]) -> tuple[int, int]:
    """(width, height) scaled so the longer side is at most ``MAX_SIDE``; never 0 (OpenCV refuses 0)."""
    scale = min(1.0, MAX_SIDE / max(shape[:2]))
    return max(1, round(shape[1] * scale)), max(1, round(shape[0] * scale))


def _font_scale(width: int) -> float:
    return max(0.4, width / 1400)


def _legend(width: int, style: OverlayStyle) -> np.ndarray:
    """BGR strip under the image: the colour bar, then what its ends, floor and contour mean."""
    font_scale = _font_scale(width)
    step = int(30 * font_scale) + 6
    strip = np.full((step + 8, width, 3), 24, np.uint8)
    caption = f"Grad-CAM, share of its peak, 0 to 1: {legend_notes(style)}"
    (_, text_h), _ = cv2.getTextSize(caption, FONT, font_scale, 1)
    bar_w = max(0, min(width // 4, width - 8))
    strip[step - text_h : step, 8 : 8 + bar_w] = colour_bar(bar_w, text_h, style)[:, :, ::-1]
    cv2.putText(strip, caption, (16 + bar_w, step), FONT, font_scale, (220, 220, 220), 1, cv2.LINE_AA)
    return strip


def _panel(
    width: int, heatmap: Heatmap | None, study: RankedStudy, card: ModelCard, thresholds: Mapping[str, float]
) -> np.ndarray:
    probs = study.result.probabilities
    lines = [
        (f"Heatmap: {heatmap.label} ({heatmap.method})" if heatmap else "Heatmap: none", (255, 255, 255)),
        *(
            (
                f"{name}: p={probs[name]:.3f}  threshold={thresholds[name]:.3f}"
                + ("  POSITIVE" if name in study.positive_findings else ""),
                (80, 180, 255) if name in study.positive_findings else (220, 220, 220),
            )
            for name in card.shown_labels
            if name in probs
        ),
        (f"Model: {card.name} {card.version}  weights sha256 {card.weights_sha256[:12]}", (220, 220, 220)),
        (DISCLAIMER, (0, 200, 255)),
    ]
    font_scale = _font_scale(width)
    step = int(30 * font_scale) + 6
    panel = np.full((step * len(lines) + 10, width, 3), 24, np.uint8)
    for i, (text, colour) in enumerate(lines):
        cv2.putText(panel, text, (8, step * (i + 1)), FONT, font_scale, colour, 1, cv2.LINE_AA)
    return panel


def write_png(bgr: np.ndarray, path: Path) -> Path:
    """Encode in memory and write bytes, so non-ASCII paths work everywhere; atomically, so a full
    disk leaves no half PNG (:mod:`inference.io.atomic`). An image that cannot be encoded is a
    ``ValueError``; an ``OSError`` is the disk's.

    The PNG carries the product's mark (:mod:`inference.io.marker`): a later scan of the folder skips it.
    """
    ok, encoded = cv2.imencode(".png", bgr)
    if not ok:
        raise ValueError(f"could not encode {path.name}")
    return write_bytes_atomic(path, mark(encoded.tobytes()))
