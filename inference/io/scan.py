"""Index files and folders into :class:`ScanEntry` rows, reading DICOM headers only."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from inference.api import ImageMeta, ScanEntry, Status
from inference.io.detect import Kind, classify, may_be_raw_dicom, not_a_file
from inference.io.dicom import check_header_size, file_study_key, meta_from_dataset, non_image, open_header
from inference.io.eligibility import eligibility
from inference.io.errors import ReadError
from inference.io.marker import MARK_END, is_marked
from inference.io.raster import read_raster_header

Cancelled = Callable[[], bool]
EMPTY_FOLDER = "no DICOM, PNG or JPEG image in this folder"
OWN_OUTPUT = "an annotated image written by CXR Triage, not a radiograph"


def read_header(path: Path | str) -> ScanEntry:
    """Index one file without decoding pixels; never raises (problems become ``ERROR`` rows)."""
    entry = _entry(Path(path), explicit=True)
    assert entry is not None  # explicit=True never skips
    return entry


def scan(
    paths: Iterable[Path | str] | Path | str,
    cancelled: Cancelled | None = None,
    exclude: Iterable[Path | str] = (),
) -> Iterator[ScanEntry]:
    """Yield one entry per image file under ``paths`` (files or folders, recursive, sorted).

    In folders, non-image files (README, .txt, .json, DICOMDIR, structured reports, pipes, the
    product's own annotated PNGs) are skipped silently; a file that claims to be an image but cannot
    be read, and a sub-folder that cannot be listed, become ``ERROR`` rows and the scan goes on. A path
    named in ``paths`` always gives at least one row: a non-image file, a pipe or a folder without
    images is an ``ERROR`` row. Folders in ``exclude`` (e.g. the output folder) are never entered.
    ``cancelled`` is polled before each file; when it returns True the scan stops.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    excluded = {Path(p).resolve() for p in exclude}
    for root in map(Path, paths):
        found = False
        for item in _root_items(root, excluded):
            if cancelled is not None and cancelled():
                return
            entry = item if isinstance(item, ScanEntry) else _entry(item, explicit=False)
            if entry is not None:
                found = True
                yield entry
        if not found and root.is_dir() and root.resolve() not in excluded:
            if cancelled is not None and cancelled():
                return
            yield _error(root, EMPTY_FOLDER)


def group_by_study(entries: Iterable[ScanEntry]) -> dict[str, list[ScanEntry]]:
    """Entries keyed by StudyInstanceUID (file key for PNG/JPEG), in first-seen order."""
    groups: dict[str, list[ScanEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.meta.study_uid, []).append(entry)
    return groups


def _root_items(root: Path, excluded: set[Path]) -> Iterator[Path | ScanEntry]:
    """A named folder's files (and folder errors), or the row of a named file, pipe or missing path."""
    if root.is_dir():
        yield from _walk(root, set(), excluded)
        return
    entry = _entry(root, explicit=True)
    assert entry is not None  # explicit=True never skips
    yield entry


def _walk(folder: Path, seen: set[Path], excluded: set[Path]) -> Iterator[Path | ScanEntry]:
    """Regular files under ``folder`` in sorted path order (entries sorted by name, depth first).

    A folder that cannot be listed is an ``ERROR`` row; pipes, sockets and devices are skipped
    without being opened; symbolic-link loops and ``excluded`` folders are not entered.
    """
    real = folder.resolve()
    if real in seen or real in excluded:
        return
    seen.add(real)
    try:
        with os.scandir(folder) as listing:
            children = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        yield _error(folder, f"folder cannot be read: {exc.strerror or exc}")
        return
    for child in children:
        if child.name.startswith("."):
            continue
        try:
            is_dir, is_file = child.is_dir(), child.is_file()
        except OSError:
            continue
        if is_dir:
            yield from _walk(Path(child.path), seen, excluded)
        elif is_file:
            yield Path(child.path)


def _entry(path: Path, *, explicit: bool) -> ScanEntry | None:
    """The row for ``path``; None when a folder scan should skip it silently."""
    problem = not_a_file(path)
    if problem is not None:
        return _error(path, problem) if explicit else None
    kind = classify(path)
    if kind is None and may_be_raw_dicom(path):
        # No extension and no DICOM preamble: maybe a raw DICOM data set, maybe a README.
        return _dicom_entry(path, explicit=explicit, skip_unreadable=not explicit)
    if kind is None:
        return _error(path, "not a DICOM, PNG or JPEG file") if explicit else None
    if kind is Kind.DICOM:
        return _dicom_entry(path, explicit=explicit, skip_unreadable=False)
    if kind is Kind.PNG and _written_by_us(path):
        return _error(path, OWN_OUTPUT) if explicit else None
    try:
        meta = read_raster_header(path)
    except ReadError as exc:
        return _error(path, str(exc))
    return ScanEntry(meta=meta)


def _dicom_entry(path: Path, *, explicit: bool, skip_unreadable: bool) -> ScanEntry | None:
    try:
        ds, fingerprint = open_header(path)
    except ReadError as exc:
        return None if skip_unreadable else _error(path, str(exc))
    reason = non_image(ds)
    if reason:  # DICOMDIR, SR, presentation state ...: not an image to list
        return _error(path, reason) if explicit else None
    meta = dataclasses.replace(meta_from_dataset(path, ds), fingerprint=fingerprint)
    try:
        check_header_size(ds)
    except ReadError as exc:
        return ScanEntry(meta=meta, status=Status.ERROR, reason=str(exc))
    status, reason = eligibility(meta)
    return ScanEntry(meta=meta, status=status, reason=reason)


def _written_by_us(path: Path) -> bool:
    """True for a PNG carrying the product's mark (an annotated export)."""
    try:
        with path.open("rb") as fh:
            return is_marked(fh.read(MARK_END))
    except OSError:
        return False


def _error(path: Path, reason: str) -> ScanEntry:
    meta = ImageMeta(path=path, study_uid=file_study_key(path))
    return ScanEntry(meta=meta, status=Status.ERROR, reason=reason)
