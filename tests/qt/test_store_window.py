"""The viewer on a real study store (SQLite file in tmp_path): it remembers results, reviews and
archiving between windows, and audits what the reader does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox

from inference.store import Store
from viewer.core.worklist import RowState
from viewer.core.worklist_columns import Column
from viewer.qt.main_window import MainWindow
from viewer.qt.review_note_dialog import ReviewNoteDialog


def score_folder(qtbot, win: MainWindow, folder: str) -> None:
    win.open_paths([Path(folder)])
    rows = win.session.worklist_model.worklist.rows
    qtbot.waitUntil(lambda: not win.session.busy and rows and all(r.result for r in rows), timeout=10_000)


def select_first(qtbot, win: MainWindow) -> str:
    win.worklist.select_row(0)
    win.activateWindow()
    win.worklist.table.setFocus()
    qtbot.waitUntil(win.worklist.table.hasFocus, timeout=2000)
    uid = win.worklist.current_uid()
    assert uid is not None
    return uid


def test_a_second_window_on_the_store_shows_results_and_reviews_without_scoring(
    qtbot, open_window, backend, fake_service
):
    first = open_window()
    score_folder(qtbot, first, "6")
    uid = select_first(qtbot, first)
    qtbot.keyClick(first.worklist.table, Qt.Key.Key_A)  # accept
    order = [r.uid for r in first.session.worklist_model.worklist.rows]
    first.close()

    calls: list[int] = []
    real = backend.scorer
    backend.scorer = lambda entries, *a, **k: calls.append(len(entries)) or real(entries, *a, **k)
    predicted = fake_service.predicted  # images scored so far
    second = open_window()
    model = second.session.worklist_model
    assert [r.uid for r in model.worklist.rows] == order  # same studies, same reading order
    assert all(r.state is RowState.SCORED for r in model.worklist.rows)
    assert calls == [] and fake_service.predicted == predicted  # nothing was scored again
    assert model.index_of(uid, Column.REVIEW).data() == "accepted"


def test_opening_a_folder_adds_to_the_stores_worklist(qtbot, open_window):
    win = open_window()
    score_folder(qtbot, win, "3")
    score_folder(qtbot, win, "5")  # studies 0-2 again plus 3-4: added, not replaced or duplicated
    assert win.session.worklist_model.rowCount() == 5


def test_review_actions_persist_and_are_audited(qtbot, open_window, db, monkeypatch):
    win = open_window()
    score_folder(qtbot, win, "3")
    uid = select_first(qtbot, win)
    qtbot.waitUntil(lambda: win.image_view.image() is not None, timeout=5000)
    table = win.worklist.table
    qtbot.keyClick(table, Qt.Key.Key_X)  # reject

    def write(dialog: ReviewNoteDialog) -> None:  # the reader types a note and saves it
        dialog.editor.setPlainText("  check the apex  ")
        dialog.accept()

    monkeypatch.setattr(ReviewNoteDialog, "open", write)
    win.actions_.review_note.trigger()
    assert win.session.worklist_model.index_of(uid, Column.REVIEW).data() == "rejected ✎"
    qtbot.waitUntil(lambda: not win.session.store_writing, timeout=5000)  # written on the store thread
    with Store(db) as store:
        review = store.reviews()[uid]
        assert (review.outcome, review.note) == ("rejected", "check the apex")
    qtbot.keyClick(table, Qt.Key.Key_Backspace)  # clear
    assert win.session.worklist_model.worklist.get(uid).review is None
    qtbot.waitUntil(lambda: not win.session.store_writing, timeout=5000)
    with Store(db) as store:
        assert uid not in store.reviews()
        actions = [(e.action, e.study_uid) for e in store.audit()]
    assert ("rejected", uid) in actions and ("review-cleared", uid) in actions
    assert ("opened", uid) in actions  # the study was displayed


def test_threshold_changes_and_exports_are_audited_without_patient_names(qtbot, open_window, db):
    win = open_window()
    score_folder(qtbot, win, "3")
    select_first(qtbot, win)
    qtbot.waitUntil(lambda: win.image_view.image() is not None, timeout=5000)
    win.findings.edit_thresholds({"Effusion": 0.33})
    assert win.export_worklist() is not None
    with qtbot.waitSignal(win.exports.imageExported, timeout=10_000):
        win.export_image()
    with Store(db) as store:
        events = store.audit()
    changed = [e for e in events if e.action == "threshold-changed"]
    assert len(changed) == 1 and dict(changed[0].detail) == {"label": "Effusion", "old": 0.5, "new": 0.33}
    assert changed[0].weights_sha256 == win.session.info.card.weights_sha256
    assert {e.detail.get("kind") for e in events if e.action == "exported"} == {"image", "worklist"}
    assert not any("PID" in str(e.detail) for e in events)


def test_archived_studies_leave_the_worklist_for_good(qtbot, open_window, db, monkeypatch):
    win = open_window()
    score_folder(qtbot, win, "4")
    uid = "1.2.0"
    win.worklist.select_uid(uid)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    win.actions_.archive_selected.trigger()
    assert win.session.worklist_model.rowCount() == 3 and win.session.worklist_model.worklist.get(uid) is None
    with sqlite3.connect(db) as raw:  # two studies arrived long ago
        old = "2001-01-01T00:00:00+00:00"
        raw.execute("UPDATE studies SET arrived = ? WHERE study_uid IN ('1.2.1', '1.2.2')", (old,))
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (30, True))
    win.actions_.archive_older.trigger()
    qtbot.waitUntil(lambda: not win.session.busy and win.session.worklist_model.rowCount() == 1, timeout=5000)
    win.close()
    again = open_window()
    assert [r.uid for r in again.session.worklist_model.worklist.rows] == ["1.2.3"]
