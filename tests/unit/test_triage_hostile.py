"""``cxr-triage triage`` against hostile names, header values and output folders: every run ends
with valid outputs, no traceback and no patient identifier where it was asked to leave none."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pydicom
import pytest

from inference.cli.main import main

SAMPLES = Path(__file__).parents[2] / "resources" / "samples"
PNG = SAMPLES / "00000001_000.png"
JPEG = SAMPLES / "IM-0115-0001.jpeg"
DICOM = SAMPLES / "DX_chest_NIH_google_1024_8bit.dcm"


def triage(package: Path, *args: str | Path) -> int:
    return main(["triage", *map(str, args), "--model", str(package), "--device", "cpu"])


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "worklist.csv").open(encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return list(csv.DictReader(lines))


def test_a_name_that_is_not_utf8_is_written_visibly_and_the_run_completes(
    random_package: Path, tmp_path: Path
):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(PNG, Path(os.fsdecode(os.fsencode(folder) + b"/caf\xe9.png")))
    assert triage(random_package, folder, "--out", tmp_path / "out", "--annotate") == 0
    raw = (tmp_path / "out" / "worklist.csv").read_bytes()
    raw.decode("utf-8")  # valid UTF-8
    assert [Path(r["file"]).name for r in rows(tmp_path / "out")] == ["caf\\xe9.png"]
    document = json.loads((tmp_path / "out" / "worklist.json").read_text(encoding="utf-8"))
    assert document["studies"][0]["file"].endswith("caf\\xe9.png")
    assert len(list((tmp_path / "out" / "annotated").glob("*.png"))) == 1


@pytest.mark.parametrize("kind", ["file", "below-a-file"])
def test_an_unusable_out_is_refused_before_any_work(
    random_package: Path, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
):
    blocker = tmp_path / "worklist.txt"
    blocker.write_text("not a folder")
    out = blocker if kind == "file" else blocker / "sub"
    assert triage(random_package, PNG, "--out", out) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "Traceback" not in err
    assert "Model" not in capsys.readouterr().out  # nothing was scored


def test_csv_cells_that_spreadsheets_would_run_are_neutralised(random_package: Path, tmp_path: Path):
    ds = pydicom.dcmread(DICOM)
    ds.PatientID = '=HYPERLINK("http://x","y")'
    ds.AccessionNumber = "+SUM(1,1)"
    folder = tmp_path / "in"
    folder.mkdir()
    ds.save_as(folder / "a.dcm")
    assert triage(random_package, folder, "--out", tmp_path / "out") == 0
    (row,) = rows(tmp_path / "out")
    assert row["patient_id"] == '\'=HYPERLINK("http://x","y")' and row["accession"] == "'+SUM(1,1)"
    (study,) = json.loads((tmp_path / "out" / "worklist.json").read_text())["studies"]
    assert study["patient_id"].startswith("=HYPERLINK")  # JSON keeps the value as it is


def test_deidentify_leaves_names_out_of_every_output(
    random_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    folder = tmp_path / "DOE_JOHN"
    folder.mkdir()
    shutil.copy(JPEG, folder / "DOE JOHN chest.jpeg")
    (folder / "DOE JOHN broken.png").write_bytes(PNG.read_bytes()[:500])
    ds = pydicom.dcmread(DICOM)
    ds.PatientID, ds.AccessionNumber = "DOE-PID", "DOE-ACC"
    ds.save_as(folder / "DOE_JOHN.dcm")
    out = tmp_path / "out"
    assert triage(random_package, folder, "--out", out, "--annotate", "--deidentify") == 0
    texts = [(out / "worklist.csv").read_text(), (out / "worklist.json").read_text(), capsys.readouterr().out]
    texts += [p.name for p in (out / "annotated").iterdir()]
    assert len(rows(out)) == 3
    for text in texts:
        assert "DOE" not in text
    assert all(r["file"].startswith("image-") and r["study_uid"].startswith("study-") for r in rows(out))


def test_the_output_folder_and_the_products_own_images_are_never_scanned(
    random_package: Path, tmp_path: Path
):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(PNG, folder / "a.png")
    for _ in range(2):
        assert triage(random_package, folder, "--out", folder / "cxr-triage-out", "--annotate") == 0
        assert len(rows(folder / "cxr-triage-out")) == 1
    elsewhere = tmp_path / "annotated-copy"
    shutil.copytree(folder / "cxr-triage-out" / "annotated", elsewhere)  # moved out of the output folder
    assert triage(random_package, elsewhere, "--out", tmp_path / "out2") == 1  # nothing to score
    (row,) = rows(tmp_path / "out2")
    assert row["status"] == "error" and "no DICOM, PNG or JPEG image" in row["error"]


def test_ctrl_c_marks_the_files_partial_and_a_second_one_prints_no_traceback(
    random_package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import inference.cli.commands.triage as command

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "_drain", interrupted)
    assert triage(random_package, PNG, "--out", tmp_path / "out") == 130
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "partial" in captured.out
    assert (tmp_path / "out" / "worklist.csv").read_text().startswith("# partial worklist")
    document = json.loads((tmp_path / "out" / "worklist.json").read_text())
    assert document["partial"] is True


def test_control_characters_in_names_are_escaped_on_the_terminal(
    random_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(PNG, folder / "evil\x1b[2J\x07.png")
    assert triage(random_package, folder, "--out", tmp_path / "out") == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "evil\\x1b[2J\\x07.png" in out


@pytest.mark.parametrize("size", ["0", "-3", "many"])
def test_a_batch_size_below_one_is_misuse(random_package: Path, tmp_path: Path, size: str):
    with pytest.raises(SystemExit) as exit_:
        triage(random_package, PNG, "--out", tmp_path / "out", "--batch-size", size)
    assert exit_.value.code == 2


def test_only_missing_paths_is_misuse(
    random_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert triage(random_package, tmp_path / "nope", tmp_path / "nada", "--out", tmp_path / "out") == 2
    assert "none of the given paths exist" in capsys.readouterr().err
