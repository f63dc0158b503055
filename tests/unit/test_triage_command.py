"""``cxr-triage triage`` end to end on real files, with a bad file in the batch."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from inference.cli.main import main

SAMPLES = Path(__file__).parents[2] / "resources" / "samples"
FIXED = [
    "rank",
    "file",
    "study_uid",
    "patient_id",
    "view",
    "status",
    "error",
    "top_finding",
    "top_probability",
    "positive_findings",
]


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("studies")
    for name in ("00000001_000.png", "DX_chest_NIH_google_1024_8bit.dcm", "RG2_JPLY_fixed.dcm"):
        shutil.copy(SAMPLES / name, folder / name)
    nested = folder / "nested"
    nested.mkdir()
    shutil.copy(SAMPLES / "IM-0115-0001.jpeg", nested / "IM-0115-0001.jpeg")
    (nested / "broken.dcm").write_bytes((SAMPLES / "CR_chest_SIIM_jpegbaseline_8bit.dcm").read_bytes()[:3000])
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture(scope="module")
def run(studies: Path, random_package: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("out")
    code = main(
        [
            "triage",
            str(studies),
            "--model",
            str(random_package),
            "--out",
            str(out),
            "--annotate",
            "--operating-point",
            "high_sensitivity",
            "--device",
            "cpu",
        ]
    )
    return code, out


def test_worklist_csv_has_the_stable_columns_and_one_row_per_study(run: tuple[int, Path]):
    code, out = run
    assert code == 0
    with (out / "worklist.csv").open() as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames[: len(FIXED)] == ["rank", "file", "study_uid", "patient_id"] + FIXED[4:] or set(
        FIXED
    ) <= set(reader.fieldnames)
    assert "Pneumonia" in reader.fieldnames and "Hernia" in reader.fieldnames
    assert len(rows) == 5  # notes.txt is not a study
    by_file = {Path(r["file"]).name: r for r in rows}
    assert by_file["broken.dcm"]["status"] == "error" and by_file["broken.dcm"]["error"]
    assert by_file["RG2_JPLY_fixed.dcm"]["status"] == "not_scored"
    assert "chest" in by_file["RG2_JPLY_fixed.dcm"]["error"]
    scored = [r for r in rows if r["status"] == "scored"]
    assert len(scored) == 3
    for r in scored:
        assert 0.0 <= float(r["Pneumonia"]) <= 1.0
        assert r["top_finding"] and float(r["top_probability"]) == float(r[r["top_finding"]])
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 4, 5]


def test_operating_point_thresholds_decide_positive_findings(run: tuple[int, Path]):
    _, out = run
    document = json.loads((out / "worklist.json").read_text())
    assert set(document["thresholds"].values()) == {0.3}  # the fixture card's high_sensitivity point
    for row in document["studies"]:
        if row["status"] == "scored":
            expected = {k for k, t in document["thresholds"].items() if row[k] >= t}
            assert set(filter(None, row["positive_findings"].split("|"))) == expected


def test_annotated_png_per_scored_study(run: tuple[int, Path]):
    _, out = run
    assert len(list((out / "annotated").glob("*.png"))) == 3


def test_nothing_scorable_exits_non_zero(tmp_path: Path, random_package: Path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert main(["triage", str(tmp_path), "--model", str(random_package), "--out", str(tmp_path / "o")]) == 1
    rows = list(csv.DictReader((tmp_path / "o" / "worklist.csv").open()))
    assert [r["status"] for r in rows] == ["error"]


def test_missing_model_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["triage", str(tmp_path), "--model", str(tmp_path / "nope")]) == 2
    assert "cannot load model" in capsys.readouterr().err
