"""A reader's login may not write images or results to the team store (issue #23, viewer item 6): the
viewer neither fails nor loses reviews; the scores it computes for studies the store holds no results
of stay in memory, said once, as with a read-only store."""

from __future__ import annotations

from pathlib import Path

from postgres_cluster import Logins
from PySide6.QtCore import Qt
from team_viewer import team_windows  # noqa: F401  (the fixture)
from viewer_fakes import entry

from inference.store import Store
from viewer.core.worklist import RowState


def test_a_reader_scores_in_memory_and_still_keeps_reviews(
    qtbot,
    team_windows,  # noqa: F811
    logins: Logins,
):
    win = team_windows(logins["alice"])
    session = win.session
    messages: list[str] = []
    session.message.connect(messages.append)
    win.open_paths([Path("3")])  # files of her own: the store would not take them
    with Store(logins["listen"]) as listen:
        listen.record([entry(7)])  # a study the service recorded, not scored yet: it arrives
    worklist = session.worklist_model.worklist

    def scored() -> bool:
        return len(worklist) == 4 and all(row.state is RowState.SCORED for row in worklist.rows)

    qtbot.waitUntil(scored, timeout=10_000)
    kept_here = [m for m in messages if "kept in memory" in m]
    assert len(kept_here) == 1 and "may not write" in kept_here[0]  # said once
    assert session.store_writable  # reviews still go to the store
    win.worklist.select_uid("1.2.7")
    qtbot.keyClick(win.worklist.table, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: not session.store_writing, timeout=5000)
    assert worklist.get("1.2.7").review.outcome == "accepted"
    with Store(logins["bob"]) as bob:
        assert bob.reviews()["1.2.7"].user == logins.name("alice")
        assert bob.results("a" * 64) == {}  # nothing written by the reader
