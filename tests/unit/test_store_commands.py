"""``worklist``, ``review`` and ``audit`` on a store filled by a real ``triage`` run."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pydicom
import pytest

from inference.cli.main import main

SAMPLES = Path(__file__).parents[2] / "resources" / "samples"


@pytest.fixture(scope="module")
def store(random_package: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("studies")
    shutil.copy(SAMPLES / "00000001_000.png", folder / "a.png")
    ds = pydicom.dcmread(SAMPLES / "DX_chest_NIH_google_1024_8bit.dcm")
    ds.PatientName = "SECRET^NAME"
    ds.save_as(folder / "b.dcm")
    db = tmp_path_factory.mktemp("db") / "store.sqlite"
    out = tmp_path_factory.mktemp("out")
    args = ["triage", str(folder), "--model", str(random_package), "--db", str(db), "--out", str(out)]
    assert main([*args, "--device", "cpu"]) == 0
    return db, out


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "worklist.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_worklist_gives_the_triage_worklist_without_scoring(
    store: tuple[Path, Path], random_package: Path, tmp_path: Path
):
    db, triaged = store
    assert main(["worklist", "--db", str(db), "--model", str(random_package), "--out", str(tmp_path)]) == 0
    fields = ("rank", "study_uid", "status", "top_finding", "Pneumonia", "review")
    assert [{k: r[k] for k in fields} for r in _rows(tmp_path)] == [
        {k: r[k] for k in fields} for r in _rows(triaged)
    ]
    assert "run" not in json.loads((tmp_path / "worklist.json").read_text())  # nothing was scored


def test_reviews_show_in_the_worklist_and_the_audit_never_names_the_patient(
    store: tuple[Path, Path], random_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    db, triaged = store
    uid = _rows(triaged)[0]["study_uid"]
    assert main(["review", uid, "accept", "--note", "agree", "--db", str(db)]) == 0
    assert main(["worklist", "--db", str(db), "--model", str(random_package), "--out", str(tmp_path)]) == 0
    row = next(r for r in _rows(tmp_path) if r["study_uid"] == uid)
    assert row["review"] == "accepted" and row["reviewed_by"] and row["reviewed_at"]
    assert main(["review", uid, "clear", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["audit", "--db", str(db), "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    actions = [e["action"] for e in events]
    assert actions.count("scored") == 2 and "accepted" in actions and actions[-1] == "review-cleared"
    assert all({"time", "user", "action", "study_uid", "weights_sha256"} <= e.keys() for e in events)
    scored = next(e for e in events if e["action"] == "scored")
    assert len(scored["weights_sha256"]) == 64
    assert "SECRET" not in json.dumps(events)
    assert main(["audit", "--db", str(db)]) == 0
    assert "SECRET" not in capsys.readouterr().out


def test_review_of_an_unknown_study_is_misuse(store: tuple[Path, Path], capsys: pytest.CaptureFixture[str]):
    db, _ = store
    assert main(["review", "1.2.3.4.5", "accept", "--db", str(db)]) == 2
    assert "no study 1.2.3.4.5" in capsys.readouterr().err


def test_a_store_that_cannot_be_opened_is_misuse(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    bad = tmp_path / "not-a-store.sqlite"
    bad.write_bytes(b"garbage" * 1000)
    assert main(["audit", "--db", str(bad)]) == 2
    assert "not a CXR Triage study store" in capsys.readouterr().err
