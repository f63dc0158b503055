"""The DICOM grey-scale pipeline: Modality LUT, VOI LUT, polarity, scaled to [0, 1] with 0 = black.

Polarity rule (PS3.3 C.7.6.3.1.2, C.11.6.1.2, DX Image Module C.8.11.3): MONOCHROME1 means the minimum
value is white *after* the VOI transform, and Presentation LUT Shape INVERSE means "invert the VOI
output". The DX module requires INVERSE exactly when the image is MONOCHROME1, so the two describe one
and the same inversion: invert once when either is present, never twice.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from inference.api import DisplayScale, HeaderWindow
from inference.io.errors import ReadError

# When both a window and a VOI LUT Sequence are present (alternative views, PS3.3 C.11.2) use the window:
# it is linear, its output range is well defined, and vendor VOI LUTs on DX often have odd descriptors.
PREFER_LUT = False


# Units of the pixels 0 and 1 before polarity: the modality values they stand for, None when the VOI
# transform is not linear (a VOI LUT, a SIGMOID window).
_Units = tuple[float, float] | None


def to_display(arr: np.ndarray, ds: Dataset) -> tuple[np.ndarray, list[str], DisplayScale | None]:
    """Map decoded stored values of one frame to 2-D float32 in [0, 1]; also return warnings and what
    the pixels stand for in modality values (display only: it changes no pixel)."""
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if photometric == "PALETTE COLOR":
        raise ReadError("palette-colour DICOM image: not a radiograph")
    if arr.ndim == 3 or photometric.startswith(("RGB", "YBR")):
        colour = [f"colour DICOM ({photometric or 'RGB'}) converted to grey-scale; no window applied"]
        return _colour_to_gray(arr, ds), colour, _display_scale((0.0, _stored_range(ds)[1]), False, ())
    if photometric not in ("MONOCHROME1", "MONOCHROME2", ""):
        raise ReadError(f"unsupported Photometric Interpretation {photometric!r}")

    notes: list[str] = []
    values = apply_modality_lut(arr, ds)
    voi, low, high, units = _apply_voi(values, ds, notes)
    out = _scale(voi, low, high)
    if voi is not values and _saturated(out):
        # A window that clips (almost) the whole image to one grey shows nothing; real files do this
        # when the header's window was written for other pixel values (e.g. an offset added on export).
        notes.append("the header's window lies outside the pixel values; contrast stretched to min-max")
        units = float(np.min(values)), float(np.max(values))
        out = _scale(values, *units)

    shape = str(ds.get("PresentationLUTShape", "")).strip().upper()
    if photometric == "MONOCHROME2" and shape == "INVERSE":
        notes.append("MONOCHROME2 with Presentation LUT Shape INVERSE: shown inverted, as the header asks")
    if "PresentationLUTSequence" in ds:
        notes.append("Presentation LUT Sequence ignored")
    inverted = photometric == "MONOCHROME1" or shape == "INVERSE"
    if inverted:
        out = 1.0 - out
    scale = _display_scale(units, inverted, header_windows(ds))
    return np.ascontiguousarray(out, dtype=np.float32), notes, scale


def _apply_voi(values: np.ndarray, ds: Dataset, notes: list[str]) -> tuple[np.ndarray, float, float, _Units]:
    """Apply the VOI LUT or window; return the output, its nominal output range and its units."""
    has_window = ds.get("WindowCenter") not in (None, "") and ds.get("WindowWidth") not in (None, "")
    has_lut = _has_voi_lut(ds)
    if has_window and (not has_lut or not PREFER_LUT):
        try:
            low, high = _window_output_range(ds)
            return apply_voi_lut(values, ds, prefer_lut=PREFER_LUT), low, high, _window_units(ds)
        except ValueError as exc:
            notes.append(f"window in the header is unusable ({exc}); contrast stretched to min-max")
            low, high = float(np.min(values)), float(np.max(values))
            return values, low, high, (low, high)
    if has_lut:
        if not np.issubdtype(values.dtype, np.integer):
            values = np.rint(values).astype(np.int64)
        lut = _voi_lut_data(ds)
        return apply_voi_lut(values, ds, prefer_lut=True), float(lut.min()), float(lut.max()), None
    low, high = _modality_output_range(ds)
    if int(ds.get("BitsStored", 8) or 8) > 8:
        notes.append("no window or VOI LUT in the header: contrast stretched to the image's min-max")
        low, high = float(np.min(values)), float(np.max(values))
        return values, low, high, (low, high)
    low, high = min(low, high), max(low, high)
    return values, low, high, (low, high)


def header_windows(ds: Dataset) -> tuple[HeaderWindow, ...]:
    """The header's Window Center/Width pairs with their explanations; unusable pairs are left out."""
    centers, widths = _values(ds, "WindowCenter"), _values(ds, "WindowWidth")
    explanations = _values(ds, "WindowCenterWidthExplanation")
    out = []
    for i, (center, width) in enumerate(zip(centers, widths, strict=False)):
        try:
            c, w = float(center), float(width)
        except (TypeError, ValueError):
            continue
        if w > 0 and np.isfinite(c) and np.isfinite(w):
            text = str(explanations[i]).strip() if i < len(explanations) else ""
            out.append(HeaderWindow(c, w, text))
    return tuple(out)


