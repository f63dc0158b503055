"""Window/level in the image's own units: conversions, the readout and the preset list (no Qt).

The view keeps its window over the normalised [0, 1] pixels (what the grey LUT is applied to); the
reader sees and saves it in the image's units (:class:`inference.api.DisplayScale`: DICOM modality
values, a PNG's 0-255). An image without a scale is shown in normalised units.
"""

from __future__ import annotations

import math

from inference.api import DisplayScale, XRayImage

FULL_RANGE = "Full range"
AUTO = "Auto (1–99 %)"
CUSTOM = "Custom"
# (centre, width) over normalised [0, 1] pixels: relative to whatever the image's range is.
FIXED_PRESETS: dict[str, tuple[float, float]] = {
    "Lung": (0.35, 0.7),
    "Soft tissue": (0.55, 0.45),
    "Bone": (0.7, 0.4),
}
NORMALISED = DisplayScale(black=0.0, white=1.0)


def scale_of(image: XRayImage | None) -> DisplayScale:
    """What the image's pixels stand for; normalised units when unknown."""
    return image.display if image is not None and image.display is not None else NORMALISED


def to_units(scale: DisplayScale, center: float, width: float) -> tuple[float, float]:
    """(level, width) in the image's units of a normalised (centre, width)."""
    return scale.to_units(center), width * scale.span


def to_normalised(scale: DisplayScale, level: float, width: float) -> tuple[float, float]:
    """(centre, width) over the normalised pixels of a (level, width) in the image's units."""
    return scale.to_pixel(level), width / scale.span


def format_value(value: float, span: float) -> str:
    """A value with as many decimals as the image's range needs: 2725 for DICOM, 0.500 for [0, 1]."""
    decimals = 0 if span >= 100 else min(6, max(0, 3 - math.floor(math.log10(span)))) if span > 0 else 3
    text = f"{value:.{decimals}f}"
    return "0" if text.strip("-0.") == "" else text  # never "-0"


def readout(scale: DisplayScale, center: float, width: float, zoom: float | None) -> str:
    """'W 5310 L 2725 · 37%': the window in the image's units and the zoom (screen px per image px)."""
    level, units_width = to_units(scale, center, width)
    text = f"W {format_value(units_width, scale.span)} L {format_value(level, scale.span)}"
    return text if zoom is None else f"{text} · {zoom * 100:.0f}%"


def header_presets(scale: DisplayScale) -> dict[str, tuple[float, float]]:
    """The header's windows as (level, width) in units, named by their explanation, else 'Header N'."""
    out: dict[str, tuple[float, float]] = {}
    for i, window in enumerate(scale.windows, start=1):
        name = window.explanation or f"Header {i}"
        if name in out or name in (FULL_RANGE, AUTO, CUSTOM, *FIXED_PRESETS):
            name = f"{name} ({i})"
        out[name] = (window.center, window.width)
    return out
