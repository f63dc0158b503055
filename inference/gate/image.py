"""The image-statistics half of the safety gate: rules any model can use, on bare PNG/JPEG too.

They look at what the scoring pass already holds (the network input and the readers' warnings), so
they cost no extra decoding: a colour image (radiographs are grey-scale) and a noise-like texture
(a radiograph at network size is smooth; sensor noise, static and random patterns are not).
Roughness is ``mean |x - blur(x)| / std(x)`` of the first input channel: invariant to the
preprocessing's per-channel scale and offset, so the limit holds for every convention.
"""

from __future__ import annotations

import cv2
import numpy as np

from inference.api import PreparedImage

COLOUR_WARNING = "colour image converted to grey-scale"  # the raster reader's own words
# Over twice the highest of the demo model's 1,296 fit and calibration radiographs (0.089): a
# radiograph at network size is smooth. Set on radiographs only, never on the reported negatives.
MAX_ROUGHNESS = 0.2
NOT_A_RADIOGRAPH = "does not look like a frontal chest radiograph"


def roughness(inputs: np.ndarray) -> float:
    """``mean |x - blur(x)| / std(x)`` of the first crop's first channel (0 for a flat image)."""
    plane = np.asarray(inputs[0, 0], dtype=np.float32)
    spread = float(plane.std())
    if spread == 0.0:
        return 0.0
    smooth = cv2.GaussianBlur(plane, (5, 5), 0)
    return float(np.abs(plane - smooth).mean()) / spread


def image_problem(image: PreparedImage) -> str | None:
    """Why ``image`` cannot be a chest radiograph by its own statistics, or None."""
    if COLOUR_WARNING in image.warnings:
        return f"{NOT_A_RADIOGRAPH} (a colour image; radiographs are grey-scale)"
    if roughness(image.inputs) > MAX_ROUGHNESS:
        return f"{NOT_A_RADIOGRAPH} (a noise-like texture)"
    return None
