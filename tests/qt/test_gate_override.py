"""The viewer side of the safety gate on a real study store (SQLite in tmp_path): the Gate column, and
"Score Anyway", the reader's audited override of a study the gate stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from viewer_fakes import entry, make_card, probs_for

from inference.api import Status
from inference.gate import OUTSIDE_TRAINING
from inference.store import ImageResult, Store
from viewer.core.worklist import RowState
from viewer.core.worklist_columns import HEADERS, Column
from viewer.qt.actions import shortcut_table
from viewer.qt.main_window import MainWindow

SHA = make_card().weights_sha256  # the fake model's weights
STOPPED_WHY = f"{OUTSIDE_TRAINING}: gate score 1.16, limit 1)"  # as the gate words it
ORDINARY, STOPPED, LATERAL = entry(0), entry(1), entry(2, Status.NOT_SCORED, "view LL is not frontal")


def seed(db: Path) -> None:
    """An ordinary scored study (gate 0.42), one the gate stopped (1.16), and a lateral one (no score)."""
    with Store(db) as store:
        ordinary, stopped = store.record([ORDINARY, STOPPED])
        store.record([LATERAL])
        store.save_results(
            [
                ImageResult(ordinary, Status.SCORED, probs_for(ORDINARY.meta.study_uid), gate_score=0.42),
                ImageResult(stopped, Status.NOT_SCORED, probs_for(STOPPED.meta.study_uid), STOPPED_WHY,
                            gate_score=1.16),
            ],
            SHA,
        )  # fmt: skip


def overrides(db: Path) -> list:
    with Store(db) as store:
        return [e for e in store.audit() if e.action == "gate-overridden"]


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "studies.sqlite"
    seed(path)
    return path


@pytest.fixture
def open_seeded(qtbot, open_window):
    """Opens a main window on the seeded store (conftest's ``open_window``) once its 3 studies are listed."""

    def make() -> MainWindow:
        win = open_window()
        qtbot.waitUntil(lambda: len(win.session.worklist_model.worklist) == 3, timeout=5000)
        return win

    return make


def select(qtbot, win: MainWindow, uid: str) -> None:
    assert win.worklist.select_uid(uid)
    win.activateWindow()
    win.worklist.table.setFocus()
    qtbot.waitUntil(win.worklist.table.hasFocus, timeout=2000)


def gate_cell(win: MainWindow, uid: str) -> str:
    return win.session.worklist_model.index_of(uid, Column.GATE).data()


def test_the_gate_column_shows_each_studys_gate_score(open_seeded):
    win = open_seeded()
    model = win.session.worklist_model
    assert model.headerData(Column.GATE, Qt.Orientation.Horizontal) == HEADERS[Column.GATE] == "Gate"
    assert gate_cell(win, ORDINARY.meta.study_uid) == "0.42"
    assert gate_cell(win, STOPPED.meta.study_uid) == "1.16 stopped"
    assert gate_cell(win, LATERAL.meta.study_uid) == ""  # unknown
    model.sort(Column.GATE, Qt.SortOrder.DescendingOrder)
    assert [r.uid for r in model.worklist.rows] == [s.meta.study_uid for s in (STOPPED, ORDINARY, LATERAL)]


def test_score_anyway_ranks_a_stopped_study_persists_and_is_audited_once(qtbot, open_seeded, db, monkeypatch):
    win = open_seeded()
    uid = STOPPED.meta.study_uid
    select(qtbot, win, uid)
    row = win.session.worklist_model.worklist.get(uid)
    assert row.state is RowState.NOT_SCORED and row.probabilities == {}
    assert win.actions_.score_anyway.isEnabled()
    asked: list[str] = []

    def answer(_parent, _title, text):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    qtbot.keyClick(
        win.worklist.table,
        Qt.Key.Key_G,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert len(asked) == 1 and "gate score 1.16" in asked[0]  # the reader confirms, knowing why it stopped
    qtbot.waitUntil(lambda: not win.session.store_writing, timeout=5000)  # written on the store thread
    row = win.session.worklist_model.worklist.get(uid)
    assert row.state is RowState.SCORED and row.rank is not None
    assert dict(row.probabilities) == probs_for(uid)  # the kept probabilities, not new ones
    assert win.session.worklist_model.index_of(uid, Column.STATUS).data() == "scored (gate overridden)"
    assert gate_cell(win, uid) == "1.16 overridden"
    assert win.worklist.current_uid() == uid  # the reader stays on the study
    assert "safety gate stopped it (gate score 1.16)" in win.caption.text()
    assert not win.actions_.score_anyway.isEnabled()
    win.actions_.score_anyway.trigger()  # nothing left to override: no second event
    [event] = overrides(db)
    assert (event.study_uid, event.weights_sha256, event.detail) == (uid, SHA, {"gate_scores": [1.16]})
    win.close()

    again = open_seeded()
    row = again.session.worklist_model.worklist.get(uid)
    assert row.state is RowState.SCORED and row.rank is not None and row.gate_overridden
    assert dict(row.probabilities) == probs_for(uid)
    assert len(overrides(db)) == 1


def test_score_anyway_is_disabled_on_ordinary_studies(qtbot, open_seeded, db, monkeypatch):
    win = open_seeded()
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    for study in (ORDINARY, LATERAL):  # scored; not scored for a reason of its own (no gate score)
        select(qtbot, win, study.meta.study_uid)
        assert not win.actions_.score_anyway.isEnabled(), study.meta.study_uid
        win.gate_override.score_anyway()
    assert overrides(db) == []
    assert win.session.worklist_model.worklist.get(LATERAL.meta.study_uid).state is RowState.NOT_SCORED


def test_score_anyway_is_in_the_study_and_context_menus_with_a_shortcut_of_its_own(open_seeded):
    win = open_seeded()
    action = win.actions_.score_anyway
    study_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Study")
    assert action in study_menu.actions() and action in win.worklist.table.actions()
    keys = [k for k, _ in shortcut_table(win.actions_)]
    assert "Ctrl+Shift+G" in keys and len(keys) == len(set(keys))  # no clash with any other command


def test_the_store_overrides_only_that_studys_stopped_results_under_those_weights(db):
    uid = STOPPED.meta.study_uid
    with Store(db) as store:
        assert store.override_gate(ORDINARY.meta.study_uid, SHA) == 0  # nothing stopped there
        assert store.override_gate(uid, "b" * 64) == 0  # other weights
        assert store.override_gate(uid, SHA) == 1
        assert store.override_gate(uid, SHA) == 0
        results = store.results(SHA)
    assert {r.status for r in results.values()} == {Status.SCORED}
    stopped = next(r for r in results.values() if r.gate_score == 1.16)
    assert (stopped.status, stopped.gate_overridden, dict(stopped.probabilities)) == (
        Status.SCORED, True, probs_for(uid),
    )  # fmt: skip
    ordinary = next(r for r in results.values() if r.gate_score == 0.42)
    assert not ordinary.gate_overridden
    assert [e.study_uid for e in overrides(db)] == [uid]
