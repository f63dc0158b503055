"""Decoding for scoring at the lowest resolution that still gives the network its input.

A detector image has thousands of pixels a side; the network's preprocessing keeps a few hundred.
``min_side`` asks a reader for an image whose shorter side is at least that many pixels, as cheaply
as the format allows:

- JPEG 2000: decode only the coarse resolution levels of the wavelet (Pillow's ``reduce``), each
  level halving both sides (a 2128×2000 image at level 3 is 266×250, decoded some 40 times faster);
- JPEG: the decoder's own scaling by 1/2, 1/4 or 1/8 in the DCT domain (libjpeg, through OpenCV);
- everything else, and whatever factor those leave: averaging over areas of a whole factor.

Every route reduces the *stored* values, before the Modality and VOI LUTs and the photometric
inversion (the JPEG 2000 and JPEG routes cannot do otherwise), so one display transform follows all
of them. That is a close estimate of full decode + area resize, not the same: where a window clips,
the window of an average differs from the average of windowed pixels, and a min-max stretch sees
the reduced image's extremes. The parity test bounds the effect on probabilities on every bundled
sample. Only scoring asks for reduced pixels; the viewer and exports always decode in full.
"""

from __future__ import annotations

import struct
from io import BytesIO

import cv2
import numpy as np
from openjpeg.utils import get_parameters
from PIL import Jpeg2KImagePlugin

# libjpeg scales by 1/2, 1/4 and 1/8 only; OpenCV selects them with these imread flags.
_JPEG_SCALE_FLAGS = {
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}
# cv2's area interpolation handles these; other dtypes (32-bit integers) stay at full resolution.
_AREA_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)
# JPEG 2000 codestream markers (ISO/IEC 15444-1 Annex A): coding style default, start of tile.
_COD, _SOT = 0xFF52, 0xFF90


def whole_factor(rows: int, columns: int, min_side: int) -> int:
    """The largest whole factor that keeps the shorter side at least ``min_side`` (1: none)."""
    return max(1, min(rows, columns) // min_side)


def halvings(rows: int, columns: int, min_side: int) -> int:
    """How many times both sides can be halved with the shorter side staying at least ``min_side``."""
    return whole_factor(rows, columns, min_side).bit_length() - 1


def jpeg_scale_flag(rows: int, columns: int, min_side: int) -> int:
    """The OpenCV imread flag for the strongest DCT scaling that still leaves ``min_side``; 0: none."""
    steps = min(3, halvings(rows, columns, min_side))
    return _JPEG_SCALE_FLAGS[1 << steps] if steps else 0


def jpeg_reduced(codestream: bytes, rows: int, columns: int, min_side: int) -> np.ndarray | None:
    """An 8-bit grey JPEG scaled in the DCT domain; None when no scaling applies or it is no such JPEG."""
    flag = jpeg_scale_flag(rows, columns, min_side)
    if not flag:
        return None
    values = cv2.imdecode(np.frombuffer(codestream, dtype=np.uint8), flag | cv2.IMREAD_ANYDEPTH)
    return values if values is not None and values.ndim == 2 and values.dtype == np.uint8 else None


def area_reduce(values: np.ndarray, min_side: int) -> np.ndarray:
    """Average over areas of the largest whole factor that keeps ``min_side`` (same dtype, rounded)."""
    rows, columns = values.shape[:2]
    factor = whole_factor(rows, columns, min_side)
    if factor == 1 or values.dtype not in _AREA_DTYPES or values.ndim == 3 and values.shape[2] > 4:
        return values
    return cv2.resize(values, (columns // factor, rows // factor), interpolation=cv2.INTER_AREA)


def j2k_reduced(codestream: bytes, min_side: int, bits_stored: int) -> np.ndarray | None:
    """Stored values of a grey, unsigned JPEG 2000 codestream at the coarsest level that keeps
    ``min_side``; None when the codestream is of another kind or nothing would be saved.

    Pillow scales the samples to its 8- or 16-bit container; the shift back restores the stored
    values, which the caller's display transform expects.
    """
    header = get_parameters(codestream)
    precision = int(header["precision"])
    if header["samples_per_pixel"] != 1 or header["is_signed"] or precision != bits_stored or precision > 16:
        return None
    level = min(j2k_levels(codestream), halvings(int(header["rows"]), int(header["columns"]), min_side))
    if level == 0:
        return None
    image = Jpeg2KImagePlugin.Jpeg2KImageFile(BytesIO(codestream))
    image.reduce = level
    values = np.asarray(image)
    return _in_register(values >> ((8 if values.dtype == np.uint8 else 16) - precision), level)


def _in_register(band: np.ndarray, level: int) -> np.ndarray:
    """Move a coarse wavelet band onto the grid of an area average of the same size.

    Sample k of the band after ``level`` halvings sits on pixel 2^level·k of the full image; the
    average of the 2^level pixels from there is centred (2^level − 1)/2 pixels further on. Without
    this sub-pixel shift the demo model's probabilities move by up to twice as much (parity test).
    """
    offset = ((1 << level) - 1) / (1 << (level + 1))  # in band pixels
    shift = np.array([[1, 0, -offset], [0, 1, -offset]], dtype=np.float32)
    rows, columns = band.shape
    return cv2.warpAffine(
        band, shift, (columns, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def j2k_levels(codestream: bytes) -> int:
    """Wavelet decomposition levels from the codestream's main header (COD segment); 0 if absent."""
    pos = 2  # after the start-of-codestream marker
    while pos + 4 <= len(codestream):
        marker, length = struct.unpack(">HH", codestream[pos : pos + 4])
        if marker == _SOT or length < 2:
            break
        if marker == _COD and pos + 9 < len(codestream):
            return codestream[pos + 9]  # Lcod(2) Scod(1) SGcod(4), then SPcod's levels
        pos += 2 + length
    return 0
