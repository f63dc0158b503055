"""A stored result is reused only for the content it was scored from, never for another file's."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pydicom
import pytest

from inference.bundled import DEMO_MODEL
from inference.cli.main import main
from inference.io import scan
from inference.models.card import read_card
from inference.store import CONTENT_CHANGED, Store
from inference.store.schema import MIGRATIONS

DICOM = Path(__file__).parents[1] / "fixtures" / "dicom"
TWIN = DICOM / "CR_chest_SIIM_jpegbaseline_8bit.dcm"
MONOCHROME1 = DICOM / "CR_chest_SIIM_fake_MONOCHROME1.dcm"  # same SOP Instance UID and pixels, inverted
NIH = DICOM / "DX_chest_NIH_google_1024_8bit.dcm"
WEIGHTS = read_card(DEMO_MODEL).weights_sha256


def _triage(path: Path, db: Path, out: Path) -> dict:
    assert main(["triage", str(path), "--db", str(db), "--out", str(out), "--device", "cpu"]) in (0, 1)
    return json.loads((out / "worklist.json").read_text())


def _fingerprint(path: Path) -> str:
    (entry,) = scan(path)
    return entry.meta.fingerprint


@pytest.mark.slow
def test_the_same_uid_with_other_content_is_scored_anew_and_said(tmp_path: Path):
    alone = _triage(MONOCHROME1, tmp_path / "alone.sqlite", tmp_path / "alone")
    db = tmp_path / "shared.sqlite"
    twin = _triage(TWIN, db, tmp_path / "twin")
    inverted = _triage(MONOCHROME1, db, tmp_path / "inverted")
    assert inverted["run"] == {"scored": 1, "reused": 0, "errors": 0}
    (row,), (reference,), (first,) = inverted["studies"], alone["studies"], twin["studies"]
    assert row["Pneumonia"] == pytest.approx(reference["Pneumonia"], abs=1e-6)
    assert abs(row["Pneumonia"] - first["Pneumonia"]) > 0.1  # the two contents really score apart
    assert CONTENT_CHANGED in row["warnings"] and CONTENT_CHANGED not in first["warnings"]
    with Store(db) as store:
        events = [e for e in store.audit() if e.action == "instance-uid-reused"]
        assert len(events) == 1 and events[0].detail["reason"] == CONTENT_CHANGED
        rows = store._read("SELECT fingerprint FROM results")
    assert len({r["fingerprint"] for r in rows}) == 2  # the older result is kept beside the newer

    again = _triage(TWIN, db, tmp_path / "again")  # the first content again: its own result, reused
    assert again["run"] == {"scored": 0, "reused": 1, "errors": 0}
    assert again["studies"][0]["Pneumonia"] == pytest.approx(first["Pneumonia"], abs=1e-6)


@pytest.mark.slow
def test_a_truncated_copy_never_keeps_its_error_for_the_complete_file(tmp_path: Path):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    target = incoming / NIH.name
    target.write_bytes(NIH.read_bytes()[:3000])  # an interrupted transfer
    db = tmp_path / "s.sqlite"
    partial = _triage(incoming, db, tmp_path / "partial")
    assert partial["studies"][0]["status"] == "error"
    shutil.copy(NIH, target)  # the complete re-send
    complete = _triage(incoming, db, tmp_path / "complete")
    assert complete["run"] == {"scored": 1, "reused": 0, "errors": 0}
    assert complete["studies"][0]["status"] == "scored"


def test_an_error_is_never_reused_even_for_the_same_content(tmp_path: Path):
    from inference.api import Status
    from inference.store import ImageResult

    with Store(tmp_path / "s.sqlite") as store:
        (uid,) = store.record(list(scan(NIH)))
        failed = ImageResult(uid, Status.ERROR, reason="cannot open file")
        store.save_results([failed], WEIGHTS, precision="fp32")
        assert store.reusable_results(WEIGHTS, "fp32", [uid]) == {}
        assert store.results(WEIGHTS)[uid].status is Status.ERROR  # still shown until scored


@pytest.mark.parametrize(
    ("keyword", "value", "changes"),
    [
        ("PatientName", "Other^Name", False),
        ("PatientID", "other", False),
        ("PhotometricInterpretation", "MONOCHROME1", True),
        ("WindowCenter", 40, True),
        ("RescaleSlope", 2, True),
        ("PresentationLUTShape", "INVERSE", True),
        ("BitsStored", 7, True),
    ],
)
def test_the_fingerprint_follows_the_picture_not_the_patient(
    tmp_path: Path, keyword: str, value: object, changes: bool
):
    ds = pydicom.dcmread(NIH)
    setattr(ds, keyword, value)
    ds.save_as(tmp_path / "edited.dcm")
    assert (_fingerprint(tmp_path / "edited.dcm") != _fingerprint(NIH)) is changes


def test_the_fingerprint_follows_the_pixel_data(tmp_path: Path):
    data = bytearray(NIH.read_bytes())
    data[-1] ^= 0xFF  # one pixel of the last row
    (tmp_path / "edited.dcm").write_bytes(bytes(data))
    assert _fingerprint(tmp_path / "edited.dcm") != _fingerprint(NIH)
    assert _fingerprint(MONOCHROME1) != _fingerprint(TWIN)
    shutil.copy(NIH, tmp_path / "moved.dcm")
    assert _fingerprint(tmp_path / "moved.dcm") == _fingerprint(NIH)


def test_results_of_an_older_store_are_kept_until_their_image_is_scanned_again(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    (entry,) = scan(NIH)
    uid = entry.meta.sop_uid
    with sqlite3.connect(path) as db:  # a store of schema 4: results without fingerprints
        db.executescript("".join(MIGRATIONS[:4]) + "PRAGMA user_version = 4;")
        db.execute("INSERT INTO studies (study_uid, arrived) VALUES (?, 't')", (entry.meta.study_uid,))
        db.execute(
            "INSERT INTO images (image_uid, study_uid, source, path, arrived, scan_status)"
            " VALUES (?, ?, 'file', x'', 't', 'scored')",
            (uid, entry.meta.study_uid),
        )
        db.execute(
            "INSERT INTO results (image_uid, weights_sha256, status, probabilities, precision, scored_at)"
            " VALUES (?, ?, 'scored', '{\"Pneumonia\": 0.5}', 'bf16', 't')",
            (uid, WEIGHTS),
        )
    with Store(path) as store:
        assert store.version == len(MIGRATIONS)
        assert store.results(WEIGHTS)[uid].probabilities == {"Pneumonia": 0.5}  # the worklist keeps it
        store.record([entry])  # scanned again: now with its fingerprint
        assert store.reusable_results(WEIGHTS, "bf16", [uid]) == {}  # what it was scored from is unknown
        assert uid not in store.results(WEIGHTS)
