"""No store call on the GUI thread (issue #23, viewer item 2): with a store whose every call is slow (a
server far away), the window keeps answering while a reader's review is being written, and every call
the viewer makes is made from another thread (on both backends)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from team_viewer import team_windows  # noqa: F401  (the fixture)

from inference.store import Store

SLOW_S = 5.0  # how long a held call waits at most: the old code (calls on the GUI thread) ends, and fails


class SlowStore:
    """A store whose calls record their thread and, while ``hold`` is set, wait for ``go``."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.threads: list[tuple[str, threading.Thread]] = []
        self.hold, self.go, self.entered = threading.Event(), threading.Event(), threading.Event()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self.threads.append((name, threading.current_thread()))
            if self.hold.is_set():
                self.entered.set()
                self.go.wait(SLOW_S)
            return value(*args, **kwargs)

        return call


def test_a_slow_store_never_freezes_the_window_and_is_never_called_from_the_gui_thread(
    qtbot,
    team_windows,  # noqa: F811
    store_target: Path | str,
):
    store = SlowStore(Store(store_target))  # a SQLite file, then a team store
    win = team_windows("", store=store)
    win.open_paths([Path("3")])
    session = win.session
    qtbot.waitUntil(lambda: session.worklist_model.rowCount() == 3 and not session.busy, timeout=10_000)
    win.worklist.table.setFocus()
    win.worklist.select_row(0)
    qtbot.waitUntil(lambda: win.worklist.current_uid() is not None, timeout=5000)
    uid = win.worklist.current_uid()
    qtbot.waitUntil(lambda: not win.session.store_writing, timeout=5000)

    store.hold.set()  # from now on each call waits for the server
    ticks: list[int] = []
    timer = QTimer(interval=10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    qtbot.keyClick(win.worklist.table, Qt.Key.Key_A)  # accept: written on the store thread
    assert win.session.worklist_model.worklist.get(uid).review.outcome == "accepted"  # shown at once
    qtbot.waitUntil(store.entered.is_set, timeout=5000)
    seen = len(ticks)
    qtbot.waitUntil(lambda: len(ticks) >= seen + 3, timeout=4000)  # the GUI thread runs its timers
    assert win.session.store_writing  # while the review is still being written
    store.go.set()
    qtbot.waitUntil(lambda: not win.session.store_writing, timeout=5000)
    timer.stop()
    others = [row.uid for row in session.worklist_model.worklist.rows if row.uid != uid]
    session.clear_review(uid)  # and the reader's other writes: a mark taken off, an archive
    assert session.archive(others[:1]) == 1
    qtbot.waitUntil(lambda: not session.store_writing, timeout=5000)
    with Store(store_target) as check:
        listed = {image.entry.meta.study_uid for image in check.images()}  # archived ones left out
        assert uid not in check.reviews() and others[0] not in listed
    win.close()
    names = {name for name, _ in store.threads}
    assert {"set_review", "clear_review", "archive", "log", "close"} <= names
    on_gui = sorted({name for name, thread in store.threads if thread is threading.main_thread()})
    assert on_gui == []
