"""Hostile image files: size caps before decoding, degenerate pixels, the ReadError-only guarantee,
quiet decoders, and the odd shapes preprocessing and annotation must survive. Every file is made here."""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest

import inference.io.raster as io_raster
from inference.api import (
    Heatmap,
    ImageMeta,
    LabelCard,
    ModelCard,
    Preprocessing,
    RankedStudy,
    Status,
    StudyResult,
    Task,
    XRayImage,
)
from inference.io import ReadError, read_header, read_image
from inference.io.marker import is_marked
from inference.io.quiet import TRUNCATED, decoder_messages
from inference.io.sanity import check_pixels
from inference.render import annotate
from inference.runtime import preprocess

REPO = Path(__file__).parents[2]
SAMPLES = REPO / "resources" / "samples"
NIH_PNG = SAMPLES / "00000001_000.png"
NIH_DCM = REPO / "tests" / "fixtures" / "dicom" / "DX_chest_NIH_google_1024_8bit.dcm"
TRAIN = REPO / "tests" / "fixtures" / "train"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _zero_png(path: Path, width: int, height: int) -> Path:
    """A valid 8-bit grey PNG of zeros, compressed row by row (a huge one stays a small file)."""
    packer = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte + pixels
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def _encode(path: Path, img: np.ndarray) -> Path:
    ok, buf = cv2.imencode(path.suffix, img)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def _radiograph() -> np.ndarray:
    img = cv2.imread(str(NIH_PNG), cv2.IMREAD_UNCHANGED)
    assert img is not None
    return img


def _dicom(path: Path, **attributes: object) -> Path:
    ds = pydicom.dcmread(NIH_DCM)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.save_as(path)
    return path


@pytest.fixture()
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if OpenCV is asked to decode anything."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(io_raster.cv2, "imdecode", refuse)


# --- 1. size caps, from the header, before decoding -------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(200000, 1), (1, 200000)])
def test_one_pixel_line_is_refused_before_decoding(
    tmp_path: Path, no_decoding: None, width: int, height: int
) -> None:
    path = _zero_png(tmp_path / "line.png", width, height)
    assert path.stat().st_size < 1000
    with pytest.raises(ReadError, match=f"image is {width}×{height} pixels"):
        read_image(path)
    entry = read_header(path)
    assert entry.status is Status.ERROR and f"{width}×{height}" in entry.reason


def test_huge_png_is_refused_before_decoding(tmp_path: Path, no_decoding: None) -> None:
    path = _zero_png(tmp_path / "huge.png", 10000, 10000)
    with pytest.raises(ReadError, match="10000×10000 pixels \\(more than the 64-megapixel limit\\)"):
        read_image(path)
    assert "megapixel" in read_header(path).reason


def test_huge_jpeg_frame_header_is_refused_before_decoding(tmp_path: Path, no_decoding: None) -> None:
    ok, buf = cv2.imencode(".jpg", _radiograph())
    data = bytearray(buf.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 30000, 30000)  # rows, columns
    path = tmp_path / "huge.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(ReadError, match="30000×30000 pixels"):
        read_image(path)
    assert read_header(path).status is Status.ERROR


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({"Rows": 20000, "Columns": 20000}, "20000×20000 pixels (more than the 64-megapixel limit)"),
        ({"NumberOfFrames": 3000}, "declares 2.9 GB of pixel data"),
        ({"Rows": 4000, "Columns": 900}, "sides more than 4 to 1 apart"),
    ],
)
def test_dicom_size_is_checked_from_the_header(
    tmp_path: Path, attributes: dict[str, int], reason: str
) -> None:
    path = _dicom(tmp_path / "big.dcm", **attributes)
    entry = read_header(path)
    assert entry.status is Status.ERROR and reason in entry.reason
    with pytest.raises(ReadError, match=re.escape(reason)):
        read_image(path)


