"""The viewer's PACS menu against the real Orthanc of ``conftest.py``, with the bundled demo model:
the Test button (QIDO-RS and C-ECHO), a query by patient and by dates, "Retrieve Selected" bringing
studies into the worklist scored, and sending the current study's SR and Secondary Capture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from orthanc_server import PACS_AET, Orthanc
from PySide6.QtCore import QItemSelectionModel, Qt

from inference.bundled import DEMO_MODEL
from inference.store import Store
from viewer.core.settings import Settings
from viewer.core.worklist import RowState
from viewer.qt.engine_parts import EngineParts
from viewer.qt.main_window import MainWindow
from viewer.qt.pacs_dialog import PacsDialog, Tab
from viewer.qt.session import TriageSession

pytestmark = pytest.mark.slow
WAIT_MS = 120_000  # bound on every wait for the PACS or the model
NIH, SIIM, HIP = (
    "DX_chest_NIH_google_1024_8bit.dcm",
    "CR_chest_SIIM_jpegbaseline_8bit.dcm",
    "RG2_JPLY_fixed.dcm",
)
SR_CLASS, SC_CLASS = "1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.7"


@pytest.fixture
def window(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    """A viewer on its own store with the demo model loaded on the CPU; closed (threads joined) after."""
    monkeypatch.setenv("CXR_TRIAGE_HOME", str(tmp_path / "home"))
    session = TriageSession(EngineParts(), store=Store(tmp_path / "studies.sqlite"))
    win = MainWindow(session, Settings(path=tmp_path / "settings.json"))
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(session.modelLoaded, timeout=WAIT_MS):
        session.load_model(DEMO_MODEL, "cpu")
    qtbot.waitUntil(lambda: not session.busy, timeout=WAIT_MS)
    yield win
    win.close()
    assert not session.model_thread._thread.is_alive()


def add_node(qtbot, dialog: PacsDialog, name: str, address: str) -> None:
    dialog.nodes_tab.node_name.setText(name)
    dialog.nodes_tab.node_address.setText(address)
    qtbot.mouseClick(dialog.nodes_tab.save_node_button, Qt.MouseButton.LeftButton)


def click_and_wait(qtbot, dialog: PacsDialog, button) -> str:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    return dialog.jobs.status.text()


def search(qtbot, dialog: PacsDialog, dates: tuple[str, str] = ("", ""), patient: str = "") -> set[str]:
    query = dialog.query_tab
    query.date_from.setText(dates[0])
    query.date_to.setText(dates[1])
    query.patient_id.setText(patient)
    assert "found" in click_and_wait(qtbot, dialog, query.search_button)
    return {query.results.item(row, 5).text() for row in range(query.results.rowCount())}


def test_the_pacs_menu_tests_queries_retrieves_and_sends(
    qtbot, window: MainWindow, orthanc: Orthanc, samples_in_pacs: dict[str, str]
) -> None:
    window.show_pacs(Tab.NODES)
    dialog = window.pacs
    add_node(qtbot, dialog, "web", orthanc.dicomweb)
    add_node(qtbot, dialog, "dimse", f"dicom://{PACS_AET}@127.0.0.1:{orthanc.dicom_port}")
    for row, name in enumerate(("web", "dimse")):
        dialog.nodes_tab.node_list.setCurrentRow(row)
        assert click_and_wait(qtbot, dialog, dialog.nodes_tab.test_button) == f"{name} answers."

    dialog.show_tab(Tab.QUERY)
    assert set(samples_in_pacs.values()) <= search(qtbot, dialog)
    assert search(qtbot, dialog, patient="Covid0000") == {samples_in_pacs[NIH]}
    assert search(qtbot, dialog, dates=("20040101", "20041231")) == {samples_in_pacs[HIP]}

    wanted = {samples_in_pacs[NIH], samples_in_pacs[SIIM]}
    search(qtbot, dialog)
    results = dialog.query_tab.results
    selection = results.selectionModel()
    for row in range(results.rowCount()):
        if results.item(row, 5).text() in wanted:
            index = results.model().index(row, 0)
            selection.select(
                index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
            )
    assert set(dialog.query_tab.selected_studies()) == wanted
    assert "retrieved" in click_and_wait(qtbot, dialog, dialog.query_tab.retrieve_button)
    worklist = window.session.worklist_model.worklist

    def scored() -> bool:
        return all((row := worklist.get(uid)) is not None and row.state is RowState.SCORED for uid in wanted)

    qtbot.waitUntil(scored, timeout=WAIT_MS)
    assert (Path(window.session.store.path).parent / "pacs-cache" / samples_in_pacs[NIH]).is_dir()

    assert window.worklist.select_uid(samples_in_pacs[NIH])
    window.actions_.pacs_send.trigger()
    assert dialog.tabs.currentIndex() == Tab.SEND
    send = dialog.send_tab
    assert send.send_study.text() == "Patient Covid0000"  # its header has no accession or date
    send.send_node.setCurrentIndex(0)  # web: STOW-RS
    assert click_and_wait(qtbot, dialog, send.send_button) == "SR and Secondary Capture sent to web."
    sent = window.session.store.sent(samples_in_pacs[NIH])
    assert sorted(kind for kind, _, _ in sent) == ["sc", "sr"]
    for _, sop_uid, destination in sent:
        assert destination == orthanc.dicomweb
        tags = orthanc.rest("GET", f"/instances/{orthanc.lookup(sop_uid)}/simplified-tags")
        assert tags["StudyInstanceUID"] == samples_in_pacs[NIH]
        assert tags["SOPClassUID"] in (SR_CLASS, SC_CLASS)
