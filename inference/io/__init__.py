"""Image readers: DICOM CR/DX, PNG and JPEG into the typed contract of :mod:`inference.api`.

``scan``/``read_header`` index files without decoding pixels; ``read_image`` decodes one file to
display-ready [0, 1] float32 pixels and raises :class:`ReadError` (a user-facing reason) on any failure.
"""

from __future__ import annotations

from pathlib import Path

from inference.api import XRayImage
from inference.io.detect import Kind, classify, may_be_raw_dicom, not_a_file
from inference.io.dicom import read_dicom
from inference.io.errors import ReadError, short
from inference.io.raster import read_raster
from inference.io.scan import group_by_study, read_header, scan

__all__ = ["ReadError", "group_by_study", "read_header", "read_image", "scan"]


def read_image(path: Path | str, min_side: int | None = None) -> XRayImage:
    """Decode one DICOM/PNG/JPEG file. Raises :class:`ReadError` only, with a user-facing reason.

    ``min_side`` (for scoring): the pixels may come reduced, their shorter side at least this long,
    decoded at the cheapest resolution the format offers (:mod:`inference.io.reduced`). None: full
    resolution, as the viewer and exports need.

    Whatever goes wrong inside (a decoder's exception, running out of memory) becomes a ReadError:
    the scoring pipeline relies on this to turn any bad file into an error row and go on.
    """
    try:
        return _read(Path(path), min_side)
    except ReadError:
        raise
    except MemoryError as exc:
        raise ReadError("not enough memory to decode the image") from exc
    except Exception as exc:  # last line of defence: no traceback reaches the user
        raise ReadError(f"unexpected error while reading ({type(exc).__name__}: {short(exc)})") from exc


def _read(path: Path, min_side: int | None) -> XRayImage:
    problem = not_a_file(path)
    if problem is not None:
        raise ReadError(problem)
    kind = classify(path)
    if kind is Kind.DICOM or (kind is None and may_be_raw_dicom(path)):
        return read_dicom(path, min_side)
    if kind in (Kind.PNG, Kind.JPEG):
        return read_raster(path, min_side)
    raise ReadError("not a DICOM, PNG or JPEG file")
