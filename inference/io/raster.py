"""Read PNG and JPEG radiographs (8- or 16-bit, grey or colour) into :class:`XRayImage`."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from inference.api import DisplayScale, ImageMeta, XRayImage
from inference.identity import file_uids
from inference.io.detect import JPEG_MAGIC, PNG_MAGIC
from inference.io.errors import ReadError
from inference.io.quiet import decoder_messages, notes_from
from inference.io.reduced import area_reduce, jpeg_scale_flag
from inference.io.sanity import check_pixels, check_size

_JPEG_EOI = b"\xff\xd9"


def raster_meta(path: Path, rows: int = 0, columns: int = 0) -> ImageMeta:
    """Metadata of a PNG/JPEG: one study per file, its UIDs derived from the file's content (so the
    image UID is also the fingerprint of what is scored)."""
    path = Path(path)
    study_uid, sop_uid = file_uids(path)
    return ImageMeta(
        path=path, study_uid=study_uid, sop_uid=sop_uid, rows=rows, columns=columns, fingerprint=sop_uid
    )


def read_raster_header(path: Path) -> ImageMeta:
    """Check the signature and the size without decoding pixels. Raises :class:`ReadError`."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(64 * 1024)
    except OSError as exc:
        raise ReadError(f"cannot open file: {exc.strerror or exc}") from exc
    rows, columns = _checked_size(head)
    return raster_meta(path, rows, columns)


def _checked_size(head: bytes) -> tuple[int, int]:
    """Rows and columns from a PNG's IHDR or a JPEG's frame header, within the sanity limits."""
    if head.startswith(PNG_MAGIC):
        if len(head) < 24 or head[12:16] != b"IHDR":
            raise ReadError("corrupt PNG file (no IHDR header)")
        columns, rows = struct.unpack(">II", head[16:24])
    elif head.startswith(JPEG_MAGIC):
        rows, columns = _jpeg_size(head)
    else:
        raise ReadError("not a PNG or JPEG image (unrecognised file signature)")
    check_size(columns, rows)
    return rows, columns


def read_raster(path: Path, min_side: int | None = None) -> XRayImage:
    """Decode a PNG/JPEG; scale by the dtype's maximum (255 or 65535), not by the image's.

    With ``min_side``, the pixels may be reduced to a shorter side of at least that many (for
    scoring: JPEG scaled while decoding, then area averaging); the meta keeps the full size.
    """
    path = Path(path)
    try:
        data = path.read_bytes()  # bytes + imdecode: works with non-ASCII paths on every OS
    except OSError as exc:
        raise ReadError(f"cannot open file: {exc.strerror or exc}") from exc
    rows, columns = _checked_size(data)
    jpeg = data.startswith(JPEG_MAGIC)
    if jpeg and _JPEG_EOI not in data[-4096:]:
        raise ReadError("truncated JPEG file (no end-of-image marker)")
    notes: list[str] = []
    scale_flag = jpeg_scale_flag(rows, columns, min_side) if jpeg and min_side else 0
    img = _to_gray(_decode(data, notes, scale_flag), notes)
    if min_side:
        img = area_reduce(img, min_side)
    if img.dtype == np.uint8:
        scale = 255.0
    elif img.dtype == np.uint16:
        scale = 65535.0
        if int(img.max()) < 4096:
            notes.append("16-bit image uses at most 12 bits: it will look dark (scaled by 65535)")
    else:
        raise ReadError(f"unsupported pixel type {img.dtype}")
    pixels = (img.astype(np.float32) / np.float32(scale)).astype(np.float32)
    check_pixels(pixels)
    meta = raster_meta(path, rows=rows, columns=columns)
    display = DisplayScale(black=0.0, white=scale)  # the stored values, as the reader sees them
    return XRayImage(pixels=np.ascontiguousarray(pixels), meta=meta, warnings=tuple(notes), display=display)


def _decode(data: bytes, notes: list[str], scale_flag: int = 0) -> np.ndarray:
    """OpenCV's decode, its libpng/libjpeg messages kept off stderr (those that matter become notes).

    ``scale_flag``: a JPEG's DCT scaling (:func:`inference.io.reduced.jpeg_scale_flag`), 0 for none.
    """
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR | scale_flag
    try:
        with decoder_messages() as messages:
            img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error as exc:
        raise ReadError(f"corrupt image file ({str(exc).strip().splitlines()[-1]})") from exc
    if img is None or img.size == 0:
        detail = f": {messages[-1]}" if messages else ""
        raise ReadError(f"corrupt or truncated image file (the decoder returned nothing{detail})")
    notes.extend(notes_from(messages))
    return img


def _to_gray(img: np.ndarray, notes: list[str]) -> np.ndarray:
    if img.ndim == 2:
        return img
    if img.ndim == 3 and img.shape[2] == 1:
        return img[..., 0]
    if img.ndim == 3 and img.shape[2] in (3, 4):
        bgr = img[..., :3]
        if not (np.array_equal(bgr[..., 0], bgr[..., 1]) and np.array_equal(bgr[..., 1], bgr[..., 2])):
            notes.append("colour image converted to grey-scale")
        return cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2GRAY)
    raise ReadError(f"unsupported image shape {img.shape}")


def _jpeg_size(head: bytes) -> tuple[int, int]:
    """Rows and columns from the first SOF marker; raises :class:`ReadError` if none is found."""
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            raise ReadError("corrupt JPEG file (bad marker)")
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", head[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(head):
                break
            rows, columns = struct.unpack(">HH", head[i + 5 : i + 9])
            return rows, columns
        if marker in (0xD9, 0xDA) or length < 2:
            break
        i += 2 + length
    raise ReadError("corrupt JPEG file (no frame header)")
