"""Issue #22, problem 10: similar studies in the real window. Each entry names its study (patient or
file, date; date only with identifiers hidden) with its top finding at the READER's thresholds;
opening one shows it beside the study being read (which stays), with Esc or "Close comparison" as the
way back; a study that was not scored or could not be read is told so plainly (no UID, no jargon)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeySequence
from viewer_fakes import make_card

from inference.api import ImageMeta, ScanEntry, Status
from inference.store import ImageResult, Store

SHA = make_card().weights_sha256


def vector(*values: float) -> np.ndarray:
    v = np.zeros(8, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def add(store: Store, uid: str, patient: str, date: str, probs: dict[str, float], emb: np.ndarray) -> None:
    meta = ImageMeta(Path(f"/data/{uid}.dcm"), uid, patient_id=patient, study_date=date, sop_uid=f"{uid}.1")
    [image] = store.record([ScanEntry(meta)])
    store.save_results([ImageResult(image, Status.SCORED, probs, embedding=emb)], SHA)


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "studies.sqlite"
    low = {"Atelectasis": 0.1, "Cardiomegaly": 0.2, "Effusion": 0.1, "Pneumothorax": 0.1}
    with Store(path) as store:
        add(store, "1.2.840.9.1", "P1", "20240301", low, vector(1, 0))
        close = {"Atelectasis": 0.1, "Cardiomegaly": 0.4, "Effusion": 0.9, "Pneumothorax": 0.35}
        add(store, "1.2.840.9.2", "P2", "20230105", close, vector(1, 0.2))
        lateral = ImageMeta(Path("/data/lat.dcm"), "1.2.840.9.3", patient_id="P3", view_position="LL")
        store.record([ScanEntry(lateral, Status.NOT_SCORED, "lateral view: not scored")])
        store.record([ScanEntry(ImageMeta(Path("/data/x.dcm"), "1.2.840.9.4"), Status.ERROR, "corrupt")])
    return path


def entries(win) -> list[str]:
    panel = win.similar
    return [panel.list.item(i).text() for i in range(panel.list.count())]


def test_entries_are_named_and_follow_the_readers_thresholds_and_hidden_identifiers(qtbot, open_window):
    win = open_window()
    assert win.worklist.select_uid("1.2.840.9.1")
    qtbot.waitUntil(lambda: len(entries(win)) == 1, timeout=5000)
    [text] = entries(win)
    assert "Patient P2 · 2023-01-05" in text and "Effusion 0.90" in text  # at the card's 0.5
    tip = win.similar.list.item(0).toolTip()
    assert "1.2.840" not in tip and "Patient P2" in tip  # never a bare UID

    # The reader moves thresholds: Effusion is no longer positive, Cardiomegaly and Pneumothorax are.
    win.findings.edit_thresholds({"Effusion": 0.95, "Cardiomegaly": 0.3, "Pneumothorax": 0.3})
    qtbot.waitUntil(lambda: "Cardiomegaly 0.40 (+1 more positive)" in entries(win)[0], timeout=5000)

    win.set_deidentify(True)
    [hidden] = entries(win)
    assert "Study of 2023-01-05" in hidden and "P2" not in hidden and ".dcm" not in hidden


def test_opening_a_similar_study_shows_it_beside_the_current_one_with_a_way_back(qtbot, open_window):
    win = open_window()
    assert win.worklist.select_uid("1.2.840.9.1")
    qtbot.waitUntil(lambda: win.image_view.image() is not None and len(entries(win)) == 1, timeout=5000)
    shown = win.image_view.image()
    assert win.compare_pane.isHidden()

    win.similar.list.itemClicked.emit(win.similar.list.item(0))
    qtbot.waitUntil(lambda: win.compare_pane.image_view.image() is not None, timeout=5000)
    assert win.compare_pane.isVisible()
    assert "Similar study" in win.compare_pane.caption.text()
    assert "Patient P2 · 2023-01-05" in win.compare_pane.caption.text()
    assert win.compare_pane.image_view.image().meta.path == Path("/data/1.2.840.9.2.dcm")
    # the study being read was not replaced: same row, same image, side by side
    assert win.worklist.current_uid() == "1.2.840.9.1"
    assert win.image_view.image() is shown

    def side_by_side() -> bool:
        beside = win.compare_pane.mapTo(win, QPoint()).x()
        right_edge = win.image_view.mapTo(win, QPoint(win.image_view.width(), 0)).x()
        return beside >= right_edge and win.image_view.width() > 100 and win.compare_pane.width() > 100

    qtbot.waitUntil(side_by_side, timeout=5000)  # once the layout has run

    assert win.actions_.cancel.shortcut() == QKeySequence(Qt.Key.Key_Escape)
    win.actions_.cancel.trigger()  # Esc
    assert win.compare_pane.isHidden() and win.worklist.current_uid() == "1.2.840.9.1"

    win.similar.list.itemActivated.emit(win.similar.list.item(0))  # Enter on the entry
    assert win.compare_pane.isVisible()
    qtbot.mouseClick(win.compare_pane.close_button, Qt.MouseButton.LeftButton)
    assert win.compare_pane.isHidden()

    win.similar.list.itemActivated.emit(win.similar.list.item(0))
    assert win.worklist.select_uid("1.2.840.9.2")  # the reader moves on: that comparison was for 9.1
    assert win.compare_pane.isHidden()


@pytest.mark.parametrize(
    ("uid", "said"),
    [("1.2.840.9.3", "was not scored"), ("1.2.840.9.4", "could not be read")],
)
def test_a_study_without_similar_studies_says_why_plainly(qtbot, open_window, uid, said):
    win = open_window()
    assert win.worklist.select_uid(uid)
    qtbot.waitUntil(lambda: said in win.similar.status.text(), timeout=5000)
    text = win.similar.status.text()
    assert uid not in text and "1.2.840" not in text
    assert "embedding" not in text and "weights" not in text and "frontal image with" not in text
