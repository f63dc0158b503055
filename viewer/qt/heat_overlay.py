"""How strongly the view draws a heat map: a finding below its threshold is shown faintly, and named.

A map is drawn for whichever finding the reader picks, including one the model calls negative; at
full brightness with its outline it would look like a finding. Below its threshold it is drawn at
:data:`FAINT_OPACITY` without the outline, unless the reader asks for full strength.
"""

from __future__ import annotations

from dataclasses import replace

from inference.api import Heatmap
from inference.render.overlay import DEFAULT_STYLE, OverlayStyle

FAINT_OPACITY = 0.15
FAINT_STYLE: OverlayStyle = replace(DEFAULT_STYLE, contour=None)


def below_threshold(heatmap: Heatmap, threshold: float | None) -> bool:
    """True when the finding is negative at the reader's threshold (positive is p ≥ threshold)."""
    return threshold is not None and heatmap.probability < threshold


def caption(heatmap: Heatmap, threshold: float | None) -> str:
    """'Grad-CAM: Atelectasis p=0.04 (below threshold 0.30)': the label drawn on the image."""
    text = f"Grad-CAM: {heatmap.label.replace('_', ' ')} p={heatmap.probability:.2f}"
    if threshold is None:
        return text
    if below_threshold(heatmap, threshold):
        return f"{text} (below threshold {threshold:.2f})"
    return f"{text} (threshold {threshold:.2f})"
