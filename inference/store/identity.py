"""Stable identities of images that carry no DICOM UID (PNG, JPEG, unreadable files)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from inference.api import ImageMeta

UUID_ROOT = "2.25"  # PS3.5 B.2: a UID made of a 128-bit number under 2.25
CHUNK = 1 << 20


def image_uid(meta: ImageMeta) -> str:
    """The image's SOP Instance UID, else a UID derived from the file's content (its path if unreadable)."""
    return meta.sop_uid or content_uid(meta.path)


def content_uid(path: Path, purpose: str = "image") -> str:
    """A UID under 2.25 from the SHA-256 of the file's bytes and ``purpose`` (image, study, ...).

    The same bytes give the same UID wherever the file lies; a file that cannot be read is
    identified by its absolute path instead.
    """
    digest = hashlib.sha256(purpose.encode() + b"\0")
    try:
        with Path(path).open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    except OSError:
        digest.update(b"path\0" + os.fsencode(os.path.abspath(path)))
    return f"{UUID_ROOT}.{int.from_bytes(digest.digest()[:16], 'big')}"