@pytest.mark.parametrize(("width", "height"), [(1, 1), (31, 400), (2000, 300)])
def test_tiny_and_elongated_images_are_refused(tmp_path: Path, width: int, height: int) -> None:
    img = cv2.resize(_radiograph(), (width, height), interpolation=cv2.INTER_AREA)
    path = _encode(tmp_path / "odd.png", img)
    with pytest.raises(ReadError, match=f"image is {width}×{height} pixels"):
        read_image(path)
    assert read_header(path).status is Status.ERROR


# --- 2. nothing but ReadError ----------------------------------------------------------------------


def test_memory_error_while_decoding_is_a_read_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(io_raster.cv2, "imdecode", out_of_memory)
    with pytest.raises(ReadError, match="not enough memory"):
        read_image(NIH_PNG)


def test_failing_stat_is_a_read_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = str(tmp_path / "locked.png")
    real_stat = os.stat

    def stat(path: str | os.PathLike[str], *args: object, **kwargs: object) -> os.stat_result:
        if os.fspath(path) == target:
            raise PermissionError(13, "Permission denied", target)
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat)
    with pytest.raises(ReadError, match="Permission denied"):
        read_image(target)


# --- 3. degenerate pixels --------------------------------------------------------------------------


def test_dicom_with_rescale_slope_zero_is_blank(tmp_path: Path) -> None:
    path = _dicom(tmp_path / "slope0.dcm", RescaleSlope=0, RescaleIntercept=100)
    with pytest.raises(ReadError, match="image is blank \\(every pixel has the same value\\)"):
        read_image(path)


def test_constant_png_is_blank(tmp_path: Path) -> None:
    path = _encode(tmp_path / "grey.png", np.full((512, 512), 128, np.uint8))
    with pytest.raises(ReadError, match="image is blank"):
        read_image(path)


def test_nearly_uniform_png_is_nearly_blank(tmp_path: Path) -> None:
    img = np.full((512, 512), 128, np.uint8)
    img[:4, :4] = 255  # a few bright pixels: not blank, but nothing to see
    img[100:300, 100:300] = 129  # and one grey level of "structure"
    with pytest.raises(ReadError, match="nearly blank"):
        read_image(_encode(tmp_path / "flat.png", img))


def test_noise_is_not_a_radiograph(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (512, 512), dtype=np.uint8)
    with pytest.raises(ReadError, match="no structure"):
        read_image(_encode(tmp_path / "noise.png", noise))


def test_not_a_number_is_refused() -> None:
    pixels = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    pixels[10, 10] = np.nan
    with pytest.raises(ReadError, match="not numbers"):
        check_pixels(pixels)


@pytest.mark.parametrize("rows", [512, 2048], ids=["fewer rows", "more rows"])
def test_uncompressed_dicom_whose_size_disagrees_with_its_pixel_data(tmp_path: Path, rows: int) -> None:
    path = _dicom(tmp_path / "rows.dcm", Rows=rows)
    with pytest.raises(ReadError, match="pixel data does not match the image size"):
        read_image(path)


def test_dark_but_real_sixteen_bit_png_is_kept(tmp_path: Path) -> None:
    """A 10-bit radiograph stored in 16 bits spans only 4 of 256 grey levels: dark, not blank."""
    path = _encode(tmp_path / "ten_bit.png", (_radiograph().astype(np.uint16) * 4))
    assert read_image(path).warnings


REAL_IMAGES = sorted(
    p for p in [*SAMPLES.iterdir(), *TRAIN.rglob("*")] if p.suffix in {".png", ".jpg", ".jpeg", ".dcm"}
)


@pytest.mark.parametrize("path", REAL_IMAGES, ids=lambda p: p.name)
def test_every_real_sample_passes_the_checks(path: Path) -> None:
    assert read_image(path).pixels.size


# --- 4. preprocessing never enlarges without a cap -------------------------------------------------


