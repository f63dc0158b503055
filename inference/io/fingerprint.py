"""What an image's result was scored from: a fingerprint of its pixel data and of the header that
changes the picture.

A SOP Instance UID names an image, but the same UID can arrive with other content: a modality that
re-sends a corrected image, a copy whose photometric interpretation was fixed, an interrupted transfer
followed by the complete one. The study store keeps each result with the fingerprint of what was scored
and reuses it only for the same fingerprint (:meth:`inference.store.Store.reusable_results`).

For DICOM: the SHA-256 of the header elements below (their values as parsed) and of the file's bytes
from the Pixel Data element to the end, as stored (a transcoded copy of the same pixels is new
content). A PNG or JPEG is identified by its content already, so its image UID is its fingerprint.
"""

from __future__ import annotations

import hashlib
from typing import BinaryIO

from pydicom.dataset import Dataset

CHUNK = 1 << 20
# The elements that change the picture a reader (and the network) sees: size and sample layout, the
# Modality LUT, the VOI LUT, the photometric interpretation and the presentation LUT.
PICTURE_KEYWORDS = (
    "Rows", "Columns", "SamplesPerPixel", "PlanarConfiguration", "NumberOfFrames", "BitsAllocated",
    "BitsStored", "HighBit", "PixelRepresentation", "PixelPaddingValue", "PixelPaddingRangeLimit",
    "PhotometricInterpretation", "RescaleSlope", "RescaleIntercept", "RescaleType", "ModalityLUTSequence",
    "WindowCenter", "WindowWidth", "VOILUTFunction", "VOILUTSequence", "PresentationLUTShape",
)  # fmt: skip


def dicom_fingerprint(ds: Dataset, rest: BinaryIO) -> str:
    """The fingerprint of a data set parsed up to its Pixel Data, ``rest`` being the file from there."""
    digest = hashlib.sha256()
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "")
    digest.update(f"TransferSyntaxUID={syntax}\n".encode())
    for keyword in PICTURE_KEYWORDS:
        if keyword in ds:
            digest.update(f"{keyword}={ds[keyword].value!r}\n".encode(errors="backslashreplace"))
    digest.update(b"PixelData\n")
    while chunk := rest.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()
