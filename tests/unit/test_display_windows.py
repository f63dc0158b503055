"""What an image's [0, 1] pixels stand for in its own units (XRayImage.display), from real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut

from inference.api import DisplayScale, HeaderWindow
from inference.io.dicom import read_dicom
from inference.io.display import to_display
from inference.io.raster import read_raster

DICOM = Path(__file__).parents[1] / "fixtures" / "dicom"
SAMPLES = Path(__file__).parents[2] / "resources" / "samples"
# The SIIM CR with Rescale Slope 20 / Intercept 70 and two header windows: 2725/5310, LUNG 1500/2000.
WINDOWED = DICOM / "CR_chest_SIIM_window_2725_5310.dcm"


def test_header_window_reads_back_in_modality_values() -> None:
    image = read_dicom(WINDOWED)
    scale = image.display
    assert scale is not None
    assert (scale.black, scale.white) == (70.0, 5380.0)  # 2725 ∓ 5310 / 2
    assert scale.to_units(0.5) == 2725.0 and scale.span == 5310.0
    assert scale.windows == (HeaderWindow(2725.0, 5310.0, ""), HeaderWindow(1500.0, 2000.0, "LUNG"))


def test_scale_matches_the_pixels_modality_values() -> None:
    """Each pixel converted back lands within one modality value of what the header makes of it."""
    ds = pydicom.dcmread(WINDOWED)
    modality = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    image = read_dicom(WINDOWED)
    assert image.display is not None
    inside = (modality > 70) & (modality < 5380)
    back = image.display.to_units(image.pixels.astype(np.float64))
    assert np.max(np.abs(back[inside] - modality[inside])) <= 1.0


def test_inverted_image_has_black_above_white() -> None:
    image = read_dicom(DICOM / "DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm")  # MONOCHROME1, 2048/4096
    assert image.display == DisplayScale(4096.0, 0.0, (HeaderWindow(2048.0, 4096.0, ""),))
    assert image.display.to_pixel(2048.0) == 0.5


def test_window_outside_the_pixels_falls_back_to_min_max_and_keeps_the_header_windows() -> None:
    ds = pydicom.dcmread(DICOM / "DX_16bit_J2KR.dcm")
    low, high = float(ds.pixel_array.min()), float(ds.pixel_array.max())
    image = read_dicom(DICOM / "DX_16bit_J2KR.dcm")
    assert image.display == DisplayScale(low, high, (HeaderWindow(2725.0, 5310.0, ""),))


def test_eight_bit_dicom_without_window_and_png_use_stored_values() -> None:
    assert read_dicom(DICOM / "DX_chest_NIH_google_1024_8bit.dcm").display == DisplayScale(0.0, 255.0)
    assert read_raster(SAMPLES / "00000001_000.png").display == DisplayScale(0.0, 255.0)


@pytest.mark.parametrize("function", ["SIGMOID"])
def test_non_linear_window_has_no_scale(function: str) -> None:
    ds = pydicom.dcmread(WINDOWED)
    ds.VOILUTFunction = function
    _pixels, _notes, scale = to_display(ds.pixel_array, ds)
    assert scale is None
