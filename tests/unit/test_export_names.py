"""Exported images are named after the study and the finding: ``<accession or file stem>_<finding>.png``,
safe on any file system, never overwriting an earlier export (``_2``), and named by the opaque study id
alone when the reader hides patient identifiers (issue #22, item 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.api import ImageMeta
from inference.worklist.deidentify import opaque_id
from viewer.core.export_names import export_stem, unused_path

UID = "1.2.840.113619.2.55.3"


def meta(path: str, accession: str = "") -> ImageMeta:
    return ImageMeta(path=Path(path), study_uid=UID, accession=accession)


def test_the_accession_names_the_export_and_the_file_stem_without_one() -> None:
    assert export_stem(UID, meta("/in/DOE_JANE/chest.dcm", "ACC123"), "Effusion", False) == "ACC123_Effusion"
    assert export_stem(UID, meta("/in/00000001_000.png"), "Pleural_Thickening", False) == (
        "00000001_000_Pleural_Thickening"
    )
    assert export_stem(UID, meta("/in/a.png", "ACC9"), "", False) == "ACC9"


@pytest.mark.parametrize(
    ("path", "accession", "expected"),
    [
        ("/in/x.dcm", "ACC/12:3*?", "ACC_12_3_Effusion"),
        ("/in/x.dcm", " ../..\\evil ", "evil_Effusion"),
        ("/in/Röntgen thorax (1).jpeg", "", "R_ntgen_thorax_1_Effusion"),
        ("/in/CON.png", "", "CON__Effusion"),
        ("/in/東京.png", "", "image_Effusion"),
    ],
)
def test_names_are_safe_on_every_file_system(path: str, accession: str, expected: str) -> None:
    assert export_stem(UID, meta(path, accession), "Effusion", False) == expected


def test_a_very_long_accession_is_shortened() -> None:
    stem = export_stem(UID, meta("/in/x.dcm", "A" * 500), "Effusion", False)
    assert stem.endswith("_Effusion") and len(stem) <= 120


def test_hidden_identifiers_give_the_opaque_study_id_never_the_accession_or_file() -> None:
    stem = export_stem(UID, meta("/in/DOE_JANE/DOE_JANE.dcm", "ACC123"), "Effusion", True)
    assert stem == f"{opaque_id(UID, 'study')}_Effusion"
    assert "ACC123" not in stem and "DOE" not in stem


def test_an_existing_export_is_never_overwritten(tmp_path: Path) -> None:
    first = unused_path(tmp_path, "ACC123_Effusion")
    assert first == tmp_path / "ACC123_Effusion.png"
    first.write_bytes(b"png")
    second = unused_path(tmp_path, "ACC123_Effusion")
    assert second == tmp_path / "ACC123_Effusion_2.png"
    second.write_bytes(b"png")
    assert unused_path(tmp_path, "ACC123_Effusion") == tmp_path / "ACC123_Effusion_3.png"
    being_written = {tmp_path / "ACC123_Effusion_3.png"}  # an export still being drawn holds its name
    assert unused_path(tmp_path, "ACC123_Effusion", being_written) == tmp_path / "ACC123_Effusion_4.png"
