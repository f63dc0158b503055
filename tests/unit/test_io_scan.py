"""Folder scanning: header-only indexing, eligibility, grouping, skipping and error rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

import inference.io.dicom as io_dicom
from inference.api import Status
from inference.identity import content_uid
from inference.io import ReadError, group_by_study, read_header, read_image, scan

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dicom"
SAMPLES = Path(__file__).parents[2] / "resources" / "samples"
NIH = FIXTURES / "DX_chest_NIH_google_1024_8bit.dcm"
SIIM = FIXTURES / "CR_chest_SIIM_jpegbaseline_8bit.dcm"
SIIM_MONO1 = FIXTURES / "CR_chest_SIIM_fake_MONOCHROME1.dcm"
CANON = FIXTURES / "DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm"
HIP = FIXTURES / "RG2_JPLY_fixed.dcm"


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A study folder: nested DICOMs, a PNG, a corrupt file, and non-image clutter."""
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    shutil.copy(SIIM, tmp_path / "a" / "frontal.dcm")
    shutil.copy(SIIM_MONO1, tmp_path / "a" / "deep" / "IM0002")  # same study, no extension
    shutil.copy(HIP, tmp_path / "b" / "hip.dcm")
    shutil.copy(SAMPLES / "00000001_000.png", tmp_path / "b" / "nih.png")
    (tmp_path / "b" / "broken.dcm").write_bytes(b"\x00" * 64)
    (tmp_path / "README").write_text("exported by PACS\n")
    (tmp_path / "notes.txt").write_text("nothing here")
    (tmp_path / "b" / "meta.json").write_text("{}")
    return tmp_path


def test_scan_is_recursive_sorted_and_skips_non_images(tree: Path) -> None:
    entries = list(scan([tree]))
    names = [e.meta.path.relative_to(tree).as_posix() for e in entries]
    assert names == ["a/deep/IM0002", "a/frontal.dcm", "b/broken.dcm", "b/hip.dcm", "b/nih.png"]


def test_scan_statuses(tree: Path) -> None:
    by_name = {e.meta.path.name: e for e in scan(tree)}
    assert by_name["frontal.dcm"].status is Status.SCORED
    assert by_name["IM0002"].status is Status.SCORED
    assert by_name["nih.png"].status is Status.SCORED
    assert by_name["broken.dcm"].status is Status.ERROR and by_name["broken.dcm"].reason
    hip = by_name["hip.dcm"]
    assert hip.status is Status.NOT_SCORED
    assert "HIP" in hip.reason and "frontal" in hip.reason and "chest" in hip.reason


def test_group_by_study(tree: Path) -> None:
    groups = group_by_study(scan(tree))
    uid = pydicom.dcmread(SIIM, stop_before_pixels=True).StudyInstanceUID
    assert [e.meta.path.name for e in groups[uid]] == ["IM0002", "frontal.dcm"]
    png = next(e for e in scan(tree) if e.meta.path.name == "nih.png")
    assert groups[png.meta.study_uid] == [png]
    assert png.meta.study_uid == content_uid(tree / "b" / "nih.png", "study")
    assert len(groups) == 4  # SIIM study, broken file, hip study, PNG
    assert list(groups)[0] == uid  # insertion order follows the scan


def test_dicom_metadata_is_kept() -> None:
    entry = read_header(CANON)
    ds = pydicom.dcmread(CANON, stop_before_pixels=True)
    meta = entry.meta
    assert entry.status is Status.SCORED
    assert meta.study_uid == ds.StudyInstanceUID and meta.sop_uid == ds.SOPInstanceUID
    assert meta.patient_id == ds.PatientID and meta.study_date == ds.StudyDate
    assert (meta.modality, meta.view_position, meta.body_part) == ("DX", "PA", "CHEST")
    assert (meta.photometric, meta.rows, meta.columns) == ("MONOCHROME1", 2128, 2000)
    assert (meta.window_center, meta.window_width) == (2048.0, 4096.0)


