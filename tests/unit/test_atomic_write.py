"""Outputs are written under a temporary name, fsynced and renamed into place: a failed write leaves
the previous file as it was and no temporary file; the commands turn a failed write into one line
and a non-zero exit code (the full-disk runs themselves are in ``test_full_disk.py``)."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from inference.cli.commands.common import EXIT_STOPPED
from inference.io.atomic import (
    atomic_open,
    atomic_paths,
    temporary_name,
    write_bytes_atomic,
    write_text_atomic,
)

SAMPLES = Path(__file__).parents[2] / "resources" / "samples"
PNG = SAMPLES / "00000001_000.png"


def disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_write_replaces_the_file_whole_with_the_permissions_of_a_new_file(tmp_path: Path):
    target = tmp_path / "sub" / "worklist.json"
    write_text_atomic(target, "first\n")
    write_text_atomic(target, "second\n")
    assert target.read_text(encoding="utf-8") == "second\n"
    assert os.listdir(target.parent) == ["worklist.json"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "a.csv"
    target.write_text("previous", encoding="utf-8")
    with pytest.raises(OSError), atomic_open(target, "w", encoding="utf-8") as f:
        f.write("half of it")
        disk_full()
    assert target.read_text(encoding="utf-8") == "previous"
    assert os.listdir(tmp_path) == ["a.csv"]


def test_files_that_go_together_are_replaced_together(tmp_path: Path):
    first, second = tmp_path / "worklist.csv", tmp_path / "worklist.json"
    first.write_text("old csv")
    second.write_text("old json")
    with pytest.raises(KeyboardInterrupt), atomic_paths(first, second) as (a, b):
        a.write_text("new csv")
        raise KeyboardInterrupt  # even Ctrl+C between the two writes
    assert (first.read_text(), second.read_text()) == ("old csv", "old json")
    assert sorted(os.listdir(tmp_path)) == ["worklist.csv", "worklist.json"]


def test_temporary_names_are_hidden_so_a_scan_never_takes_one():
    name = temporary_name(Path("/out/0001_x.png")).name
    assert name.startswith(".0001_x.png.") and name.endswith(".tmp")


def test_a_worklist_that_cannot_be_written_leaves_the_previous_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from inference.worklist.export import write_records

    write_records([{"rank": 1}], ["rank"], None, {}, tmp_path / "worklist.csv")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    monkeypatch.setattr("csv.DictWriter.writerows", disk_full)
    with pytest.raises(OSError):
        write_records([{"rank": 2}], ["rank"], None, {}, tmp_path / "worklist.csv", partial=True)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_pacs_instance_is_on_disk_before_it_takes_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from pydicom import dcmread

    from inference.pacs.cache import save_dataset

    steps: list[str] = []
    fsync, replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (steps.append("fsync"), fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (steps.append(f"replace {Path(b).name}"), replace(a, b))[1]
    )
    path = tmp_path / "1.2" / "3.4.dcm"
    save_dataset(path, dcmread(SAMPLES / "DX_chest_NIH_google_1024_8bit.dcm"))
    assert steps[:2] == ["fsync", "replace 3.4.dcm"]
    assert os.listdir(path.parent) == ["3.4.dcm"]


def test_annotated_images_that_cannot_be_written_stop_the_run_with_one_line(
    random_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from inference.cli.main import main

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "annotated").write_text("a file where the annotated images would go")
    argv = ["triage", str(PNG), "--annotate", "--model", str(random_package), "--device", "cpu"]
    code = main([*argv, "--db", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == EXIT_STOPPED
    lines = [
        line for line in err.splitlines() if line.strip() and not line.startswith(("Scoring:", "Heatmaps:"))
    ]
    assert len(lines) == 1 and "cannot write the annotated images" in lines[0]
    document = json.loads((tmp_path / "out" / "worklist.json").read_text())
    assert document["partial"] is False and len(document["studies"]) == 1  # the worklist itself is whole


def test_pull_into_a_cache_that_cannot_be_written_ends_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    from inference.cli.main import main

    monkeypatch.setattr("inference.pacs.retrieve.pull_studies", disk_full)
    code = main(["pull", "http://pacs.invalid/dicom-web", "--db", str(tmp_path / "s.sqlite"),
                 "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_STOPPED
    assert err.count("\n") == 1 and "cannot write the retrieved instances" in err and "No space" in err


def test_write_bytes_atomic_returns_the_path(tmp_path: Path):
    assert write_bytes_atomic(tmp_path / "x.bin", b"\x00\x01") == tmp_path / "x.bin"
    assert (tmp_path / "x.bin").read_bytes() == b"\x00\x01"
