"""Issue #22, problem 9: the Send tab names the study by patient ID, accession and date (only the date
while patient identifiers are hidden), never by its UID alone, and offers Send only for DICOM studies:
for a PNG or JPEG study it says why and the button stays disabled. Real files (a bundled DICOM sample
with its identifiers set, a bundled PNG), scanned by the product's scan; the model is the fake one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication
from viewer_fakes import fake_image, fake_scorer

from viewer.core.worklist import RowState, StudyRow
from viewer.qt.main_window import MainWindow
from viewer.qt.pacs_dialog import Tab

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture
def backend(fake_service):
    """The product's scan (real headers), the fake model."""
    from viewer.qt.engine_parts import EngineParts

    return EngineParts(
        read_image=fake_image, loader=lambda package, device: fake_service, scorer=fake_scorer(fake_image)
    )


def scored_studies(qtbot, window: MainWindow, folder: Path) -> dict[str, StudyRow]:
    """``folder`` opened and scored: its rows by file name."""
    folder.mkdir()
    ds = pydicom.dcmread(SAMPLES / "CR_chest_SIIM_jpegbaseline_8bit.dcm")
    ds.PatientID, ds.AccessionNumber, ds.StudyDate = "PAT42", "ACC123", "20240315"
    ds.save_as(folder / "chest.dcm")
    shutil.copy(SAMPLES / "00000001_000.png", folder / "chest.png")
    window.session.open_paths([folder])
    worklist = window.session.worklist_model.worklist

    def scored() -> bool:
        rows = [worklist.get(uid) for uid in worklist.uids()]
        return len(rows) == 2 and all(row is not None and row.state is RowState.SCORED for row in rows)

    qtbot.waitUntil(scored, timeout=10_000)
    rows = (worklist.get(uid) for uid in worklist.uids())
    return {row.meta.path.name: row for row in rows if row is not None}


def send_tab_for(window: MainWindow, row: StudyRow):
    assert window.worklist.select_uid(row.uid)
    window.actions_.pacs_send.trigger()
    assert window.pacs.tabs.currentIndex() == Tab.SEND
    return window.pacs.send_tab


def test_a_dicom_study_is_named_by_patient_accession_and_date(qtbot, window, tmp_path: Path) -> None:
    rows = scored_studies(qtbot, window, tmp_path / "studies")
    dicom = rows["chest.dcm"]
    send = send_tab_for(window, dicom)
    shown = send.send_study.text()
    assert {"PAT42", "ACC123", "2024-03-15"} <= set(shown.replace("·", " ").split())
    assert dicom.uid not in shown
    assert send.send_button.isEnabled() and not send.why_not.isVisible()

    window.actions_.deidentify.trigger()  # hide patient identifiers
    send = send_tab_for(window, dicom)
    shown = send.send_study.text()
    assert "2024-03-15" in shown and "PAT42" not in shown and "ACC123" not in shown
    assert dicom.uid not in shown and "chest.dcm" not in shown


def test_a_png_study_cannot_be_sent_and_the_tab_says_why(qtbot, window, tmp_path: Path) -> None:
    rows = scored_studies(qtbot, window, tmp_path / "studies")
    send = send_tab_for(window, rows["chest.png"])
    assert not send.send_button.isEnabled()
    assert send.why_not.isVisible() and "Only DICOM studies can be sent" in send.why_not.text()
    assert "chest.png" in send.send_study.text()

    send = send_tab_for(window, rows["chest.dcm"])
    assert send.send_button.isEnabled() and not send.why_not.isVisible()


def test_the_study_named_is_the_one_sent(qtbot, window, tmp_path: Path) -> None:
    """The reader moves on in the worklist with the dialog open: a Send pressed before the new study
    is named sends nothing and says so; coming back to the dialog names the current study."""
    rows = scored_studies(qtbot, window, tmp_path / "studies")
    send = send_tab_for(window, rows["chest.dcm"])
    assert window.worklist.select_uid(rows["chest.png"].uid)
    qtbot.mouseClick(send.send_button, Qt.MouseButton.LeftButton)  # the DICOM study is still named
    assert not window.pacs.busy
    assert (
        window.pacs.jobs.status.text() == "The worklist's current study changed: check it above, then send."
    )
    assert "chest.png" in send.send_study.text() and not send.send_button.isEnabled()

    assert window.worklist.select_uid(rows["chest.dcm"].uid)
    QApplication.sendEvent(window.pacs, QEvent(QEvent.Type.ActivationChange))  # back to the dialog
    assert "PAT42" in send.send_study.text() and send.send_button.isEnabled()
