"""Reduced-resolution decoding for scoring: really reduced, close to full decode + resize, same outcomes."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate, get_frame
from pydicom.uid import ExplicitVRLittleEndian

from inference.api import Preprocessing, XRayImage
from inference.bundled import DEMO_MODEL, SAMPLES
from inference.io import ReadError, read_image
from inference.io.reduced import j2k_levels
from inference.runtime import network_input
from inference.runtime.preprocess import decode_side, resize

DICOM = Path(__file__).parents[1] / "fixtures" / "dicom"
CANON_J2K = SAMPLES / "DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm"
SIIM_JPEG = SAMPLES / "CR_chest_SIIM_jpegbaseline_8bit.dcm"
NIH_NATIVE = SAMPLES / "DX_chest_NIH_google_1024_8bit.dcm"
J2K_16BIT = DICOM / "DX_16bit_J2KR.dcm"  # OpenJPEG in Pillow refuses it: the full decoder takes over
PADCHEST_JPEG = SAMPLES / "16747_3_1.jpg"
NIH_PNG = SAMPLES / "00000001_000.png"
SAMPLE_FILES = sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".dcm", ".png", ".jpg", ".jpeg"))

# (file, min_side, shape of the reduced pixels): one case per decoding route.
ROUTES = [
    (CANON_J2K, 250, (266, 250)),  # JPEG 2000 resolution level 3
    (SIIM_JPEG, 250, (256, 256)),  # DICOM JPEG baseline scaled 1/4 in the DCT domain
    (NIH_NATIVE, 250, (256, 256)),  # uncompressed: area average by 4
    (J2K_16BIT, 200, (202, 202)),  # full decode, then area average by 7
    (PADCHEST_JPEG, 200, (222, 259)),  # JPEG file scaled 1/4 in the DCT domain
    (NIH_PNG, 200, (256, 256)),  # PNG: area average by 2
]


@functools.cache
def _full(path: Path) -> XRayImage:
    return read_image(path)


@pytest.mark.parametrize(("path", "min_side", "shape"), ROUTES, ids=lambda v: getattr(v, "name", ""))
def test_reduced_decode_is_reduced_and_close_to_full_decode_resized(
    path: Path, min_side: int, shape: tuple[int, int]
) -> None:
    full = _full(path)
    reduced = read_image(path, min_side=min_side)
    assert reduced.pixels.shape == shape
    assert min(shape) >= min_side
    assert reduced.pixels.dtype == np.float32
    difference = np.abs(resize(full.pixels, *shape) - reduced.pixels)
    assert float(difference.mean()) < 0.01  # under 3 of 256 grey levels on average
    assert float(np.percentile(difference, 99)) < 0.05
    # The header's size and the readers' warnings are those of the full image.
    assert (reduced.meta.rows, reduced.meta.columns) == full.pixels.shape
    assert reduced.warnings == full.warnings


def test_no_reduction_when_the_image_is_already_small() -> None:
    path = SAMPLES / "IM-0115-0001.jpeg"  # 224²
    np.testing.assert_array_equal(read_image(path, min_side=150).pixels, _full(path).pixels)


@pytest.mark.slow
def test_probabilities_of_reduced_decoding_within_002_of_full_on_every_sample() -> None:
    from inference.runtime.service import load_service

    service = load_service(DEMO_MODEL, device="cpu", precision="fp32")
    side = decode_side(service.card.preprocessing, service.card.input_size)
    full = service.predict([_full(path) for path in SAMPLE_FILES])
    reduced = service.predict([read_image(path, min_side=side) for path in SAMPLE_FILES])
    gaps = {
        path.name: max(abs(f.probabilities[k] - r.probabilities[k]) for k in f.probabilities)
        for path, f, r in zip(SAMPLE_FILES, full, reduced, strict=True)
    }
    assert len(gaps) == 13
    assert max(gaps.values()) <= 0.02, gaps


def test_decode_side_is_three_times_what_the_preprocessing_resizes_to() -> None:
    assert decode_side(Preprocessing.CHEXNET, 224) == 768  # CheXNet resizes to 256 before the 224 crop
    assert decode_side(Preprocessing.CHEXNET, 160) == 549
    assert decode_side(Preprocessing.XRV, 224) == 672


def test_scoring_reads_at_the_side_the_model_needs(
    monkeypatch: pytest.MonkeyPatch, random_package: Path
) -> None:
    from inference.runtime.service import load_service

    service = load_service(random_package, device="cpu", precision="fp32")
    asked: list[int | None] = []

    def spy(path: Path, min_side: int | None = None) -> XRayImage:
        asked.append(min_side)
        return read_image(path, min_side=min_side)

    monkeypatch.setattr(network_input, "read_image", spy)
    prepared = network_input.prepare_image(CANON_J2K, service)
    assert asked == [768]
    assert not isinstance(prepared, str) and prepared.inputs.shape == (1, 3, 224, 224)


def test_j2k_levels_read_from_the_main_header() -> None:
    codestream = get_frame(pydicom.dcmread(CANON_J2K).PixelData, 0, number_of_frames=1)
    assert j2k_levels(codestream) == 5
    assert j2k_levels(codestream[:2]) == 0  # no header segments at all


def test_truncated_jpeg2000_fails_with_the_same_reason_reduced_or_not(tmp_path: Path) -> None:
    ds = pydicom.dcmread(CANON_J2K)
    codestream = get_frame(ds.PixelData, 0, number_of_frames=1)
    ds.PixelData = encapsulate([codestream[: len(codestream) // 2]])
    path = tmp_path / "truncated.dcm"
    ds.save_as(path)
    with pytest.raises(ReadError) as full:
        read_image(path)
    with pytest.raises(ReadError) as reduced:
        read_image(path, min_side=250)
    assert str(reduced.value) == str(full.value)


def _native_dicom(path: Path, values: np.ndarray) -> Path:
    ds = pydicom.dcmread(NIH_NATIVE)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Rows, ds.Columns = values.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelData = values.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_noise_is_refused_after_reduction_too(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 4096, size=(1200, 1000))
    path = _native_dicom(tmp_path / "noise.dcm", noise)
    with pytest.raises(ReadError, match="no structure"):
        read_image(path, min_side=200)


def test_header_size_checks_run_before_a_reduced_decode(tmp_path: Path) -> None:
    path = _native_dicom(tmp_path / "elongated.dcm", np.zeros((2000, 400)))
    with pytest.raises(ReadError, match="sides more than 4 to 1 apart"):
        read_image(path, min_side=100)
