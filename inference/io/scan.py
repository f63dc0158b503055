"""Index files and folders into :class:`ScanEntry` rows, reading DICOM headers only."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from inference.api import ImageMeta, ScanEntry, Status
from inference.io.detect import Kind, classify, may_be_raw_dicom
from inference.io.dicom import file_study_key, is_non_image, meta_from_dataset, open_dataset
from inference.io.eligibility import eligibility
from inference.io.errors import ReadError
from inference.io.raster import read_raster_header

Cancelled = Callable[[], bool]


def read_header(path: Path | str) -> ScanEntry:
    """Index one file without decoding pixels; never raises (problems become ``ERROR`` rows)."""
    entry = _entry(Path(path), explicit=True)
    assert entry is not None  # explicit=True never skips
    return entry


def scan(paths: Iterable[Path | str] | Path | str, cancelled: Cancelled | None = None) -> Iterator[ScanEntry]:
    """Yield one entry per image file under ``paths`` (files or folders, recursive, sorted).

    Non-image files (README, .txt, .json, DICOMDIR, structured reports) are skipped silently; a file
    that claims to be an image but cannot be read becomes an ``ERROR`` row and the scan goes on.
    ``cancelled`` is polled before each file; when it returns True the scan stops.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    for root in paths:
        for file in _walk(Path(root)):
            if cancelled is not None and cancelled():
                return
            entry = _entry(file, explicit=False)
            if entry is not None:
                yield entry


def group_by_study(entries: Iterable[ScanEntry]) -> dict[str, list[ScanEntry]]:
    """Entries keyed by StudyInstanceUID (file key for PNG/JPEG), in first-seen order."""
    groups: dict[str, list[ScanEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.meta.study_uid, []).append(entry)
    return groups


def _walk(root: Path, seen: set[Path] | None = None) -> Iterator[Path]:
    """Files under ``root`` in sorted path order (a folder's entries sorted by name, depth first)."""
    if root.is_file():
        yield root
        return
    seen = set() if seen is None else seen
    real = root.resolve()
    if real in seen:  # a symbolic-link loop
        return
    seen.add(real)
    try:
        children = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for child in children:
        if child.name.startswith("."):
            continue
        path = Path(child.path)
        try:
            is_dir = child.is_dir()
        except OSError:
            continue
        if is_dir:
            yield from _walk(path, seen)
        else:
            yield path


def _entry(path: Path, *, explicit: bool) -> ScanEntry | None:
    """The row for ``path``; None when a folder scan should skip it silently."""
    if not path.is_file():
        return _error(path, "file not found") if explicit else None
    kind = classify(path)
    if kind is None and may_be_raw_dicom(path):
        # No extension and no DICOM preamble: maybe a raw DICOM data set, maybe a README.
        return _dicom_entry(path, explicit=explicit, skip_unreadable=not explicit)
    if kind is None:
        return _error(path, "not a DICOM, PNG or JPEG file") if explicit else None
    if kind is Kind.DICOM:
        return _dicom_entry(path, explicit=explicit, skip_unreadable=False)
    try:
        meta = read_raster_header(path)
    except ReadError as exc:
        return _error(path, str(exc))
    return ScanEntry(meta=meta)


def _dicom_entry(path: Path, *, explicit: bool, skip_unreadable: bool) -> ScanEntry | None:
    try:
        ds = open_dataset(path, pixels=False)
    except ReadError as exc:
        return None if skip_unreadable else _error(path, str(exc))
    if is_non_image(ds):  # DICOMDIR, SR, presentation state ...: not an image to list
        return _error(path, "not an image (DICOMDIR, report or presentation state)") if explicit else None
    meta = meta_from_dataset(path, ds)
    status, reason = eligibility(meta)
    return ScanEntry(meta=meta, status=status, reason=reason)


def _error(path: Path, reason: str) -> ScanEntry:
    meta = ImageMeta(path=path, study_uid=file_study_key(path))
    return ScanEntry(meta=meta, status=Status.ERROR, reason=reason)
