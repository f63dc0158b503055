"""The PACS link against a real Orthanc: pull (QIDO-RS/WADO-RS) scores the bundled sample studies,
send puts an SR and a Secondary Capture back per study (STOW-RS and C-STORE, never twice), the SR
and SC pass dciodvfy, Orthanc C-STOREs a study to a running listener that scores it, and a stopped
PACS, an HTTP error or a refused association give a clear message and exit code 3."""

from __future__ import annotations

import csv
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pydicom
import pytest
from orthanc_server import LISTENER_NAME, PACS_AET, SAMPLES, Orthanc, free_port
from pydicom.dataset import Dataset

from inference.api import ModelCard
from inference.bundled import DEMO_MODEL
from inference.cli.main import main
from inference.models.card import read_card
from inference.pacs.destinations import DicomNode, PacsError
from inference.pacs.dimse import OWN_AE_TITLE, echo
from inference.pacs.report import SC_DESCRIPTION, SR_DESCRIPTION, finding_code
from inference.store import Store, StoredImage

pytestmark = pytest.mark.slow
EXIT_PACS = 3
WAIT_S = 120.0  # bound on every wait for a subprocess or an arrival
CHEST = ("CR_chest_SIIM_jpegbaseline_8bit.dcm", "DX_chest_NIH_google_1024_8bit.dcm",
         "DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm")  # fmt: skip
HIP = "RG2_JPLY_fixed.dcm"
SR_CLASS, SC_CLASS = "1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.7"


def cli(*args: str) -> int:
    return main([*args, "--device", "cpu"])


