"""Tell DICOM, PNG and JPEG files apart by name and by their first bytes."""

from __future__ import annotations

import enum
import os
import stat
from pathlib import Path


class Kind(enum.StrEnum):
    DICOM = "dicom"
    PNG = "png"
    JPEG = "jpeg"


DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ".dic", ".dcm30"})
PNG_SUFFIXES = frozenset({".png"})
JPEG_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif"})
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def kind_from_suffix(path: Path) -> Kind | None:
    """The kind a file's extension promises, or None."""
    suffix = path.suffix.lower()
    if suffix in DICOM_SUFFIXES:
        return Kind.DICOM
    if suffix in PNG_SUFFIXES:
        return Kind.PNG
    if suffix in JPEG_SUFFIXES:
        return Kind.JPEG
    return None


def not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be opened as an image file, or None for a regular file.

    Decided from ``os.stat`` alone: a named pipe must never be opened (reading it blocks).
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError, ValueError):  # ValueError: a NUL in the name
        return "file not found"
    except OSError as exc:
        return f"cannot open file: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    return "a device, not a file"


def has_dicom_preamble(head: bytes) -> bool:
    """True when the 128-byte preamble is followed by the ``DICM`` prefix (PS3.10 7.1)."""
    return len(head) >= 132 and head[128:132] == b"DICM"


def sniff(path: Path) -> Kind | None:
    """The kind the first bytes of ``path`` show, or None (unreadable files give None too)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
    except OSError:
        return None
    if has_dicom_preamble(head):
        return Kind.DICOM
    if head.startswith(PNG_MAGIC):
        return Kind.PNG
    if head.startswith(JPEG_MAGIC):
        return Kind.JPEG
    return None


def may_be_raw_dicom(path: Path) -> bool:
    """Files that may hold DICOM without a preamble: no extension, or a numeric one (UID-like names)."""
    if path.name.startswith("."):
        return False
    suffix = path.suffix
    return suffix == "" or suffix[1:].isdigit() or path.suffix.lower() in DICOM_SUFFIXES


def classify(path: Path) -> Kind | None:
    """The kind to read ``path`` as: by content first, then by extension; None for other files.

    An image extension wins over unrecognised content so that a corrupt ``.png`` is reported, not skipped.
    """
    return sniff(path) or kind_from_suffix(path)
