"""Read DICOM CR/DX files: the header into :class:`ImageMeta`, the pixels into :class:`XRayImage`."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from inference.api import ImageMeta, XRayImage
from inference.io.detect import has_dicom_preamble
from inference.io.display import to_display
from inference.io.errors import ReadError

# Objects that hold no image at all: skipped by a folder scan, refused by the readers.
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
NON_IMAGE_MODALITIES = frozenset({"SR", "PR", "KO", "DOC", "REG", "SEG", "RTSTRUCT", "RTPLAN", "FID", "AU"})


def open_dataset(path: Path, *, pixels: bool, force: bool | None = None) -> FileDataset:
    """Parse ``path``; headers only unless ``pixels``. ``force`` None: force only without a preamble."""
    path = Path(path)
    try:
        if force is None:
            with path.open("rb") as fh:
                force = not has_dicom_preamble(fh.read(132))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=not pixels, force=force)
    except ReadError:
        raise
    except OSError as exc:
        raise ReadError(f"cannot open file: {exc.strerror or exc}") from exc
    except Exception as exc:  # pydicom raises many types on malformed input
        raise ReadError(f"not a readable DICOM file ({_short(exc)})") from exc
    if force and not _looks_like_image_dicom(ds):
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


def is_non_image(ds: Dataset) -> bool:
    """True for DICOMDIR, structured reports, presentation states and similar non-image objects."""
    sop_class = _get(getattr(ds, "file_meta", None) or Dataset(), "MediaStorageSOPClassUID")
    if sop_class == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds:
        return True
    return _get(ds, "Modality").upper() in NON_IMAGE_MODALITIES


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


def read_dicom(path: Path) -> XRayImage:
    """Decode the first frame to display-ready [0, 1] float32 pixels. Raises :class:`ReadError` only."""
    ds = open_dataset(path, pixels=True)
    if is_non_image(ds):
        raise ReadError(f"not an image (DICOM {_get(ds, 'Modality') or 'directory'} object)")
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise ReadError("the DICOM file has no pixel data")
    meta = meta_from_dataset(path, ds)
    notes: list[str] = []
    frames = _int(ds, "NumberOfFrames") or 1
    if frames > 1:
        notes.append(f"multi-frame DICOM ({frames} frames): only the first frame is shown and scored")
    arr = _decode_first_frame(ds, frames)
    try:
        pixels, display_notes = to_display(arr, ds)
    except ReadError:
        raise
    except Exception as exc:
        raise ReadError(f"cannot apply the DICOM grey-scale transforms ({_short(exc)})") from exc
    return XRayImage(pixels=pixels, meta=meta, warnings=tuple(notes + display_notes))


def file_study_key(path: Path) -> str:
    """A stable study key for a file that carries no StudyInstanceUID: its resolved path."""
    return f"file:{Path(path).resolve()}"


def _decode_first_frame(ds: Dataset, frames: int) -> np.ndarray:
    file_meta = getattr(ds, "file_meta", None)
    syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    syntax_name = getattr(syntax, "name", str(syntax or "unknown transfer syntax"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if frames > 1:
                ds.pixel_array_options(index=0)
            arr = ds.pixel_array
    except Exception as exc:
        raise ReadError(f"cannot decode the pixel data ({syntax_name}): {_short(exc)}") from exc
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ReadError(f"unexpected pixel array shape {arr.shape}")
    return arr


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


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
