"""Where received and retrieved instances are kept: ``FOLDER/<study UID>/<SOP instance UID>.dcm``,
written atomically, so an interrupted transfer never leaves a half file that looks complete."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from pydicom.dataset import Dataset

from inference.io.atomic import atomic_path

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
UNKNOWN_STUDY = "unknown-study"


def instance_path(folder: Path, study_uid: str, sop_uid: str) -> Path:
    """The file of one instance; UIDs that are not plain UIDs are hashed, never used as path parts."""
    return study_folder(folder, study_uid) / f"{_safe(sop_uid)}.dcm"


def study_folder(folder: Path, study_uid: str) -> Path:
    return folder / (_safe(study_uid) if study_uid else UNKNOWN_STUDY)


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """``write(temporary)`` next to ``path``, then, once it is on disk, rename it into place; a
    failed write leaves no file (:mod:`inference.io.atomic`)."""
    with atomic_path(path) as temporary:
        write(temporary)
    return path


def save_dataset(path: Path, ds: Dataset) -> Path:
    """Write ``ds`` as a DICOM file (preamble and file meta), atomically."""
    return write_atomically(path, lambda target: ds.save_as(target, enforce_file_format=True))


def _safe(uid: str) -> str:
    if _UID.match(uid) and len(uid) <= 64:
        return uid
    return "x" + hashlib.sha256(uid.encode("utf-8", "surrogateescape")).hexdigest()[:40]
