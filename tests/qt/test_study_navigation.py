"""Which study the window shows, and where the arrow keys go from it: the top-ranked study opens when
the worklist fills (and again once scoring has ranked it, unless the reader has taken a study in
hand); the worklist's current row is always the study shown, so Down opens the row below it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from viewer.qt.main_window import MainWindow


def scored(win: MainWindow) -> bool:
    rows = win.session.worklist_model.worklist.rows
    return not win.session.busy and bool(rows) and all(r.result is not None for r in rows)


def shown(win: MainWindow) -> str | None:
    """The study whose image is on screen (None while it loads)."""
    return win.display.image_uid if win.image_view.image() is not None else None


def table_row(win: MainWindow) -> int:
    return win.worklist.table.selectionModel().currentIndex().row()


def press_down(qtbot, win: MainWindow) -> None:
    table = win.worklist.table
    win.activateWindow()
    table.setFocus()
    qtbot.waitUntil(table.hasFocus, timeout=5000)
    qtbot.keyClick(table, Qt.Key.Key_Down)


def test_a_folder_given_at_start_up_opens_rank_1_and_down_opens_rank_2(qtbot, backend, tmp_path, db):
    """As ``cxr-triage gui FOLDER``: the folder is opened while the model still loads."""
    from viewer.gui import create_window

    win = create_window(tmp_path / "settings.json", backend=backend, load_model=False, db=db)
    qtbot.addWidget(win)
    win.show()
    try:
        win.load_model(tmp_path / "fake-package")
        win.open_paths([Path("6")])
        qtbot.waitUntil(lambda: scored(win), timeout=10_000)
        proxy = win.worklist.proxy
        top = proxy.uid_at(0)
        qtbot.waitUntil(lambda: shown(win) == top, timeout=10_000)  # no click needed
        assert win.worklist.current_uid() == top and table_row(win) == 0
        press_down(qtbot, win)
        qtbot.waitUntil(lambda: shown(win) == proxy.uid_at(1), timeout=10_000)
        assert win.worklist.current_uid() == proxy.uid_at(1) and table_row(win) == 1
    finally:
        win.close()


def test_a_window_on_a_filled_store_opens_its_top_ranked_study_at_once(qtbot, open_window):
    first = open_window()
    first.open_paths([Path("6")])
    qtbot.waitUntil(lambda: scored(first), timeout=10_000)
    first.close()

    win = open_window()  # the store's worklist fills the new window in one reset
    proxy = win.worklist.proxy
    assert proxy.rowCount() == 6
    qtbot.waitUntil(lambda: shown(win) == proxy.uid_at(0), timeout=10_000)
    assert table_row(win) == 0
    win.actions_.next_study.trigger()
    qtbot.waitUntil(lambda: shown(win) == proxy.uid_at(1), timeout=10_000)
    win.actions_.previous_study.trigger()
    qtbot.waitUntil(lambda: shown(win) == proxy.uid_at(0), timeout=10_000)


def test_once_a_folder_is_scored_rank_1_is_shown(qtbot, open_window):
    win = open_window()
    win.open_paths([Path("6")])
    qtbot.waitUntil(lambda: scored(win), timeout=10_000)
    proxy = win.worklist.proxy
    order = [proxy.uid_at(r) for r in range(proxy.rowCount())]
    first_indexed = "1.2.0"
    assert order[0] != first_indexed  # the study that arrived first is not the most urgent one
    qtbot.waitUntil(lambda: shown(win) == order[0], timeout=10_000)
    assert table_row(win) == 0
    win.actions_.next_study.trigger()
    qtbot.waitUntil(lambda: shown(win) == order[1], timeout=10_000)


def test_the_readers_study_stays_shown_when_ranks_move_and_the_worklist_is_read_again(qtbot, open_window):
    win = open_window()
    win.open_paths([Path("6")])
    qtbot.waitUntil(lambda: win.worklist.proxy.rowCount() == 6, timeout=10_000)
    chosen = "1.2.1"  # ranked 4th of 6 once scored
    assert win.worklist.select_uid(chosen)  # the reader opens a study while the folder is scored
    qtbot.waitUntil(lambda: scored(win), timeout=10_000)
    qtbot.waitUntil(lambda: shown(win) == chosen, timeout=10_000)
    proxy = win.worklist.proxy
    assert table_row(win) == proxy.row_of(chosen)  # the selection moved with it
    image = win.image_view.image()

    win.session.reload()  # the store's worklist read again (as after archiving old studies)
    qtbot.waitUntil(lambda: not win.session.busy, timeout=10_000)
    assert win.worklist.current_uid() == chosen and shown(win) == chosen
    assert win.image_view.image() is image  # not blanked and read again
    below = proxy.uid_at(proxy.row_of(chosen) + 1)
    assert below is not None
    win.actions_.next_study.trigger()
    qtbot.waitUntil(lambda: shown(win) == below, timeout=10_000)
