"""Stable identities for files that carry no DICOM UIDs (PNG, JPEG, headers without a study UID).

A UID is derived from the SHA-256 of the file's bytes: the same image gets the same UIDs wherever
it lies, and no UID reveals the file's name. A file that cannot be read is identified by its path.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from inference.api import ImageMeta

UUID_ROOT = "2.25"  # PS3.5 B.2: a UID made of a 128-bit number under 2.25
CHUNK = 1 << 20


def image_uid(meta: ImageMeta) -> str:
    """The image's SOP Instance UID, else one derived from the file's content."""
    return meta.sop_uid or content_uid(meta.path, "image")


def content_uid(path: Path, purpose: str) -> str:
    """A UID for ``purpose`` ("study", "image") derived from the file's content."""
    return _uid(file_digest(path), purpose)


def file_uids(path: Path) -> tuple[str, str]:
    """(study UID, image UID) of a file that is its own study, from one pass over its bytes."""
    digest = file_digest(path)
    return _uid(digest, "study"), _uid(digest, "image")


def file_digest(path: Path) -> bytes:
    """SHA-256 of the file's bytes; of its absolute path when it cannot be read or is no regular file
    (a named pipe is never opened: reading it would block)."""
    digest = hashlib.sha256()
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return _path_digest(path)
        with Path(path).open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    except OSError:
        return _path_digest(path)
    return digest.digest()


def _path_digest(path: Path) -> bytes:
    return hashlib.sha256(b"path\0" + os.fsencode(os.path.abspath(path))).digest()


def _uid(digest: bytes, purpose: str) -> str:
    number = int.from_bytes(hashlib.sha256(purpose.encode() + b"\0" + digest).digest()[:16], "big")
    return f"{UUID_ROOT}.{number}"
