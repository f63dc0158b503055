"""The review note (N): Ctrl+Enter saves it, Enter alone starts a new line, Esc cancels, and Ctrl+Z
takes a saved note back (issue #22, items 11 and 3)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPlainTextEdit
from test_review_undo import press, stored, undo
from test_store_window import score_folder, select_first

from viewer.qt.actions import shortcut_table

CTRL = Qt.KeyboardModifier.ControlModifier
KEYPAD = Qt.KeyboardModifier.KeypadModifier


def write_note(qtbot, win, lines: list[str], key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """N, then the lines typed (Enter between them) and ``key``; a dialog that key leaves open is
    cancelled, as a reader would with Esc."""

    typed: list[bool] = []

    def type_in_dialog(tries: int = 500) -> None:
        dialog = QApplication.activeModalWidget()
        if (dialog is None or QApplication.activeWindow() is not dialog) and tries:
            QTimer.singleShot(10, lambda: type_in_dialog(tries - 1))  # keys go to the dialog once it is up
            return
        assert dialog is not None
        editor = dialog.findChild(QPlainTextEdit)
        for i, line in enumerate(lines):
            if i:
                QTest.keyClick(editor, Qt.Key.Key_Return)
            QTest.keyClicks(editor, line)
        QTest.keyClick(editor, key, modifier)
        if dialog.isVisible():
            dialog.reject()
        typed.append(True)

    QTimer.singleShot(0, type_in_dialog)
    press(qtbot, win, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: bool(typed) and QApplication.activeModalWidget() is None, timeout=10_000)
    qtbot.waitUntil(lambda: not win.session.store_writing, timeout=5000)  # written on the store thread
    win.activateWindow()  # the keys that follow go to the window again
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)


def test_ctrl_enter_saves_the_note_and_enter_alone_starts_a_new_line(qtbot, open_window, db):
    win = open_window()
    score_folder(qtbot, win, "3")
    uid = select_first(qtbot, win)
    write_note(qtbot, win, ["check the apex", "compare with prior"], Qt.Key.Key_Return, CTRL)
    assert stored(db, uid) == ("reviewed", "check the apex\ncompare with prior")
    assert "Review note saved" in win.statusBar().currentMessage()
    write_note(qtbot, win, [" again"], Qt.Key.Key_Enter, CTRL | KEYPAD)  # the keypad's Enter, too
    assert stored(db, uid) == ("reviewed", "check the apex\ncompare with prior again")


def test_escape_cancels_the_note(qtbot, open_window, db):
    win = open_window()
    score_folder(qtbot, win, "3")
    uid = select_first(qtbot, win)
    press(qtbot, win, Qt.Key.Key_A)
    write_note(qtbot, win, ["not this"], Qt.Key.Key_Escape)
    assert stored(db, uid) == ("accepted", "")


def test_ctrl_z_takes_a_saved_note_back(qtbot, open_window, db):
    win = open_window()
    score_folder(qtbot, win, "3")
    uid = select_first(qtbot, win)
    press(qtbot, win, Qt.Key.Key_X)
    write_note(qtbot, win, ["check the apex"], Qt.Key.Key_Return, CTRL)
    assert stored(db, uid) == ("rejected", "check the apex")
    undo(qtbot, win)
    assert stored(db, uid) == ("rejected", "")


def test_f1_lists_the_note_dialogs_keys(open_window):
    keys = dict(shortcut_table(open_window().actions_))
    assert "Save the review note" in keys["Ctrl+Enter"] and "Esc cancels" in keys["Ctrl+Enter"]
    assert keys["Ctrl+Z"] == "Undo Review Change"
