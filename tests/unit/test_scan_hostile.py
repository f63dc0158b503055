"""Scanning hostile trees: excluded output folders, the product's own PNGs, unreadable folders, pipes,
sockets, non-image DICOM objects and folders without images. Every file is made here."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest

from inference.api import ScanEntry, Status
from inference.io import ReadError, read_header, read_image, scan
from inference.io.scan import EMPTY_FOLDER, OWN_OUTPUT
from inference.render.annotate import write_png

REPO = Path(__file__).parents[2]
NIH_PNG = REPO / "resources" / "samples" / "00000001_000.png"
NIH_DCM = REPO / "tests" / "fixtures" / "dicom" / "DX_chest_NIH_google_1024_8bit.dcm"


def _rows(entries: Iterator[ScanEntry], root: Path) -> dict[str, tuple[Status, str]]:
    return {e.meta.path.relative_to(root).as_posix(): (e.status, e.reason) for e in entries}


def _report(path: Path, modality: str = "SR") -> Path:
    ds = pydicom.dcmread(NIH_DCM, stop_before_pixels=True)
    ds.Modality = modality
    ds.save_as(path)
    return path


def test_excluded_output_folder_is_never_entered(tmp_path: Path) -> None:
    shutil.copy(NIH_PNG, tmp_path / "study.png")
    (tmp_path / "out" / "nested").mkdir(parents=True)
    shutil.copy(NIH_PNG, tmp_path / "out" / "nested" / "copy.png")
    assert list(_rows(scan(tmp_path, exclude=[tmp_path / "out"]), tmp_path)) == ["study.png"]
    assert list(scan(tmp_path / "out", exclude=[tmp_path / "out"])) == []


def test_own_annotated_pngs_are_skipped_in_folders_and_refused_when_named(tmp_path: Path) -> None:
    shutil.copy(NIH_PNG, tmp_path / "study.png")
    gray = cv2.imread(str(NIH_PNG), cv2.IMREAD_GRAYSCALE)
    assert gray is not None
    annotated = write_png(np.dstack([gray] * 3), tmp_path / "0001_study.png")
    assert list(_rows(scan(tmp_path), tmp_path)) == ["study.png"]
    entry = read_header(annotated)
    assert entry.status is Status.ERROR and entry.reason == OWN_OUTPUT
    assert [e.reason for e in scan(annotated)] == [OWN_OUTPUT]


def test_unreadable_sub_folder_is_an_error_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    shutil.copy(NIH_PNG, tmp_path / "study.png")
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str]) -> object:
        if Path(path) == tmp_path / "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    rows = _rows(scan(tmp_path), tmp_path)
    assert rows == {
        "locked": (Status.ERROR, "folder cannot be read: Permission denied"),
        "study.png": (Status.SCORED, ""),
    }


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_named_pipe_is_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.dcm")  # opening it for reading would block the scan forever
    shutil.copy(NIH_PNG, tmp_path / "study.png")
    assert list(_rows(scan(tmp_path), tmp_path)) == ["study.png"]
    [entry] = scan(tmp_path / "pipe.dcm")
    assert entry.status is Status.ERROR and entry.reason == "a named pipe (FIFO), not a file"
    assert read_header(tmp_path / "pipe.dcm").reason == entry.reason
    with pytest.raises(ReadError, match="named pipe"):
        read_image(tmp_path / "pipe.dcm")


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix sockets")
def test_named_socket_is_an_error_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a short relative name: socket paths are limited to ~100 bytes
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("s.dcm")
        assert [(e.status, e.reason) for e in scan("s.dcm")] == [(Status.ERROR, "a socket, not a file")]
        assert [(e.status, e.reason) for e in scan(".")] == [(Status.ERROR, EMPTY_FOLDER)]  # skipped inside


def test_named_folder_without_images_is_an_error_row(tmp_path: Path) -> None:
    (tmp_path / "x.dcm").mkdir()
    [entry] = scan(tmp_path / "x.dcm")
    assert entry.status is Status.ERROR and entry.reason == EMPTY_FOLDER


def test_folder_named_like_a_dicom_file_is_walked(tmp_path: Path) -> None:
    (tmp_path / "series.dcm").mkdir()
    shutil.copy(NIH_DCM, tmp_path / "series.dcm" / "IM0001")
    assert _rows(scan(tmp_path / "series.dcm"), tmp_path) == {"series.dcm/IM0001": (Status.SCORED, "")}


@pytest.mark.parametrize("modality", ["SR", "PR"])
def test_named_non_image_dicom_is_an_error_row_but_skipped_in_folders(tmp_path: Path, modality: str) -> None:
    report = _report(tmp_path / "report.dcm", modality)
    [entry] = scan(report)
    assert entry.status is Status.ERROR and f"not an image (a DICOM {modality} object" in entry.reason
    shutil.copy(NIH_DCM, tmp_path / "image.dcm")
    assert list(_rows(scan(tmp_path), tmp_path)) == ["image.dcm"]


def test_named_missing_and_non_image_files_are_error_rows(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    assert [e.reason for e in scan(tmp_path / "missing.png")] == ["file not found"]
    assert [e.reason for e in scan(tmp_path / "notes.txt")] == ["not a DICOM, PNG or JPEG file"]


def test_oversized_header_is_an_error_row_at_scan_time(tmp_path: Path) -> None:
    ds = pydicom.dcmread(NIH_DCM)
    ds.Rows, ds.Columns = 30000, 30000
    ds.save_as(tmp_path / "huge.dcm")
    rows = _rows(scan(tmp_path), tmp_path)
    assert rows["huge.dcm"][0] is Status.ERROR and "64-megapixel" in rows["huge.dcm"][1]
