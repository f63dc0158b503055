"""Training datasets: an NIH-style CSV (multi-label) or a folder of class folders (multi-class)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".dcm", ".tif", ".tiff", ".bmp"}
NO_FINDING = "No Finding"
PATH_COLUMNS = ("image", "path", "Image Index", "file")
LABEL_COLUMNS = ("finding_labels", "labels", "Finding Labels", "label")
PATIENT_COLUMNS = ("patient_id", "Patient ID", "patient")
VIEW_COLUMNS = ("view", "View Position", "view_position")


@dataclass(frozen=True)
class Sample:
    """One training image. ``annotated`` lists the labels its source annotates (None: every label)."""

    path: Path
    source: str
    patient: str
    findings: frozenset[str]
    annotated: frozenset[str] | None = None
    view: str = ""


def _column(header: list[str], names: tuple[str, ...], required: bool = True) -> str | None:
    for name in names:
        if name in header:
            return name
    if required:
        raise ValueError(f"CSV needs one of the columns {names}; it has {header}")
    return None


def read_csv(path: Path, source: str = "") -> list[Sample]:
    """NIH style: image path (relative to the CSV), ``|``-separated findings or 'No Finding'."""
    path = Path(path)
    source = source or path.parent.name
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        col_path, col_lab = _column(header, PATH_COLUMNS), _column(header, LABEL_COLUMNS)
        col_pat, col_view = _column(header, PATIENT_COLUMNS, False), _column(header, VIEW_COLUMNS, False)
        samples = []
        for row in reader:
            image = path.parent / row[col_path]
            labels = {s.strip() for s in row[col_lab].split("|") if s.strip()} - {NO_FINDING}
            patient = row[col_pat].strip() if col_pat else image.stem
            samples.append(
                Sample(
                    path=image,
                    source=source,
                    patient=f"{source}:{patient}",
                    findings=frozenset(labels),
                    view=(row[col_view].strip().upper() if col_view else ""),
                )
            )
    return samples


def patient_key(file_name: str) -> str:
    """Patient of a Kermany-style file: ``personNNN_...``; ``IM-xxxx-...`` / ``NORMAL2-IM-xxxx-...``."""
    stem = Path(file_name).stem
    if m := re.match(r"(person\d+)_", stem):
        return m.group(1)
    if m := re.match(r"((?:[A-Za-z0-9]+-)?IM-\d+)-", stem):
        return m.group(1)
    return stem


def read_folder(path: Path, source: str = "", class_map: dict[str, str] | None = None) -> list[Sample]:
    """A folder of class folders. Without ``class_map`` the folder names are mutually exclusive
    classes; with it, each folder maps to one multi-label finding ('' = no finding)."""
    path = Path(path)
    source = source or path.name
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"{path}: no class folders")
    annotated = frozenset(v for v in (class_map or {}).values() if v) if class_map is not None else None
    samples = []
    for cls in classes:
        if class_map is not None and cls not in class_map:
            continue
        finding = class_map[cls] if class_map is not None else cls
        for file in sorted((path / cls).rglob("*")):
            if file.suffix.lower() in IMAGE_SUFFIXES and file.is_file():
                samples.append(
                    Sample(
                        path=file,
                        source=source,
                        patient=f"{source}:{patient_key(file.name)}",
                        findings=frozenset({finding} if finding else ()),
                        annotated=annotated,
                    )
                )
    return samples


def read_dataset(spec: str, class_map: dict[str, str] | None = None) -> list[Sample]:
    """``[SOURCE=]PATH``: a CSV file or a folder of class folders."""
    source, _, raw = spec.rpartition("=") if "=" in spec else ("", "", spec)
    path = Path(raw)
    if path.is_file() and path.suffix.lower() == ".csv":
        return read_csv(path, source)
    if path.is_dir():
        return read_folder(path, source, class_map)
    raise ValueError(f"{raw}: neither a CSV file nor a folder of class folders")


def exclude(samples: list[Sample], file_names: set[str]) -> tuple[list[Sample], set[str]]:
    """Drop every image of any patient one of ``file_names`` belongs to (NIH names carry the
    patient id: ``00003956_001.png`` is patient 3956). Returns the kept samples and dropped patients."""
    dropped = {s.patient for s in samples if s.path.name in file_names}
    nih_ids = {str(int(m.group(1))) for n in file_names if (m := re.match(r"(\d{8})_\d{3}\.png$", n))}
    dropped |= {s.patient for s in samples if s.patient.split(":", 1)[1] in nih_ids}
    return [s for s in samples if s.patient not in dropped], dropped


def label_set(samples: list[Sample], min_count: int = 1) -> tuple[str, ...]:
    """Findings with at least ``min_count`` positives, sorted."""
    counts: dict[str, int] = {}
    for s in samples:
        for f in s.findings:
            counts[f] = counts.get(f, 0) + 1
    return tuple(sorted(k for k, v in counts.items() if v >= min_count))


def multilabel_targets(samples: list[Sample], labels: tuple[str, ...]) -> np.ndarray:
    """(N, L) float32 of 0/1, NaN where a sample's source does not annotate the label."""
    out = np.zeros((len(samples), len(labels)), dtype=np.float32)
    for i, s in enumerate(samples):
        for j, lab in enumerate(labels):
            if s.annotated is not None and lab not in s.annotated:
                out[i, j] = np.nan
            elif lab in s.findings:
                out[i, j] = 1.0
    return out


def multiclass_targets(samples: list[Sample], classes: tuple[str, ...]) -> np.ndarray:
    """(N, C) one-hot float32 (the mutually exclusive class of each sample)."""
    out = np.zeros((len(samples), len(classes)), dtype=np.float32)
    index = {c: i for i, c in enumerate(classes)}
    for i, s in enumerate(samples):
        (cls,) = s.findings
        out[i, index[cls]] = 1.0
    return out
