"""Read DICOM CR/DX files: the header into :class:`ImageMeta`, the pixels into :class:`XRayImage`."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset
from pydicom.encaps import get_frame
from pydicom.uid import (
    JPEG2000,
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
)

from inference.api import DisplayScale, ImageMeta, XRayImage
from inference.identity import content_uid
from inference.io.detect import has_dicom_preamble
from inference.io.display import to_display
from inference.io.errors import ReadError, short
from inference.io.fingerprint import dicom_fingerprint
from inference.io.quiet import decoder_messages, notes_from
from inference.io.reduced import area_reduce, j2k_reduced, jpeg_reduced
from inference.io.sanity import check_pixel_data_size, check_pixels, check_size, check_stored_length

# Objects that hold no image at all: skipped by a folder scan, refused by the readers.
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
NON_IMAGE_MODALITIES = frozenset({"SR", "PR", "KO", "DOC", "REG", "SEG", "RTSTRUCT", "RTPLAN", "FID", "AU"})
# Elements larger than this are read from the file only when used: the pixel data, after the size checks.
DEFER_SIZE = "1 MB"
# Compressed syntaxes whose first frame can be decoded at reduced resolution (see inference.io.reduced).
_J2K_SYNTAXES = frozenset({JPEG2000Lossless, JPEG2000})
_JPEG_SYNTAXES = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit})  # 8-bit samples only


def open_dataset(path: Path, *, pixels: bool, force: bool | None = None) -> FileDataset:
    """Parse ``path``; headers only unless ``pixels``. ``force`` None: force only without a preamble."""
    path = Path(path)
    with _parse_errors():
        if force is None:
            with path.open("rb") as fh:
                force = not has_dicom_preamble(fh.read(132))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(
                path, stop_before_pixels=not pixels, force=force, defer_size=DEFER_SIZE if pixels else None
            )
    return _checked(ds, force)


def open_header(path: Path) -> tuple[FileDataset, str]:
    """The header of ``path`` (no pixels decoded) and the fingerprint of its picture
    (:func:`inference.io.fingerprint.dicom_fingerprint`), from one pass over the file."""
    with _parse_errors(), Path(path).open("rb") as fh:
        force = not has_dicom_preamble(fh.read(132))
        fh.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(fh, stop_before_pixels=True, force=force)
        ds = _checked(ds, force)
        return ds, dicom_fingerprint(ds, fh)  # the file from the Pixel Data element on


@contextlib.contextmanager
def _parse_errors() -> Iterator[None]:
    """Any failure to open or parse a file, as a ReadError with a plain reason."""
    try:
        yield
    except ReadError:
        raise
    except OSError as exc:
        raise ReadError(f"cannot open file: {exc.strerror or exc}") from exc
    except Exception as exc:  # pydicom raises many types on malformed input
        raise ReadError(f"not a readable DICOM file ({short(exc)})") from exc


def _checked(ds: FileDataset, forced: bool) -> FileDataset:
    if forced and not _looks_like_image_dicom(ds):
        raise ReadError("not a DICOM file (no DICOM preamble and no image attributes)")
    if "TransferSyntaxUID" not in ds.file_meta:
        _set_syntax_from_encoding(ds)
    return ds


def _set_syntax_from_encoding(ds: FileDataset) -> None:
    """A data set without file meta (no preamble) is native: name the syntax it was parsed with."""
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None or little is None:
        return
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def non_image(ds: Dataset) -> str:
    """Why ``ds`` holds no image (DICOMDIR, structured report, presentation state ...), or ""."""
    sop_class = _get(getattr(ds, "file_meta", None) or Dataset(), "MediaStorageSOPClassUID")
    if sop_class == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds:
        return "not an image (a DICOMDIR, the index of a DICOM folder)"
    modality = _get(ds, "Modality").upper()
    if modality in NON_IMAGE_MODALITIES:
        return f"not an image (a DICOM {modality} object: report, presentation state or similar)"
    return ""


def check_header_size(ds: Dataset) -> None:
    """Refuse, from the header alone, an image too small, too large or too elongated to decode."""
    rows, columns = _int(ds, "Rows"), _int(ds, "Columns")
    if not rows or not columns:
        raise ReadError("the DICOM header gives no image size (Rows, Columns)")
    check_size(columns, rows)
    check_pixel_data_size(_declared_bytes(ds))


def meta_from_dataset(path: Path, ds: Dataset) -> ImageMeta:
    """The header facts of ``ds``; never raises on odd values (they become empty / None)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # over-long or odd values are kept; pydicom only warns
        return _meta(path, ds)