def test_chexnet_resize_caps_the_long_side() -> None:
    assert preprocess._shorter_side_shape((1, 200000), 256) == (256, 1024)
    assert preprocess._shorter_side_shape((200000, 1), 256) == (1024, 256)
    assert preprocess._shorter_side_shape((2128, 2000), 256) == (272, 256)  # normal images: unchanged


@pytest.mark.parametrize("convention", list(Preprocessing))
def test_preprocessing_a_one_pixel_line(convention: Preprocessing) -> None:
    line = np.linspace(0, 1, 2000, dtype=np.float32)[None]
    assert preprocess.prepare(line, convention, 224).shape[-2:] == (224, 224)


# --- 5. annotation: thin images, and the product's own mark ---------------------------------------


def _study(path: Path) -> tuple[RankedStudy, ModelCard]:
    card = ModelCard(
        name="test", version="1", architecture="densenet121", task=Task.MULTILABEL,
        preprocessing=Preprocessing.CHEXNET, labels=(LabelCard("Pneumonia"),), weights_sha256="0" * 64,
    )  # fmt: skip
    meta = ImageMeta(path=path, study_uid="1.2.3")
    result = StudyResult("1.2.3", meta, Status.SCORED, probabilities={"Pneumonia": 0.7})
    study = RankedStudy(0, result, ("Pneumonia",), 0.8, "Pneumonia", 0.7)
    return study, card


@pytest.mark.parametrize("shape", [(1, 3000), (3000, 1), (1, 1)])
def test_render_survives_one_pixel_images(tmp_path: Path, shape: tuple[int, int]) -> None:
    image = XRayImage(np.full(shape, 0.5, np.float32), ImageMeta(path=tmp_path / "x", study_uid="1.2.3"))
    heatmap = Heatmap("Pneumonia", np.full(shape, 0.9, np.float32), 0.7)
    study, card = _study(tmp_path / "x")
    out = annotate.render(image, heatmap, study, card, {"Pneumonia": 0.5})
    assert out.ndim == 3 and out.shape[1] >= 1


def test_written_png_carries_the_mark_and_stays_a_valid_png(tmp_path: Path) -> None:
    bgr = np.dstack([_radiograph()] * 3)
    path = annotate.write_png(bgr, tmp_path / "out" / "0001_x.png")
    data = path.read_bytes()
    assert is_marked(data[:64]) and b"tEXtSoftware\x00CXR Triage" in data
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), bgr)
    assert not is_marked(NIH_PNG.read_bytes()[:64])


# --- 6. decoders stay quiet; what matters becomes a warning ----------------------------------------


def test_truncated_jpeg_warns_instead_of_printing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    ok, buf = cv2.imencode(".jpg", _radiograph())
    data = buf.tobytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) * 6 // 10] + b"\xff\xd9")  # the scan cut short, then the end marker
    image = read_image(path)
    assert TRUNCATED in image.warnings
    assert capfd.readouterr().err == ""


def test_png_colour_profile_warning_is_silent(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    png = _encode(tmp_path / "a.png", _radiograph()).read_bytes()
    bad_profile = _chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(b"not a profile"))
    path = tmp_path / "profile.png"
    path.write_bytes(png[:33] + bad_profile + png[33:])
    image = read_image(path)
    assert image.warnings == ()  # a colour profile does not change grey pixels: nothing to report
    assert capfd.readouterr().err == ""


def test_overflowing_dicom_transform_is_quiet(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], recwarn: pytest.WarningsRecorder
) -> None:
    path = _dicom(tmp_path / "overflow.dcm", RescaleSlope="1e308", RescaleIntercept=0)
    with pytest.raises(ReadError):
        read_image(path)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert capfd.readouterr().err == ""


def test_other_output_during_a_decode_still_reaches_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with decoder_messages() as messages:
        os.write(2, b"libpng warning: IDAT: Too much image data\nanother thread speaks\n")
    assert messages == ["libpng warning: IDAT: Too much image data"]
    assert capfd.readouterr().err == "another thread speaks\n"
