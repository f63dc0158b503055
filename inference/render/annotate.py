"""Burned-in annotated images (headless triage, the viewer's export, the DICOM Secondary Capture): the
image at full resolution with its heat map, and bands below it naming the finding the map shows, every
finding's probability and threshold, the model and the disclaimer, wrapped whole to the image's width."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from inference.api import Heatmap, ModelCard, RankedStudy, XRayImage
from inference.io.atomic import write_bytes_atomic
from inference.io.marker import mark
from inference.render.overlay import DEFAULT_STYLE, OverlayStyle, blend, colour_bar, heat_rgba, legend_notes

FONT = cv2.FONT_HERSHEY_SIMPLEX
DISCLAIMER = "NOT FOR DIAGNOSTIC USE"
MARGIN = 8  # pixels of background left and right of every caption line
BACKGROUND = 24  # the caption bands' grey
WHITE, GREY, ORANGE, AMBER = (255, 255, 255), (220, 220, 220), (80, 180, 255), (0, 200, 255)  # BGR


def render(
    image: XRayImage,
    heatmap: Heatmap | None,
    study: RankedStudy,
    card: ModelCard,
    thresholds: Mapping[str, float],
    style: OverlayStyle = DEFAULT_STYLE,
) -> np.ndarray:
    """BGR uint8: the image at its full resolution (heatmap drawn by :mod:`inference.render.overlay`'s
    rule), then bands below it: the colour bar and the caption, wrapped whole to the image's width."""
    height, width = image.pixels.shape[:2]
    canvas = cv2.cvtColor(np.clip(image.pixels * 255, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    parts = [canvas]
    if heatmap is not None:
        heat = heatmap.values
        if heat.shape[:2] != (height, width):
            heat = cv2.resize(heat, (width, height), interpolation=cv2.INTER_LINEAR)
        bgra = heat_rgba(heat, style)[:, :, [2, 1, 0, 3]]
        parts = [blend(canvas, bgra, style.opacity), _legend(width, heatmap.label, style)]
    return np.vstack([*parts, _panel(width, heatmap, study, card, thresholds)])


def caption_lines(
    heatmap: Heatmap | None,
    study: RankedStudy,
    card: ModelCard,
    thresholds: Mapping[str, float],
    width: int,
) -> list[str]:
    """The caption under an image ``width`` pixels wide, wrapped to it: first the finding whose heat
    map is drawn (or none), then every finding's probability and threshold, the model and the
    disclaimer."""
    return [line for text, _ in _caption(heatmap, study, card, thresholds) for line in _wrap(text, width)]


def _caption(
    heatmap: Heatmap | None, study: RankedStudy, card: ModelCard, thresholds: Mapping[str, float]
) -> list[tuple[str, tuple[int, int, int]]]:
    probs = study.result.probabilities
    drawn = heatmap.label if heatmap is not None else None
    lines = [(_heat_map_line(heatmap, probs, thresholds), WHITE)]
    for name in card.shown_labels:
        if name in probs:
            positive = name in study.positive_findings
            text = f"{name}: p={probs[name]:.3f}  threshold={thresholds[name]:.3f}"
            text += ("  POSITIVE" if positive else "") + ("  (heat map)" if name == drawn else "")
            lines.append((text, ORANGE if positive else GREY))
    lines.append((f"Model: {card.name} {card.version}  weights sha256 {card.weights_sha256[:12]}", GREY))
    lines.append((DISCLAIMER, AMBER))
    return lines


def _heat_map_line(
    heatmap: Heatmap | None, probs: Mapping[str, float], thresholds: Mapping[str, float]
) -> str:
    if heatmap is None:
        return "Heat map: none"
    p, threshold = probs.get(heatmap.label), thresholds.get(heatmap.label)
    figures = ""
    if p is not None and threshold is not None:
        side = "at or above" if p >= threshold else "below"
        figures = f", p={p:.3f}, {side} its threshold {threshold:.3f}"
    return f"Heat map: {heatmap.label}{figures} ({heatmap.method})"


def _font_scale(width: int) -> float:
    return max(0.4, width / 1400)


def _step(font_scale: float) -> int:
    return int(30 * font_scale) + 6


def _text_width(text: str, font_scale: float) -> int:
    return cv2.getTextSize(text, FONT, font_scale, 1)[0][0]


def _wrap(text: str, width: int, font_scale: float | None = None) -> list[str]:
    """``text`` in lines that each fit ``width`` pixels less the margins: broken between words, and
    inside a word too long for a line (a model name, a hash); every line holds at least one character,
    so even a one-pixel-wide image gets its whole caption."""
    scale = _font_scale(width) if font_scale is None else font_scale

    def fits(line: str) -> bool:
        return _text_width(line, scale) <= width - 2 * MARGIN

    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        joined = f"{line} {word}" if line else word
        if fits(joined):
            line = joined
            continue
        if line:
            lines.append(line)
        while len(word) > 1 and not fits(word):
            cut = 1
            while cut < len(word) - 1 and fits(word[: cut + 1]):
                cut += 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    return [*lines, line]


def _legend(width: int, label: str, style: OverlayStyle) -> np.ndarray:
    """BGR band under the image: the colour bar, and beside it which finding the map shows and what
    the bar's ends, floor and contour mean (wrapped to the room left of the bar)."""
    font_scale = _font_scale(width)
    step = _step(font_scale)
    bar_w = max(0, min(width // 4, width - 2 * MARGIN))
    text_x = MARGIN + bar_w + (MARGIN if bar_w else 0)
    caption = f"Grad-CAM of {label}, share of its peak, 0 to 1: {legend_notes(style)}"
    lines = _wrap(caption, width - text_x + MARGIN, font_scale)
    strip = np.full((step * len(lines) + 8, width, 3), BACKGROUND, np.uint8)
    (_, text_h), _ = cv2.getTextSize(caption, FONT, font_scale, 1)
    strip[step - text_h : step, MARGIN : MARGIN + bar_w] = colour_bar(bar_w, text_h, style)[:, :, ::-1]
    for i, line in enumerate(lines):
        cv2.putText(strip, line, (text_x, step * (i + 1)), FONT, font_scale, GREY, 1, cv2.LINE_AA)
    return strip


def _panel(
    width: int, heatmap: Heatmap | None, study: RankedStudy, card: ModelCard, thresholds: Mapping[str, float]
) -> np.ndarray:
    font_scale = _font_scale(width)
    step = _step(font_scale)
    lines = [
        (line, colour)
        for text, colour in _caption(heatmap, study, card, thresholds)
        for line in _wrap(text, width, font_scale)
    ]
    panel = np.full((step * len(lines) + 10, width, 3), BACKGROUND, np.uint8)
    for i, (text, colour) in enumerate(lines):
        cv2.putText(panel, text, (MARGIN, step * (i + 1)), FONT, font_scale, colour, 1, cv2.LINE_AA)
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
