"""The PACS link's pieces that need no PACS: addresses, cache paths, the header copied into the SR and
SC, the UIDs the store keeps per (study, weights), and the command names."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from inference.api import ImageMeta, ScanEntry
from inference.cli.main import build_parser
from inference.pacs import DicomNode, WebNode, parse_destination
from inference.pacs.cache import instance_path
from inference.pacs.report import reference_header
from inference.store import Store


def test_addresses_are_dicomweb_roots_or_dicom_nodes() -> None:
    assert parse_destination("http://pacs:8042/dicom-web/") == WebNode("http://pacs:8042/dicom-web")
    assert parse_destination("dicom://ORTHANC@10.0.0.5:4242") == DicomNode("ORTHANC", "10.0.0.5", 4242)
    assert str(WebNode("https://user:secret@pacs/dicom-web")) == "https://pacs/dicom-web"  # never a password


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("ftp://pacs/x", "not a PACS address"),
        ("dicom://ORTHANC@pacs", "expected dicom://AE_TITLE@HOST:PORT"),
        ("dicom://A_TITLE_OF_17_CHARS@pacs:104", "not a valid AE title"),
        ("dicom://BACK\\SLASH@pacs:104", "not a valid AE title"),
        ("dicom://ORTHANC@pacs:70000", "not a valid port"),
    ],
)
def test_a_bad_address_says_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_destination(text)


def test_uids_from_a_pacs_never_leave_the_cache_folder(tmp_path: Path) -> None:
    assert instance_path(tmp_path, "1.2.3", "1.2.3.4") == tmp_path / "1.2.3" / "1.2.3.4.dcm"
    hostile = instance_path(tmp_path, "../../etc", "../passwd")
    assert hostile.parent.parent == tmp_path and ".." not in hostile.parts


def test_the_copied_header_keeps_valid_values_and_empties_invalid_ones() -> None:
    ds = Dataset()
    ds.PatientID, ds.StudyDate = "P1", "20240102"
    ds.PatientBirthDate = "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f"  # a hash, not a date
    ds.AccessionNumber = "x" * 56  # SH holds 16 characters
    header = reference_header(ds)
    assert (header.PatientID, header.StudyDate) == ("P1", "20240102")
    assert header.PatientBirthDate in (None, "") and header.AccessionNumber in (None, "")
    assert "ReferringPhysicianName" in header  # present (type 2) even when the source lacks it


def test_the_store_keeps_one_pair_of_uids_per_study_weights_and_kind(tmp_path: Path) -> None:
    uids = iter([("1.9.1", "1.9.2"), ("1.9.3", "1.9.4"), ("1.9.5", "1.9.6")])
    with Store(tmp_path / "s.sqlite") as store:
        store.record([ScanEntry(ImageMeta(path=tmp_path / "a.dcm", study_uid="1.2", sop_uid="1.2.1"))])
        first = store.pacs_object_uids("1.2", "w", "sr", lambda: next(uids))
        assert store.pacs_object_uids("1.2", "w", "sr", lambda: next(uids)) == first == ("1.9.1", "1.9.2")
        assert store.pacs_object_uids("1.2", "w", "sc", lambda: next(uids)) == ("1.9.3", "1.9.4")
        store.record_sent("1.2", "w", "dicom://PACS@h:104", ["1.9.2"])
        assert store.sent("1.2") == [("sr", "1.9.2", "dicom://PACS@h:104")]
        [event] = [e for e in store.audit() if e.action == "sent"]
    assert event.detail == {"destination": "dicom://PACS@h:104", "objects": ["1.9.2"]}


@pytest.mark.parametrize("command", ["pull", "listen", "export-dicom", "send"])
def test_the_pacs_commands_are_registered(command: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser(only=command).parse_args([command, "--help"])
    assert exit_info.value.code == 0
