"""The team store's server stopped and started again under a running viewer and a running ``listen``
(issue #23): no crash; a review made in the viewer while the server is down is written when it is back;
studies sent to listen meanwhile are kept, then recorded, scored once and shown in the viewer; listen
exits 0 at the end."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from listen_process import ListenProcess, new_study
from postgres_cluster import Cluster
from PySide6.QtCore import Qt
from team_viewer import team_windows  # noqa: F401  (the fixture)
from test_listen_restart import recorded_and_scored, service, team  # noqa: F401  (team: the fixture)

from inference.store import Store
from inference.store.postgres_backend import create_login
from inference.store.postgres_schema import READER_ROLE

pytestmark = pytest.mark.slow

VIEWER_MS = 30_000  # bound on each wait for the viewer


def shown(window) -> set[str]:
    return {row.uid for row in window.session.worklist_model.worklist.rows}


def test_a_restart_under_a_viewer_and_listen_loses_nothing(
    qtbot,
    own_pg_cluster: Cluster,
    team: str,  # noqa: F811  (before the window: it closes while the server still runs)
    team_windows,  # noqa: F811
    tmp_path: Path,
) -> None:
    cluster = own_pg_cluster
    create_login(team, "alice", READER_ROLE, "pw-alice")
    win = team_windows(cluster.url("team", "alice", "pw-alice"), name="alice")
    session = win.session
    studies = [new_study(tmp_path, f"study{n}") for n in range(3)]
    uids = [uid for _, uid in studies]

    with ListenProcess(service(cluster), tmp_path / "inbox") as listen:
        listen.send(studies[0][0])
        listen.wait_for_scored({uids[0]})
        qtbot.waitUntil(lambda: shown(win) == {uids[0]}, timeout=VIEWER_MS)
        win.worklist.select_row(0)
        qtbot.waitUntil(lambda: win.worklist.current_uid() == uids[0], timeout=VIEWER_MS)
        qtbot.waitUntil(lambda: not session.store_writing, timeout=VIEWER_MS)

        cluster.stop()
        try:
            qtbot.keyClick(win.worklist.table, Qt.Key.Key_A)  # accept, while the server is down
            qtbot.waitUntil(lambda: win.unreachable_banner.isVisible(), timeout=VIEWER_MS)
            assert session.store_writing  # kept
            for path, _ in studies[1:]:  # arrive while it is down
                listen.send(path)
            listen.wait_for_line(lambda line: "kept in the inbox" in line, "the kept files line")
            assert listen.process.poll() is None
        finally:
            cluster.start()
        listen.wait_for_scored(set(uids[1:]))  # by listen's retry
        qtbot.waitUntil(lambda: not session.store_writing, timeout=VIEWER_MS)  # the review, written
        qtbot.waitUntil(lambda: shown(win) == set(uids), timeout=VIEWER_MS)
        assert not win.unreachable_banner.isVisible()
        assert listen.process.poll() is None
    assert listen.returncode == 0, listen.seen[-20:]

    assert win.isVisible()
    assert len(session.worklist_model.worklist.rows) == len(uids)  # each study once
    assert session.worklist_model.worklist.get(uids[0]).review.outcome == "accepted"
    with Store(team) as store:
        assert store.reviews()[uids[0]].outcome == "accepted"
    recorded, scored = recorded_and_scored(team)
    assert sorted(recorded) == sorted(uids)  # each image once
    assert scored == Counter(uids)  # each study's result written once