@pytest.mark.parametrize("view", ["LL", "RL", "LATERAL", "LAT", "RLD"])
def test_non_frontal_views_are_not_scored(tmp_path: Path, view: str) -> None:
    ds = pydicom.dcmread(SIIM)
    ds.ViewPosition = view
    ds.save_as(tmp_path / "lat.dcm")
    entry = read_header(tmp_path / "lat.dcm")
    assert entry.status is Status.NOT_SCORED
    assert view in entry.reason and "frontal" in entry.reason


def test_coded_lateral_view_without_view_position_is_not_scored(tmp_path: Path) -> None:
    ds = pydicom.dcmread(SIIM)
    ds.ViewPosition = ""
    item = pydicom.Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "R-10232", "SRT", "lateral"
    ds.ViewCodeSequence = pydicom.Sequence([item])
    ds.save_as(tmp_path / "lat.dcm")
    assert read_header(tmp_path / "lat.dcm").status is Status.NOT_SCORED


@pytest.mark.parametrize(
    ("modality", "status"),
    [("CT", Status.NOT_SCORED), ("MR", Status.NOT_SCORED), ("DX", Status.SCORED), ("CR", Status.SCORED)],
)
def test_modalities(tmp_path: Path, modality: str, status: Status) -> None:
    ds = pydicom.dcmread(NIH)
    ds.Modality = modality
    ds.save_as(tmp_path / "x.dcm")
    entry = read_header(tmp_path / "x.dcm")
    assert entry.status is status
    if status is Status.NOT_SCORED:
        assert modality in entry.reason


def test_all_hip_fixtures_not_scored() -> None:
    for name in ("RG2_JPLL.dcm", "RG2_JLSL.dcm", "RG2_JPLY_fixed.dcm"):
        entry = read_header(FIXTURES / name)
        assert entry.status is Status.NOT_SCORED, name
        assert "trained on frontal" in entry.reason


def test_header_reading_does_not_load_pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []
    real = pydicom.dcmread

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(io_dicom.pydicom, "dcmread", spy)
    # Pixel data cut short: the header is still fine, only decoding fails.
    data = CANON.read_bytes()
    broken = tmp_path / "broken_pixels.dcm"
    broken.write_bytes(data[: len(data) * 3 // 4])
    entries = list(scan(tmp_path))
    assert [e.status for e in entries] == [Status.SCORED]
    assert calls and all(c.get("stop_before_pixels") is True for c in calls)
    with pytest.raises(ReadError):
        read_image(broken)


def test_cancel_stops_the_scan(tree: Path) -> None:
    stop = [False]
    seen = []
    for entry in scan(tree, cancelled=lambda: stop[0]):
        seen.append(entry)
        stop[0] = True
    assert len(seen) == 1 and len(list(scan(tree))) == 5
    assert list(scan(tree, cancelled=lambda: True)) == []


def test_read_header_never_raises(tmp_path: Path) -> None:
    missing = read_header(tmp_path / "nope.dcm")
    assert missing.status is Status.ERROR and "not found" in missing.reason
    text = tmp_path / "a.txt"
    text.write_text("x")
    assert read_header(text).status is Status.ERROR
    assert read_header(tmp_path).status is Status.ERROR  # a folder is not a file


def test_dicomdir_is_skipped(tmp_path: Path) -> None:
    ds = pydicom.dcmread(NIH, stop_before_pixels=True)
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    ds.save_as(tmp_path / "DICOMDIR")
    shutil.copy(NIH, tmp_path / "image.dcm")
    assert [e.meta.path.name for e in scan(tmp_path)] == ["image.dcm"]


def test_bundled_samples_scan_cleanly() -> None:
    entries = list(scan(SAMPLES))
    assert len(entries) == 13  # README.md is skipped
    assert {e.meta.path.name for e in entries if e.status is Status.NOT_SCORED} == {"RG2_JPLY_fixed.dcm"}
    assert not [e for e in entries if e.status is Status.ERROR]
