"""The SR names each finding by the standard code the model card gives it, its source of measurement
is the image the model scored (not the lateral view it did not score, not the Secondary Capture
drawn from it), its evidence lists that image and the Secondary Capture, and both objects pass
``dciodvfy``; a PNG study still gets no objects. Read back with dcmtk's ``dsrdump``.

Needs ``dsrdump`` (Debian ``dcmtk``) and ``dciodvfy`` (``dicom3tools``): without them the tests skip,
except under ``CI=true``, where they fail. No PACS is needed."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from inference.api import ModelCard
from inference.bundled import DEMO_MODEL
from inference.cli.main import main
from inference.models.card import read_card

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parents[1] / "fixtures" / "dicom"
SAMPLES = Path(__file__).parents[2] / "resources" / "samples"
FRONTAL = "DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm"  # DX For Presentation, chest PA
SECONDARY_SOURCE = "DX_chest_NIH_google_1024_8bit.dcm"  # a chest radiograph stored as Secondary Capture
PNG = "00000001_000.png"
SR_CLASS, SC_CLASS = "1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.7"
INSTALL = "apt-get install dcmtk dicom3tools"
TIMEOUT_S = 60


@dataclass(frozen=True)
class Exported:
    """What ``triage`` then ``export-dicom`` made of the fixture studies."""

    folder: Path  # export-dicom's --out
    frontal: Dataset  # the scored image of the two-image study (header)
    lateral: Dataset  # the same study's lateral view, which is not scored (header)
    secondary: Dataset  # the single image of the other study, a Secondary Capture itself (header)
    stderr: str  # what export-dicom said on stderr

    def objects(self, study_uid: str) -> tuple[Path, Dataset, Dataset]:
        """(SR path, SR, SC) of one study."""
        found = {}
        for path in (self.folder / study_uid).glob("*.dcm"):
            ds = pydicom.dcmread(path)
            found[str(ds.SOPClassUID)] = (path, ds)
        assert set(found) == {SR_CLASS, SC_CLASS}, f"{study_uid}: {sorted(found)}"
        (sr_path, sr), (_, sc) = found[SR_CLASS], found[SC_CLASS]
        return sr_path, sr, sc


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    message = f"the SR code tests need {name}: {INSTALL}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must run them)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    _tool("dsrdump")
    _tool("dciodvfy")
    folder = tmp_path_factory.mktemp("sr-codes")
    images = folder / "images"
    images.mkdir()
    shutil.copy(FIXTURES / FRONTAL, images / FRONTAL)
    shutil.copy(FIXTURES / SECONDARY_SOURCE, images / SECONDARY_SOURCE)
    shutil.copy(SAMPLES / PNG, images / PNG)
    lateral = pydicom.dcmread(FIXTURES / FRONTAL)  # the same study's lateral view: recorded, not scored
    lateral.ViewPosition, lateral.SOPInstanceUID = "LL", generate_uid()
    lateral.file_meta.MediaStorageSOPInstanceUID = lateral.SOPInstanceUID
    lateral.save_as(images / "lateral.dcm")
    db, out = str(folder / "s.sqlite"), folder / "objects"
    worklist = str(folder / "worklist")
    assert main(["triage", str(images), "--db", db, "--out", worklist, "--device", "cpu"]) == 0
    with (folder / "worklist" / "worklist.csv").open(encoding="utf-8") as fh:
        rows = {row["study_uid"]: row for row in csv.DictReader(fh)}
    assert "lateral.dcm: view LL is not" in rows[str(lateral.StudyInstanceUID)]["error"]  # seen, not scored
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        assert main(["export-dicom", "--db", db, "--out", str(out), "--device", "cpu"]) == 0
    return Exported(
        out,
        pydicom.dcmread(FIXTURES / FRONTAL, stop_before_pixels=True),
        lateral,
        pydicom.dcmread(FIXTURES / SECONDARY_SOURCE, stop_before_pixels=True),
        said.getvalue(),
    )


def test_each_finding_is_named_by_the_cards_standard_code(exported: Exported) -> None:
    card = read_card(DEMO_MODEL)
    for study in (exported.frontal, exported.secondary):
        sr_path, _, _ = exported.objects(str(study.StudyInstanceUID))
        findings = _findings(_dsrdump(sr_path))
        assert '(233604007,SCT,"Pneumonia")' in findings  # SNOMED CT, as the card says
        assert set(findings) == {_coded(card, name) for name in card.shown_labels}
        assert not [f for f in findings if "99CXRTRIAGE" in f]  # every demo finding has a standard code


def test_the_source_of_measurement_is_the_scored_image_and_the_sc_is_evidence(exported: Exported) -> None:
    for study, scored in ((exported.frontal, exported.frontal), (exported.secondary, exported.secondary)):
        sr_path, sr, sc = exported.objects(str(study.StudyInstanceUID))
        sources = _sources(_dsrdump(sr_path, "+Pu", "+Psu"))
        assert sources and set(sources) == {(str(scored.SOPClassUID), str(scored.SOPInstanceUID))}
        assert str(sc.SOPInstanceUID) not in {uid for _, uid in sources}
        assert _evidence(sr) == {
            (str(scored.SOPClassUID), str(scored.SOPInstanceUID)),
            (SC_CLASS, str(sc.SOPInstanceUID)),
        }  # the lateral view, which the model did not score, is in neither
        assert sr.StudyInstanceUID == sc.StudyInstanceUID == study.StudyInstanceUID
    assert str(exported.lateral.SOPInstanceUID) not in _dsrdump(
        exported.objects(str(exported.frontal.StudyInstanceUID))[0], "+Pu"
    )


def test_the_sr_and_sc_pass_dciodvfy(exported: Exported) -> None:
    files = sorted(exported.folder.rglob("*.dcm"))
    assert len(files) == 4  # SR and SC of the two DICOM studies
    for path in files:
        report = subprocess.run(
            [_tool("dciodvfy"), str(path)], capture_output=True, text=True, timeout=TIMEOUT_S
        )
        errors = [line for line in (report.stdout + report.stderr).splitlines() if line.startswith("Error")]
        assert errors == [], f"{path.name}: {errors}"


def test_a_png_study_gets_no_objects_and_says_why(exported: Exported) -> None:
    assert "skipped: no scored DICOM image to refer to (PNG/JPEG studies" in exported.stderr
    assert {p.name for p in exported.folder.iterdir()} == {
        str(exported.frontal.StudyInstanceUID),
        str(exported.secondary.StudyInstanceUID),
    }


# -- helpers ---------------------------------------------------------------------------------------
def _dsrdump(path: Path, *options: str) -> str:
    done = subprocess.run(
        [_tool("dsrdump"), *options, str(path)], capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _findings(dump: str) -> list[str]:
    """The coded values of the dump's "Finding" items, as dsrdump prints them: (value,scheme,"meaning")."""
    return re.findall(r'CODE:\(,,"Finding"\)=(\([^)]*\))>', dump)


def _sources(dump: str) -> list[tuple[str, str]]:
    """(SOP Class UID, SOP Instance UID) of each "Source of Measurement" (dsrdump +Pu +Psu)."""
    return re.findall(r'IMAGE:\(,,"Source of Measurement"\)=\("([\d.]+)","([\d.]+)"\)>', dump)


def _coded(card: ModelCard, name: str) -> str:
    code = card.label(name).code
    assert code is not None, f"the demo card gives {name} no code"
    return f'({code.value},{code.scheme},"{code.meaning}")'


def _evidence(sr: Dataset) -> set[tuple[str, str]]:
    """(SOP Class UID, SOP Instance UID) of the SR's Current Requested Procedure Evidence."""
    return {
        (str(sop.ReferencedSOPClassUID), str(sop.ReferencedSOPInstanceUID))
        for study in sr.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for sop in series.ReferencedSOPSequence
    }