def _meta(path: Path, ds: Dataset) -> ImageMeta:
    study_uid = _get(ds, "StudyInstanceUID") or file_study_key(path)
    return ImageMeta(
        path=Path(path),
        study_uid=study_uid,
        patient_id=_get(ds, "PatientID"),
        patient_name=_get(ds, "PatientName"),
        accession=_get(ds, "AccessionNumber"),
        study_date=_get(ds, "StudyDate"),
        study_time=_get(ds, "StudyTime"),
        modality=_get(ds, "Modality").upper(),
        view_position=_view_position(ds),
        body_part=_get(ds, "BodyPartExamined").upper(),
        photometric=_get(ds, "PhotometricInterpretation").upper(),
        rows=_int(ds, "Rows"),
        columns=_int(ds, "Columns"),
        sop_uid=_get(ds, "SOPInstanceUID"),
        window_center=_first_float(ds, "WindowCenter"),
        window_width=_first_float(ds, "WindowWidth"),
    )


def read_dicom_header(path: Path) -> tuple[ImageMeta, Dataset]:
    """Header only (no pixel data is read). Raises :class:`ReadError`."""
    ds = open_dataset(path, pixels=False)
    return meta_from_dataset(path, ds), ds


def read_dicom(path: Path, min_side: int | None = None) -> XRayImage:
    """Decode the first frame to display-ready [0, 1] float32 pixels. Raises :class:`ReadError` only.

    With ``min_side``, the pixels may be reduced to a shorter side of at least that many (for
    scoring); the header's size checks and the meta's Rows and Columns stay those of the full image.
    """
    ds = open_dataset(path, pixels=True)
    reason = non_image(ds)
    if reason:
        raise ReadError(reason)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise ReadError("the DICOM file has no pixel data")
    check_header_size(ds)
    _check_native_length(ds)
    meta = meta_from_dataset(path, ds)
    notes: list[str] = []
    frames = _int(ds, "NumberOfFrames") or 1
    if frames > 1:
        notes.append(f"multi-frame DICOM ({frames} frames): only the first frame is shown and scored")
    arr = _decode_first_frame(ds, frames, notes, min_side)
    pixels, scale = _display_pixels(arr, ds, notes)
    check_pixels(pixels)
    return XRayImage(pixels=pixels, meta=meta, warnings=tuple(notes), display=scale)


def file_study_key(path: Path) -> str:
    """A stable study key for a file that carries no StudyInstanceUID: derived from its content."""
    return content_uid(path, "study")


def _declared_bytes(ds: Dataset) -> int:
    """Bytes of all frames, uncompressed, as the header's size attributes describe them."""
    values = _int(ds, "Rows") * _int(ds, "Columns") * (_int(ds, "SamplesPerPixel") or 1)
    values *= _int(ds, "NumberOfFrames") or 1
    bits = _int(ds, "BitsAllocated") or 8
    return (values + 7) // 8 if bits == 1 else values * ((bits + 7) // 8)


def _check_native_length(ds: Dataset) -> None:
    """Uncompressed pixel data must be as long as the header says (compressed: the decoder checks)."""
    syntax = _syntax(ds)
    if syntax is None or syntax.is_compressed or "PixelData" not in ds:
        return
    stored = ds.get_item("PixelData")
    length = stored.length if hasattr(stored, "length") else len(stored.value)
    check_stored_length(length, _declared_bytes(ds))


