"""File names of the viewer's exported images: ``<accession or file stem>_<finding>.png``, safe on any
file system, never overwriting an earlier export (``_2``, ``_3``, …). While the reader hides patient
identifiers the study is named by its opaque id alone (``study-…``, as the worklist export names it):
accessions and file names can carry patient names."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from inference.api import ImageMeta
from inference.worklist.deidentify import opaque_id

UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")  # also "_": runs of anything else become one "_"
MAX_PART = 100  # characters of the study's part; file systems allow 255 bytes in all
# Names Windows refuses for a file whatever its extension.
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10))}


def export_stem(study_uid: str, meta: ImageMeta, finding: str, deidentify: bool) -> str:
    """The name, without its extension, of an export of the study showing ``finding`` (may be "")."""
    study = opaque_id(study_uid, "study") if deidentify else _safe(meta.accession or meta.path.stem)
    return "_".join(part for part in (study, _safe(finding) if finding else "") if part)


def unused_path(folder: Path, stem: str, taken: Collection[Path] = (), suffix: str = ".png") -> Path:
    """``folder/stem.png``, or the first of ``stem_2.png``, ``stem_3.png``, … that neither exists nor
    is ``taken`` (by an export being written)."""
    path, n = folder / f"{stem}{suffix}", 2
    while path.exists() or path in taken:
        path, n = folder / f"{stem}_{n}{suffix}", n + 1
    return path


def _safe(text: str) -> str:
    """Letters, digits, "." and "-" kept, anything else one "_"; never empty, hidden or reserved."""
    safe = UNSAFE.sub("_", text).strip("._-")[:MAX_PART].rstrip("._-") or "image"
    return f"{safe}_" if safe.split(".")[0].upper() in RESERVED else safe