@pytest.fixture(scope="module")
def pulled(
    orthanc: Orthanc, samples_in_pacs: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A store that pulled every study of the PACS (the first pull of these tests)."""
    folder = tmp_path_factory.mktemp("pulled")
    assert cli("pull", orthanc.dicomweb, "--db", str(folder / "s.sqlite"), "--out", str(folder / "out")) == 0
    return folder


def test_pull_scores_the_pacs_studies_into_the_worklist(
    pulled: Path, samples_in_pacs: dict[str, str]
) -> None:
    with (pulled / "out" / "worklist.csv").open(encoding="utf-8") as fh:
        rows = {row["study_uid"]: row for row in csv.DictReader(fh)}
    assert {rows[samples_in_pacs[name]]["status"] for name in CHEST} == {"scored"}
    assert rows[samples_in_pacs[HIP]]["status"] == "not_scored"
    assert "HIP" in rows[samples_in_pacs[HIP]]["error"]
    cached = sorted(p.name for p in (pulled / "pacs-cache").rglob("*.dcm"))
    assert len(cached) == len(samples_in_pacs)
    local = pulled / "local.sqlite"  # the same images triaged from their files: the same scores
    chest = [str(SAMPLES / name) for name in CHEST]
    assert main(["triage", *chest, "--db", str(local), "--out", str(pulled / "local")]) == 0
    weights = read_card(DEMO_MODEL).weights_sha256
    with Store(pulled / "s.sqlite") as ours, Store(local) as theirs:
        reference = theirs.results(weights)
        assert reference and all(
            ours.results(weights)[uid].probabilities == pytest.approx(dict(r.probabilities), abs=1e-6)
            for uid, r in reference.items()
        )


def test_a_second_pull_fetches_nothing_again(
    orthanc: Orthanc, pulled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli("pull", orthanc.dicomweb, "--db", str(pulled / "s.sqlite"), "--out", str(pulled / "out2")) == 0
    out = capsys.readouterr().out
    assert "1 instances retrieved" not in out
    assert out.count("0 instances retrieved, 1 already in the cache") == 4
    assert "images scored 0, reused 3" in out


def test_pull_filters_by_modality_date_and_study(
    orthanc: Orthanc, pulled: Path, samples_in_pacs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, out = str(pulled / "s.sqlite"), str(pulled / "filtered")
    capsys.readouterr()
    cli("pull", orthanc.dicomweb, "--db", db, "--out", out, "--modality", "DX")
    assert capsys.readouterr().out.startswith("2 studies on ")
    cli("pull", orthanc.dicomweb, "--db", db, "--out", out, "--since", "20000101")  # only the hip (2004)
    assert capsys.readouterr().out.startswith("1 studies on ")
    cli("pull", orthanc.dicomweb, "--db", db, "--out", out, "--study", samples_in_pacs[CHEST[0]])
    assert capsys.readouterr().out.startswith("1 studies on ")


def test_send_puts_an_sr_and_an_sc_back_into_each_study_once(
    orthanc: Orthanc, pulled: Path, samples_in_pacs: dict[str, str]
) -> None:
    db = str(pulled / "s.sqlite")
    assert cli("send", orthanc.dicomweb, "--db", db) == 0
    assert cli("send", orthanc.dicomweb, "--db", db) == 0  # the same UIDs again: no second copy
    card = read_card(DEMO_MODEL)
    with Store(pulled / "s.sqlite") as store:
        results = store.results(card.weights_sha256)
        for name in CHEST:
            study = samples_in_pacs[name]
            source = pydicom.dcmread(SAMPLES / name)
            held = _fetch_all(orthanc, study)
            [sr] = [ds for ds in held if ds.get("SeriesDescription") == SR_DESCRIPTION]  # one, not two
            [sc] = [ds for ds in held if ds.get("SeriesDescription") == SC_DESCRIPTION]
            assert len(held) == 3 and (sr.SOPClassUID, sc.SOPClassUID) == (SR_CLASS, SC_CLASS)
            _check_sr(sr, source, results[str(source.SOPInstanceUID)].probabilities, card)
            assert _evidence(sr) == {source.SOPInstanceUID, sc.SOPInstanceUID}  # the SC is evidence too
            assert sc.BurnedInAnnotation == "YES" and sc.StudyInstanceUID == study
            assert len({sc.SeriesInstanceUID, sr.SeriesInstanceUID, source.SeriesInstanceUID}) == 3
            assert [kind for kind, *_ in store.sent(study)] == ["sr", "sc", "sr", "sc"]
        sent = [e for e in store.audit() if e.action == "sent"]
    assert len(sent) == 2 * len(CHEST) and all(e.weights_sha256 == card.weights_sha256 for e in sent)
    assert "CompressedSamples" not in repr(sent) and "Covid0000^" not in repr(sent)


def test_the_sr_and_sc_pass_dciodvfy(pulled: Path, tmp_path: Path) -> None:
    assert cli("export-dicom", "--db", str(pulled / "s.sqlite"), "--out", str(tmp_path)) == 0
    files = sorted(tmp_path.rglob("*.dcm"))
    assert len(files) == 2 * len(CHEST)
    for path in files:
        report = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
        errors = [line for line in (report.stdout + report.stderr).splitlines() if line.startswith("Error")]
        assert errors == [], f"{path.name}: {errors}"


def test_send_over_dimse_stores_into_orthanc(
    orthanc: Orthanc, pulled: Path, samples_in_pacs: dict[str, str]
) -> None:
    db = str(pulled / "s.sqlite")
    study = samples_in_pacs[CHEST[0]]
    assert cli("send", orthanc.dicomweb, "--db", db, "--study", study) == 0
    ours = [
        i
        for i in _fetch_all(orthanc, study)
        if i.get("SeriesDescription") in (SR_DESCRIPTION, SC_DESCRIPTION)
    ]
    for ds in ours:  # take them out of Orthanc, then put them back over DIMSE
        orthanc.rest("DELETE", f"/instances/{orthanc.lookup(str(ds.SOPInstanceUID))}")
    destination = f"dicom://{PACS_AET}@127.0.0.1:{orthanc.dicom_port}"
    assert cli("send", destination, "--db", db, "--study", study) == 0
    back = {str(ds.SOPInstanceUID) for ds in _fetch_all(orthanc, study)}
    assert {str(ds.SOPInstanceUID) for ds in ours} <= back


def test_listen_scores_a_study_that_orthanc_stores_to_it(
    orthanc: Orthanc, samples_in_pacs: dict[str, str], tmp_path: Path
) -> None:
    db, study = tmp_path / "listen.sqlite", samples_in_pacs[CHEST[1]]
    inbox = tmp_path / "inbox"
    command = [sys.executable, "-m", "inference.cli.main", "listen", "--port", str(orthanc.listener_port),
               "--bind", "127.0.0.1", "--db", str(db), "--inbox", str(inbox), "--device", "cpu"]  # fmt: skip
    with _Running(command) as lines:
        _wait_for(lambda: _next_line(lines).startswith("Listening"), "the listener to start")
        orthanc.rest("POST", f"/modalities/{LISTENER_NAME}/echo", {})
        orthanc.rest("POST", f"/modalities/{LISTENER_NAME}/store", orthanc.lookup(study))
        _wait_for(lambda: f"{study}: scored;" in _next_line(lines), "the study to be scored")
    source = pydicom.dcmread(SAMPLES / CHEST[1], stop_before_pixels=True)
    with Store(db) as store:
        result = store.results(read_card(DEMO_MODEL).weights_sha256)[str(source.SOPInstanceUID)]
    assert result.probabilities and str(source.SOPInstanceUID) in {
        i.image_uid for i in store_images(db, study)
    }
    assert (inbox / study).is_dir()
    local = tmp_path / "local.sqlite"  # the same image triaged from its file: the same scores
    assert main(["triage", str(SAMPLES / CHEST[1]), "--db", str(local), "--out", str(tmp_path / "out")]) == 0
    with Store(local) as store:
        reference = store.results(read_card(DEMO_MODEL).weights_sha256)[str(source.SOPInstanceUID)]
    assert result.probabilities == pytest.approx(dict(reference.probabilities), abs=1e-6)


def test_a_stopped_pacs_gives_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    closed = free_port()  # nothing listens there: what a stopped Orthanc looks like
    db, out = str(tmp_path / "s.sqlite"), str(tmp_path / "out")
    assert (
        main(["pull", f"http://127.0.0.1:{closed}/dicom-web", "--db", db, "--out", out, "--timeout", "5"])
        == EXIT_PACS
    )
    assert "cannot reach the PACS at http://127.0.0.1" in capsys.readouterr().err
    assert cli("send", f"dicom://{PACS_AET}@127.0.0.1:{closed}", "--db", db, "--timeout", "5") != 0


def test_an_http_error_and_a_refused_association_give_clear_errors(
    orthanc: Orthanc, pulled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong_root = f"{orthanc.http}/not-dicom-web"
    assert main(["pull", wrong_root, "--db", str(tmp_path / "s.sqlite"), "--out", str(tmp_path)]) == EXIT_PACS
    assert "answered 404" in capsys.readouterr().err
    refused = f"dicom://NOT{PACS_AET}@127.0.0.1:{orthanc.dicom_port}"
    assert cli("send", refused, "--db", str(pulled / "s.sqlite")) == EXIT_PACS
    assert "rejected the association (Called AE title not recognised)" in capsys.readouterr().err


def test_a_wrong_ae_title_is_reported_as_rejected_every_time(orthanc: Orthanc) -> None:
    """Orthanc closes the connection right after its A-ASSOCIATE-RJ; pynetdicom then reports about
    one association in ten as aborted, not rejected. The received rejection must still be the reason."""
    wrong = DicomNode(f"NOT{PACS_AET}", "127.0.0.1", orthanc.dicom_port)
    messages = set()
    for _ in range(60):
        with pytest.raises(PacsError) as refused:
            echo(wrong)
        messages.add(str(refused.value))
    assert messages == {
        f"{wrong} rejected the association (Called AE title not recognised): "
        f"check its AE title and that it accepts {OWN_AE_TITLE}"
    }


# -- helpers ---------------------------------------------------------------------------------------
def store_images(db: Path, study: str) -> list[StoredImage]:
    with Store(db) as store:
        return store.images([study])


def _fetch_all(orthanc: Orthanc, study: str) -> list[Dataset]:
    from dicomweb_client import DICOMwebClient

    client = DICOMwebClient(orthanc.dicomweb)
    return list(client.retrieve_study(study, media_types=(("application/dicom", "*"),)))


def _check_sr(sr: Dataset, source: Dataset, probabilities: Mapping[str, float], card: ModelCard) -> None:
    assert sr.StudyInstanceUID == source.StudyInstanceUID and sr.PatientID == source.PatientID
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    items = list(_walk(sr.ContentSequence))
    numbers = [i for i in items if i.ValueType == "NUM"]
    found = {
        i.ConceptNameCodeSequence[0].CodeMeaning: float(i.MeasuredValueSequence[0].NumericValue)
        for i in numbers
    }
    probs = [float(i.MeasuredValueSequence[0].NumericValue) for i in numbers
             if i.ConceptNameCodeSequence[0].CodeMeaning == "Probability"]  # fmt: skip
    shown = [name for name in card.shown_labels if name in probabilities]
    assert probs == pytest.approx([probabilities[name] for name in shown], abs=1e-6)
    assert "Threshold in force" in found
    texts = " ".join(str(getattr(i, "TextValue", "")) for i in items)
    findings = {
        (code.get("CodeValue") or code.get("LongCodeValue"), code.CodingSchemeDesignator, code.CodeMeaning)
        for i in items
        if i.ValueType == "CODE" and i.ConceptNameCodeSequence[0].CodeMeaning == "Finding"
        for code in i.ConceptCodeSequence
    }
    codes = [finding_code(card, name) for name in shown]
    assert findings == {(c.value, c.scheme, c.meaning) for c in codes}  # the card's codes, one per finding
    assert card.weights_sha256 in texts and "NOT FOR DIAGNOSTIC USE" in texts
    assert card.name in texts
    images = {i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in items if i.ValueType == "IMAGE"}
    assert images == {source.SOPInstanceUID}  # every finding group names its source image


def _evidence(sr: Dataset) -> set[str]:
    """The SOP Instance UIDs of the SR's Current Requested Procedure Evidence."""
    return {
        str(sop.ReferencedSOPInstanceUID)
        for study in sr.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for sop in series.ReferencedSOPSequence
    }


def _walk(sequence: list[Dataset]) -> Iterator[Dataset]:
    for item in sequence:
        yield item
        yield from _walk(item.get("ContentSequence", []))


class _Running:
    """A subprocess whose output lines arrive on a queue; stopped with SIGTERM (exit 0 expected)."""

    def __init__(self, command: list[str]) -> None:
        self.command = command

    def __enter__(self) -> queue.Queue[str]:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        return self.lines

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=WAIT_S)
            raise AssertionError("the listener did not stop on SIGTERM") from None
        if exc[0] is None:
            assert code == 0


def _next_line(lines: queue.Queue[str]) -> str:
    try:
        return lines.get(timeout=1.0)
    except queue.Empty:
        return ""


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
    raise AssertionError(f"timed out waiting for {what}")
