"""Whether the study the PACS dialog's Send tab offers can be sent: only a scored DICOM study can, as
its SR and Secondary Capture are filed under the study's DICOM images, which a PNG or JPEG study does
not have."""

from __future__ import annotations

from inference.api import ImageMeta
from viewer.core.worklist import RowState, StudyRow

NO_STUDY = "Select a scored study in the worklist first."
NOT_DICOM = (
    "Only DICOM studies can be sent: this study is a PNG or JPEG image, which has no DICOM study in the"
    " PACS to file its findings under."
)


def is_dicom(meta: ImageMeta) -> bool:
    """Only a DICOM header gives an image a photometric interpretation (type 1 in every DICOM image;
    PNG and JPEG images have none: :func:`inference.io.raster.raster_meta`)."""
    return bool(meta.photometric)


def why_not_sendable(row: StudyRow | None) -> str:
    """Why the study ``row`` cannot be sent, or "" when it can."""
    if row is None:
        return NO_STUDY
    if not is_dicom(row.meta):
        return NOT_DICOM
    return "" if row.state is RowState.SCORED else NO_STUDY
