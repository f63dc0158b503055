"""Ctrl+Z undoes the last review change (mark, clear, note) of this window session: the store holds
exactly the earlier mark and note again, and the audit trail says "review-undone" with what was
restored (issue #22, item 3)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from test_store_window import score_folder, select_first

from inference.store import Store
from viewer.qt.main_window import MainWindow


def press(qtbot, win: MainWindow, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(win.worklist.table, key, modifier)
    qtbot.waitUntil(lambda: not win.session.store_writing, timeout=5000)  # written on the store thread


def undo(qtbot, win: MainWindow) -> None:
    press(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)


def stored(db: Path, uid: str) -> tuple[str, str] | None:
    with Store(db) as store:
        review = store.reviews().get(uid)
    return None if review is None else (review.outcome, review.note)


def undone(db: Path) -> list[dict]:
    with Store(db) as store:
        return [dict(e.detail, study=e.study_uid) for e in store.audit() if e.action == "review-undone"]


def test_accept_reject_then_ctrl_z_accepts_again(qtbot, open_window, db):
    win = open_window()
    score_folder(qtbot, win, "3")
    uid = select_first(qtbot, win)
    press(qtbot, win, Qt.Key.Key_A)
    press(qtbot, win, Qt.Key.Key_X)
    assert stored(db, uid) == ("rejected", "")
    undo(qtbot, win)
    assert stored(db, uid) == ("accepted", "")
    assert win.session.worklist_model.worklist.get(uid).review.outcome == "accepted"
    assert undone(db) == [{"study": uid, "restored": "accepted", "undone": "rejected"}]
    undo(qtbot, win)  # and the acceptance itself: the study is unreviewed again
    assert stored(db, uid) is None and win.session.worklist_model.worklist.get(uid).review is None
    assert undone(db)[-1] == {"study": uid, "restored": "none", "undone": "accepted"}
    undo(qtbot, win)  # nothing left to undo: nothing changes, nothing is audited
    assert stored(db, uid) is None and len(undone(db)) == 2
    assert "Nothing to undo" in win.statusBar().currentMessage()


def test_backspace_then_ctrl_z_brings_the_mark_and_its_note_back(qtbot, open_window, db):
    win = open_window()
    score_folder(qtbot, win, "3")
    uid = select_first(qtbot, win)
    win.session.set_review(uid, "rejected", "check the apex")
    qtbot.waitUntil(lambda: not win.session.store_writing, timeout=5000)
    press(qtbot, win, Qt.Key.Key_Backspace)
    assert stored(db, uid) is None
    undo(qtbot, win)
    assert stored(db, uid) == ("rejected", "check the apex")
    assert undone(db) == [{"study": uid, "restored": "rejected", "note": "check the apex", "undone": "none"}]
    with Store(db) as store:
        actions = [e.action for e in store.audit() if e.study_uid == uid]
    assert actions[-3:] == ["review-cleared", "rejected", "review-undone"]


def test_a_mark_that_changes_nothing_leaves_no_undo_step(qtbot, open_window, db):
    win = open_window()
    score_folder(qtbot, win, "3")
    uid = select_first(qtbot, win)
    press(qtbot, win, Qt.Key.Key_A)
    press(qtbot, win, Qt.Key.Key_A)  # already accepted
    undo(qtbot, win)
    assert stored(db, uid) is None  # one Ctrl+Z undoes the acceptance


def test_an_undo_the_store_refuses_stays_to_be_tried_again(qtbot, open_window, db, monkeypatch):
    win = open_window()
    score_folder(qtbot, win, "3")
    uid = select_first(qtbot, win)
    press(qtbot, win, Qt.Key.Key_A)
    press(qtbot, win, Qt.Key.Key_X)
    with monkeypatch.context() as refusing:
        refusing.setattr(win.session, "set_review", lambda *args: None)  # as a store that failed says
        undo(qtbot, win)
    assert stored(db, uid) == ("rejected", "") and undone(db) == []
    undo(qtbot, win)
    assert stored(db, uid) == ("accepted", "") and len(undone(db)) == 1
