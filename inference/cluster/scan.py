"""Scanning split into units that Ray tasks read in parallel, merged back into ``scan``'s own order.

A named folder is cut, two levels deep, into its subfolders (each scanned whole) and, per folder
above them, its direct files; every unit is one :func:`inference.io.scan` call, so the rules for what
is an image, what is skipped and what is an error row stay in :mod:`inference.io.scan`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from inference.api import ScanEntry
from inference.io import scan
from inference.io.scan import EMPTY_FOLDER

SPLIT_LEVELS = 2  # how deep named folders are cut into units


@dataclass(frozen=True)
class ScanUnit:
    """One scan task: ``path`` (a named file, or a folder less its ``split_off`` subfolders)."""

    root: int  # index of the named path this unit belongs to
    path: Path
    split_off: tuple[Path, ...] = ()  # subfolders scanned by their own units
    excluded: tuple[Path, ...] = ()  # never entered (the output folder)


def plan_units(paths: Sequence[Path], exclude: Iterable[Path] = ()) -> list[ScanUnit]:
    """The scan units of ``paths``: listing folders only, no file is opened here."""
    excluded = tuple(Path(p).resolve() for p in exclude)
    return [unit for index, path in enumerate(paths) for unit in _split(index, path, excluded, SPLIT_LEVELS)]


def _split(root: int, folder: Path, excluded: tuple[Path, ...], levels: int) -> list[ScanUnit]:
    subfolders = _subfolders(folder, excluded) if levels > 0 else []
    if not subfolders:
        return [ScanUnit(root, folder, (), excluded)]
    units = [ScanUnit(root, folder, tuple(subfolders), excluded)]
    for sub in subfolders:
        units += _split(root, sub, excluded, levels - 1)
    return units


def _subfolders(folder: Path, excluded: tuple[Path, ...]) -> list[Path]:
    """Visible subfolders of ``folder`` that a scan would enter (none when it is not a folder)."""
    try:
        with os.scandir(folder) as listing:
            children = [Path(c.path) for c in listing if not c.name.startswith(".") and _is_dir(c)]
    except OSError:
        return []  # not a folder, or unreadable: the unit's own scan reports it
    return sorted((c for c in children if c.resolve() not in excluded), key=lambda c: c.name)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def scan_unit(unit: ScanUnit) -> list[ScanEntry]:
    """The rows of one unit (runs on a worker). A subfolder without images is no error of its own:
    only a named folder with no image at all is, and :func:`merge` decides that."""
    rows = scan(unit.path, exclude=[*unit.excluded, *unit.split_off])
    return [e for e in rows if not (e.reason == EMPTY_FOLDER and e.meta.path == unit.path)]


def merge(
    paths: Sequence[Path], units: Sequence[ScanUnit], rows: Sequence[list[ScanEntry]]
) -> list[ScanEntry]:
    """All rows in the order one ``scan(paths)`` gives: by named path, then by path (folders are
    walked in name order, depth first); a named folder that gave no row is scanned again here, for
    its one "no image" row."""
    by_root: list[list[ScanEntry]] = [[] for _ in paths]
    for unit, found in zip(units, rows, strict=True):
        by_root[unit.root].extend(found)
    entries: list[ScanEntry] = []
    for index, found in enumerate(by_root):
        if not found:
            excluded = {p for u in units if u.root == index for p in u.excluded}
            found = list(scan(paths[index], exclude=excluded))
        entries += sorted(found, key=lambda e: e.meta.path.parts)
    return entries
