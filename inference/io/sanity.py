"""Plausibility checks shared by the DICOM and PNG/JPEG readers: refuse what no radiograph looks like.

Two moments. :func:`check_size` runs on the header's dimensions before a single pixel is decoded (a
275-byte PNG can declare 1×200000 pixels, a 2 MB one 20000×20000, and decoding them takes gigabytes).
:func:`check_pixels` runs on the decoded display pixels, so that blank or structureless images become
errors instead of being scored. Every limit sits far outside what a real chest radiograph measures;
sizes are written width×height, DICOM Columns×Rows.
"""

from __future__ import annotations

import math

import numpy as np

from inference.io.errors import ReadError

# The smallest images in real use (downsampled research sets) are 128 px on a side; below this, icons.
MIN_SIDE = 32
# The largest CR/DX detectors give about 4300×3500 pixels (15 megapixels); stitched long-length
# images stay under 60.
MAX_MEGAPIXELS = 64
# Chest films are 35×43 cm (about 1:1.2) either way round; beyond 1:4 an image is no chest radiograph.
MAX_ASPECT = 4.0
# Everything a DICOM's header says its pixel data holds (all frames), decoded: 64 frames of 4096×4096 16-bit.
MAX_PIXEL_DATA_BYTES = 2 * 1024**3
# Near blank: the middle 99% of the pixels span fewer than this many of 256 grey levels (every real
# radiograph bundled spans over 100; a 10-bit image stored in 16 bits still spans about 4).
MIN_GREY_LEVELS = 2
# No structure: neighbouring pixels (of the sub-sample) correlate less than this. Real radiographs are
# smooth (0.96 or more on every bundled sample); noise is about 0.
MIN_NEIGHBOUR_CORRELATION = 0.5
# The grey-level and structure tests look at about this many pixels, evenly strided.
SAMPLE_PIXELS = 256 * 256


def check_size(columns: int, rows: int) -> None:
    """Refuse tiny, huge or absurdly elongated images before decoding. Raises :class:`ReadError`."""
    size = f"image is {columns}×{rows} pixels"
    if min(columns, rows) < MIN_SIDE:
        raise ReadError(f"{size} (a radiograph is at least {MIN_SIDE} pixels on each side)")
    if columns * rows > MAX_MEGAPIXELS * 1_000_000:
        raise ReadError(f"{size} (more than the {MAX_MEGAPIXELS}-megapixel limit)")
    if max(columns, rows) > MAX_ASPECT * min(columns, rows):
        raise ReadError(f"{size} (sides more than {MAX_ASPECT:g} to 1 apart: not a chest radiograph)")


def check_pixel_data_size(declared_bytes: int) -> None:
    """Refuse a DICOM whose header declares more decoded pixel data (all frames) than the limit."""
    if declared_bytes > MAX_PIXEL_DATA_BYTES:
        raise ReadError(
            f"the header declares {declared_bytes / 1024**3:.1f} GB of pixel data"
            f" (more than the {MAX_PIXEL_DATA_BYTES // 1024**3} GB limit)"
        )


def check_stored_length(stored_bytes: int, expected_bytes: int) -> None:
    """Uncompressed pixel data must be exactly as long as the header's image size (plus one pad byte)."""
    if stored_bytes not in (expected_bytes, expected_bytes + expected_bytes % 2):
        raise ReadError(
            f"the pixel data does not match the image size in the header ({stored_bytes:,} bytes"
            f" stored, {expected_bytes:,} expected)"
        )


def check_pixels(pixels: np.ndarray) -> None:
    """Refuse decoded display pixels that are not numbers, blank, nearly blank or pure noise."""
    low, high = float(pixels.min()), float(pixels.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ReadError("image has pixel values that are not numbers (NaN)")
    if low == high:
        raise ReadError("image is blank (every pixel has the same value)")
    sample = _sample(pixels).astype(np.float64)
    p_low, p_high = np.percentile(sample, [0.5, 99.5])
    if (p_high - p_low) * 255 < MIN_GREY_LEVELS:
        raise ReadError(f"image is nearly blank (99% of its pixels lie within {MIN_GREY_LEVELS} grey levels)")
    if _neighbour_correlation(sample) < MIN_NEIGHBOUR_CORRELATION:
        raise ReadError("image has no structure (neighbouring pixels are unrelated, as in noise)")


def _sample(pixels: np.ndarray) -> np.ndarray:
    """About :data:`SAMPLE_PIXELS` pixels on an even grid (the whole image when it is small)."""
    step = max(1, math.ceil(math.sqrt(pixels.size / SAMPLE_PIXELS)))
    return pixels[::step, ::step]


def _neighbour_correlation(sample: np.ndarray) -> float:
    """Correlation of each sampled pixel with its right-hand neighbour (1 when a side is constant)."""
    left, right = sample[:, :-1].ravel(), sample[:, 1:].ravel()
    if left.std() == 0 or right.std() == 0:
        return 1.0
    return float(np.corrcoef(left, right)[0, 1])