def _syntax(ds: Dataset) -> UID | None:
    file_meta = getattr(ds, "file_meta", None)
    return file_meta.get("TransferSyntaxUID") if file_meta is not None else None


def _decode_first_frame(ds: Dataset, frames: int, notes: list[str], min_side: int | None) -> np.ndarray:
    """Stored values of the first frame; with ``min_side``, reduced (before the grey-scale transforms)."""
    syntax = _syntax(ds)
    syntax_name = getattr(syntax, "name", str(syntax or "unknown transfer syntax"))
    try:
        with warnings.catch_warnings(), decoder_messages() as messages:
            warnings.simplefilter("ignore")
            arr = _reduced_frame(ds, frames, min_side) if min_side else None
            if arr is None:
                if frames > 1:
                    ds.pixel_array_options(index=0)
                arr = ds.pixel_array
    except Exception as exc:
        raise ReadError(f"cannot decode the pixel data ({syntax_name}): {short(exc)}") from exc
    notes.extend(notes_from(messages))
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ReadError(f"unexpected pixel array shape {arr.shape}")
    return area_reduce(arr, min_side) if min_side else arr


def _reduced_frame(ds: Dataset, frames: int, min_side: int) -> np.ndarray | None:
    """The first frame of a grey JPEG 2000 or 8-bit JPEG at reduced resolution, straight from its
    codestream; None for any other data, or when that decode fails (the full decode then decides).
    """
    syntax = _syntax(ds)
    grey = (_int(ds, "SamplesPerPixel") or 1) == 1 and not _int(ds, "PixelRepresentation")
    if not grey or syntax not in _J2K_SYNTAXES | _JPEG_SYNTAXES:
        return None
    try:
        codestream = get_frame(ds.PixelData, 0, number_of_frames=frames)
        if syntax in _J2K_SYNTAXES:
            return j2k_reduced(codestream, min_side, _int(ds, "BitsStored"))
        return jpeg_reduced(codestream, _int(ds, "Rows"), _int(ds, "Columns"), min_side)
    except Exception:
        return None


def _display_pixels(arr: np.ndarray, ds: Dataset, notes: list[str]) -> tuple[np.ndarray, DisplayScale | None]:
    """The grey-scale transforms; numpy's overflow warnings stay quiet (non-numbers are refused later)."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            pixels, display_notes, scale = to_display(arr, ds)
    except ReadError:
        raise
    except Exception as exc:
        raise ReadError(f"cannot apply the DICOM grey-scale transforms ({short(exc)})") from exc
    notes.extend(display_notes)
    return pixels, scale


def _looks_like_image_dicom(ds: Dataset) -> bool:
    try:
        return any(keyword in ds for keyword in ("SOPClassUID", "StudyInstanceUID", "Rows", "Modality"))
    except Exception:
        return False


def _get(ds: Dataset, keyword: str) -> str:
    try:
        value: Any = ds.get(keyword, "")
    except Exception:
        return ""
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue):
        value = value[0] if len(value) else ""
    return str(value).strip()


def _int(ds: Dataset, keyword: str) -> int:
    try:
        return int(ds.get(keyword, 0) or 0)
    except Exception:
        return 0


def _first_float(ds: Dataset, keyword: str) -> float | None:
    try:
        value = ds.get(keyword)
        if value is None or value == "":
            return None
        if isinstance(value, pydicom.multival.MultiValue):
            value = value[0]
        return float(value)
    except Exception:
        return None


def _view_position(ds: Dataset) -> str:
    view = _get(ds, "ViewPosition").upper()
    if view:
        return view
    try:  # fall back to the coded view (e.g. "postero-anterior", "lateral")
        item = ds.ViewCodeSequence[0]
        return str(item.get("CodeMeaning", "")).strip().upper()
    except Exception:
        return ""
