"""DICOM pixel reading on real CR/DX files: decoding, grey-scale pipeline, polarity, failure modes."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from inference.api import XRayImage
from inference.io import ReadError, read_image

DICOM = Path(__file__).parents[1] / "fixtures" / "dicom"
NIH = DICOM / "DX_chest_NIH_google_1024_8bit.dcm"
SIIM = DICOM / "CR_chest_SIIM_jpegbaseline_8bit.dcm"
SIIM_MONO1 = DICOM / "CR_chest_SIIM_fake_MONOCHROME1.dcm"
CANON = DICOM / "DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm"
DX16 = DICOM / "DX_16bit_J2KR.dcm"
HIPS = [DICOM / "RG2_JPLL.dcm", DICOM / "RG2_JLSL.dcm", DICOM / "RG2_JPLY_fixed.dcm"]

CHEST = {NIH: (1024, 1024), SIIM: (1024, 1024), SIIM_MONO1: (1024, 1024), CANON: (2128, 2000)}


@functools.cache
def _pixels(path: Path) -> np.ndarray:
    """Decoded pixels of an unmodified fixture (cached: the Canon file takes a second to decode)."""
    return read_image(path).pixels


def _region(p: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> float:
    h, w = p.shape
    return float(np.median(p[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)]))


def _check_pixels(image: XRayImage, shape: tuple[int, int]) -> None:
    assert image.pixels.dtype == np.float32
    assert image.pixels.shape == shape
    assert float(image.pixels.min()) >= 0.0 and float(image.pixels.max()) <= 1.0
    assert float(image.pixels.std()) > 0.05  # not blank


@pytest.mark.parametrize("path", list(CHEST), ids=lambda p: p.name)
def test_chest_dicoms_decode_to_unit_float(path: Path) -> None:
    image = read_image(path)
    _check_pixels(image, CHEST[path])
    assert image.meta.path == path
    assert image.meta.study_uid


@pytest.mark.parametrize("path", [NIH, SIIM, CANON], ids=lambda p: p.name)
def test_chest_polarity_lungs_darker_than_mediastinum(path: Path) -> None:
    p = _pixels(path)
    mediastinum = _region(p, 0.45, 0.55, 0.3, 0.7)
    right_lung = _region(p, 0.12, 0.35, 0.25, 0.6)  # patient's right = image left
    assert mediastinum - right_lung > 0.2, (mediastinum, right_lung)


def test_canon_mono1_with_inverse_shape_is_inverted_exactly_once() -> None:
    ds = pydicom.dcmread(CANON, stop_before_pixels=True)
    assert ds.PhotometricInterpretation == "MONOCHROME1" and ds.PresentationLUTShape == "INVERSE"
    p = _pixels(CANON)
    mediastinum = _region(p, 0.45, 0.55, 0.3, 0.7)
    left_lung = _region(p, 0.62, 0.85, 0.25, 0.6)  # diseased, still darker than the mediastinum
    right_lung = _region(p, 0.12, 0.35, 0.25, 0.6)
    assert mediastinum > left_lung and mediastinum - right_lung > 0.2


def test_fake_monochrome1_is_the_inverse_of_the_original() -> None:
    a = _pixels(SIIM).astype(np.float64)
    b = _pixels(SIIM_MONO1).astype(np.float64)
    np.testing.assert_allclose(a + b, 1.0, atol=1e-6)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] < -0.999


def test_uncompressed_8bit_equals_stored_values_over_255() -> None:
    stored = pydicom.dcmread(NIH).pixel_array.astype(np.float32)
    np.testing.assert_allclose(read_image(NIH).pixels, stored / 255.0, atol=1e-6)


@pytest.mark.parametrize("path", HIPS, ids=lambda p: p.name)
def test_compressed_syntaxes_decode(path: Path) -> None:
    image = read_image(path)
    _check_pixels(image, (2140, 1760))


def test_lossless_hip_syntaxes_agree() -> None:
    jpeg_lossless, jpeg_ls = (_pixels(p) for p in HIPS[:2])
    np.testing.assert_array_equal(jpeg_lossless, jpeg_ls)


def test_hip_window_is_applied() -> None:
    ds = pydicom.dcmread(HIPS[0])
    stored = ds.pixel_array.astype(np.float64)
    centre, width = float(ds.WindowCenter) - 0.5, float(ds.WindowWidth) - 1  # PS3.3 C.11.2.1.2.1
    expected = np.clip((stored - centre) / width + 0.5, 0, 1)
    np.testing.assert_allclose(_pixels(HIPS[0]), expected, atol=1e-3)


def test_16bit_dx_decodes_and_warns_about_its_window() -> None:
    image = read_image(DX16)
    _check_pixels(image, (1416, 1420))
    assert any("window" in w for w in image.warnings)


# --- edited copies of the real files ---------------------------------------------------------------


def _inverting_voi_lut() -> Dataset:
    item = Dataset()
    item.add_new(0x00283002, "US", [256, 0, 8])  # LUT Descriptor: 256 entries, first 0, 8 bits
    item.add_new(0x00283006, "US", list(range(255, -1, -1)))  # LUT Data
    return item


def _uncompressed_copy(tmp_path: Path, name: str = "copy.dcm") -> tuple[Dataset, Path]:
    ds = pydicom.dcmread(NIH)
    return ds, tmp_path / name


def test_negative_rescale_slope_inverts_display(tmp_path: Path) -> None:
    ds, out = _uncompressed_copy(tmp_path)
    ds.RescaleSlope, ds.RescaleIntercept = -1, 255
    ds.save_as(out)
    a = _pixels(NIH).astype(np.float64)
    b = read_image(out).pixels.astype(np.float64)
    np.testing.assert_allclose(a + b, 1.0, atol=1e-6)


def test_window_preferred_over_voi_lut_sequence(tmp_path: Path) -> None:
    ds, out = _uncompressed_copy(tmp_path)
    ds.WindowCenter, ds.WindowWidth = 128, 256
    ds.VOILUTSequence = Sequence([_inverting_voi_lut()])  # must not be used when a window exists
    ds.save_as(out)
    a = _pixels(NIH)
    b = read_image(out).pixels
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.999


def test_voi_lut_sequence_alone_is_applied(tmp_path: Path) -> None:
    ds, out = _uncompressed_copy(tmp_path)
    ds.VOILUTSequence = Sequence([_inverting_voi_lut()])
    ds.save_as(out)
    a = _pixels(NIH).astype(np.float64)
    b = read_image(out).pixels.astype(np.float64)
    np.testing.assert_allclose(a + b, 1.0, atol=1e-6)


def test_file_without_extension_is_read(tmp_path: Path) -> None:
    target = tmp_path / "IM000123"
    shutil.copy(SIIM, target)
    np.testing.assert_array_equal(read_image(target).pixels, _pixels(SIIM))


def test_dataset_without_preamble_is_read_by_force(tmp_path: Path) -> None:
    ds, out = _uncompressed_copy(tmp_path, "1.2.3.4")
    del ds.file_meta
    ds.preamble = None
    pydicom.dcmwrite(out, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    with out.open("rb") as fh:
        assert fh.read(132)[128:132] != b"DICM"
    np.testing.assert_array_equal(read_image(out).pixels, _pixels(NIH))


def test_truncated_dicom_is_a_read_error(tmp_path: Path) -> None:
    data = CANON.read_bytes()
    out = tmp_path / "truncated.dcm"
    out.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError, match="pixel data"):
        read_image(out)


def test_dicom_without_pixel_data_is_a_read_error(tmp_path: Path) -> None:
    ds, out = _uncompressed_copy(tmp_path)
    del ds.PixelData
    ds.save_as(out)
    with pytest.raises(ReadError, match="no pixel data"):
        read_image(out)


def test_rgb_dicom_is_converted_to_gray_with_warning(tmp_path: Path) -> None:
    ds, out = _uncompressed_copy(tmp_path)
    gray = ds.pixel_array
    ds.PixelData = np.repeat(gray[..., None], 3, axis=2).tobytes()
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(out)
    image = read_image(out)
    assert image.pixels.shape == gray.shape
    np.testing.assert_allclose(image.pixels, gray / 255.0, atol=2e-3)
    assert any("colour" in w for w in image.warnings)


def test_multiframe_uses_first_frame_with_warning(tmp_path: Path) -> None:
    ds, out = _uncompressed_copy(tmp_path)
    first = ds.pixel_array
    ds.PixelData = np.stack([first, 255 - first]).tobytes()
    ds.NumberOfFrames = 2
    ds.save_as(out)
    image = read_image(out)
    np.testing.assert_allclose(image.pixels, first / 255.0, atol=1e-6)
    assert any("multi-frame" in w for w in image.warnings)


def test_garbage_and_missing_files_are_read_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"this is not a dicom file at all" * 10)
    with pytest.raises(ReadError):
        read_image(junk)
    with pytest.raises(ReadError, match="not found"):
        read_image(tmp_path / "missing.dcm")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ReadError):
        read_image(text)
