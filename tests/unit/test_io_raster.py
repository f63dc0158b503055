"""PNG/JPEG reading: bit depth, colour, scaling by dtype maximum, corrupt and truncated files."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.io import ReadError, read_header, read_image

SAMPLES = Path(__file__).parents[2] / "resources" / "samples"
NIH_PNG = SAMPLES / "00000001_000.png"
PADCHEST_JPG = SAMPLES / "16747_3_1.jpg"


def _stored(path: Path) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)


def _write(path: Path, img: np.ndarray, ext: str) -> Path:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def test_8bit_png_scaled_by_255() -> None:
    image = read_image(NIH_PNG)
    stored = _stored(NIH_PNG)
    assert image.pixels.dtype == np.float32 and image.pixels.shape == stored.shape == (512, 512)
    np.testing.assert_allclose(image.pixels, stored / 255.0, atol=1e-6)
    assert image.meta.rows == 512 and image.meta.columns == 512


def test_16bit_png_scaled_by_65535_not_by_image_max(tmp_path: Path) -> None:
    stored = (_stored(NIH_PNG).astype(np.uint16) * 128).astype(np.uint16)  # max 32640, half range
    path = _write(tmp_path / "sixteen.png", stored, ".png")
    image = read_image(path)
    np.testing.assert_allclose(image.pixels, stored / 65535.0, atol=1e-6)
    assert 0.45 < float(image.pixels.max()) < 0.55


def test_rgb_jpeg_is_converted_to_gray(tmp_path: Path) -> None:
    gray = _stored(NIH_PNG)
    bgr = np.dstack([gray, gray, gray])
    bgr[:40, :40] = (255, 0, 0)  # a blue patch: the file is truly colour
    path = _write(tmp_path / "colour.jpg", bgr, ".jpg")
    image = read_image(path)
    assert image.pixels.ndim == 2 and image.pixels.shape == gray.shape
    assert abs(float(image.pixels[100:, 100:].mean()) - float(gray[100:, 100:].mean()) / 255.0) < 0.01
    assert any("colour" in w for w in image.warnings)


def test_gray_jpeg_sample_reads() -> None:
    image = read_image(PADCHEST_JPG)
    assert image.pixels.shape == (885, 1036)
    assert float(image.pixels.min()) >= 0.0 and float(image.pixels.max()) <= 1.0


def test_non_ascii_path(tmp_path: Path) -> None:
    target = tmp_path / "Röntgen_胸部" / "Thorax_ä.png"
    target.parent.mkdir()
    shutil.copy(NIH_PNG, target)
    np.testing.assert_array_equal(read_image(target).pixels, read_image(NIH_PNG).pixels)


def test_corrupt_png_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(ReadError):
        read_image(path)
    assert read_header(path).status == "error"


def test_random_bytes_named_png_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ReadError, match="PNG or JPEG"):
        read_image(path)


@pytest.mark.parametrize("source", [NIH_PNG, PADCHEST_JPG], ids=lambda p: p.suffix)
def test_truncated_raster_is_a_read_error(tmp_path: Path, source: Path) -> None:
    data = source.read_bytes()
    path = tmp_path / f"truncated{source.suffix}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError):
        read_image(path)