def _values(ds: Dataset, keyword: str) -> list[Any]:
    value = ds.get(keyword)
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, MultiValue) else [value]


def _window_units(ds: Dataset) -> _Units:
    """The modality values at the applied (first) window's edges, Center ∓ Width/2: the nominal edges
    (pydicom's LINEAR window reaches them within half a value), so the header's window reads back exactly."""
    if str(ds.get("VOILUTFunction", "LINEAR")).strip().upper() == "SIGMOID":
        return None
    windows = header_windows(ds)
    if not windows:
        return None
    c, w = windows[0].center, windows[0].width
    return c - w / 2, c + w / 2


def _display_scale(units: _Units, inverted: bool, windows: tuple[HeaderWindow, ...]) -> DisplayScale | None:
    if units is None or units[0] == units[1]:
        return None
    black, white = (units[1], units[0]) if inverted else units
    return DisplayScale(black=black, white=white, windows=windows)


def _scale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high == low:  # one grey value: refused as blank by the sanity checks
        return np.zeros(values.shape, dtype=np.float32)
    out = (np.asarray(values, dtype=np.float64) - low) / (high - low)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _saturated(out: np.ndarray, fraction: float = 0.98) -> bool:
    """True when at least ``fraction`` of the pixels sit at the same end of the range."""
    return bool(np.mean(out <= 0.0) >= fraction or np.mean(out >= 1.0) >= fraction)


def _has_voi_lut(ds: Dataset) -> bool:
    seq = ds.get("VOILUTSequence")
    if not seq:
        return False
    item = seq[0]
    return item.get("LUTDescriptor") is not None and item.get("LUTData") is not None


def _voi_lut_data(ds: Dataset) -> np.ndarray:
    item = ds.VOILUTSequence[0]
    data = item.LUTData
    if isinstance(data, bytes | bytearray):
        return np.frombuffer(data, dtype="<u2")
    return np.asarray(data if not np.isscalar(data) else [data])


def _stored_range(ds: Dataset) -> tuple[float, float]:
    bits = int(ds.get("BitsStored", 8) or 8)
    if int(ds.get("PixelRepresentation", 0) or 0) == 0:
        return 0.0, float(2**bits - 1)
    return float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)


def _modality_output_range(ds: Dataset) -> tuple[float, float]:
    """Range of the Modality LUT output, computed as pydicom's ``apply_windowing`` does."""
    if ds.get("ModalityLUTSequence"):
        depth = int(ds.ModalityLUTSequence[0].LUTDescriptor[2])
        return 0.0, float(2**depth - 1)
    low, high = _stored_range(ds)
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        low, high = low * float(slope) + float(intercept), high * float(slope) + float(intercept)
    return low, high


def _window_output_range(ds: Dataset) -> tuple[float, float]:
    """pydicom's windowing maps below-window to the first value and above-window to the second.

    With a negative Rescale Slope the first is the larger number; scaling by (first, second) keeps
    "below the window = black" either way, so the pair is returned unsorted on purpose.
    """
    return _modality_output_range(ds)


def _colour_to_gray(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    if arr.ndim != 3 or arr.shape[-1] < 3:
        raise ReadError(f"unexpected colour pixel array shape {arr.shape}")
    rgb = arr[..., :3].astype(np.float64)
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    _, high = _stored_range(ds)
    return np.clip(gray / high, 0.0, 1.0).astype(np.float32)
