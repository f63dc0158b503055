"""The team store's server stopped under a running viewer and started again (issue #23, viewer item 5):
no crash; the window says the store cannot be reached and keeps what it shows; a review made while
the server is down is kept and written when it is back; nothing is lost; studies that arrive after the
restart show (the viewer listens again and catches up)."""

from __future__ import annotations

from pathlib import Path

from postgres_cluster import Cluster
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from team_viewer import team_windows  # noqa: F401  (the fixture)
from viewer_fakes import entry

from inference.store import Store, StoreError, server_unreachable
from viewer.qt import claims


def test_a_review_made_while_the_server_is_down_is_written_when_it_is_back(
    qtbot,
    own_pg_cluster: Cluster,  # before the windows: they close while it still runs
    team_windows,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setattr(claims, "REFRESH_MS", 100)
    url = own_pg_cluster.url("postgres")
    win = team_windows(url)
    session = win.session
    win.open_paths([Path("3")])
    qtbot.waitUntil(lambda: session.worklist_model.rowCount() == 3 and not session.busy, timeout=10_000)
    win.worklist.select_row(0)
    qtbot.waitUntil(lambda: win.worklist.current_uid() is not None, timeout=5000)
    uid = win.worklist.current_uid()
    qtbot.waitUntil(lambda: not session.store_writing, timeout=5000)

    own_pg_cluster.stop("fast")
    try:
        qtbot.keyClick(win.worklist.table, Qt.Key.Key_A)  # accept, while the server is down
        qtbot.waitUntil(lambda: win.unreachable_banner.isVisible(), timeout=15_000)
        assert "cannot be reached" in win.unreachable_banner.text()
        assert session.store_writing  # kept
        qtbot.wait(1000)  # ten rounds of reading the others' claims: one is kept, not ten
        assert session._store_access.worker.pending <= 3  # the review, a claims read, the claim
        assert session.worklist_model.rowCount() == 3  # what it shows stays
        assert session.worklist_model.worklist.get(uid).review.outcome == "accepted"
        asked: list[str] = []
        no = QMessageBox.StandardButton.No
        monkeypatch.setattr(QMessageBox, "question", lambda _p, _t, text: asked.append(text) or no)
        win.close()  # what is kept would be lost: the reader is asked, and keeps the window
        assert len(asked) == 1 and "not written yet" in asked[0] and win.isVisible()
    finally:
        own_pg_cluster.start()
    qtbot.waitUntil(lambda: not session.store_writing, timeout=20_000)  # written once the server answers
    assert not win.unreachable_banner.isVisible()
    with Store(url) as store:
        assert store.reviews()[uid].outcome == "accepted"
        store.record([entry(8)])  # arrives after the restart: shown without any action of the reader
    assert session.worklist_model.worklist.get(uid).review.outcome == "accepted"
    qtbot.waitUntil(lambda: session.worklist_model.worklist.get("1.2.8") is not None, timeout=20_000)


def _store_error(cause: Exception) -> StoreError:
    try:
        raise StoreError("the team store could not be written") from cause
    except StoreError as exc:
        return exc


def test_only_a_server_that_cannot_be_reached_keeps_a_call_for_later():
    import psycopg

    assert server_unreachable(_store_error(psycopg.OperationalError("connection refused")))
    assert server_unreachable(_store_error(psycopg.errors.AdminShutdown("terminating connection")))
    assert not server_unreachable(_store_error(psycopg.errors.InsufficientPrivilege("permission denied")))
    assert not server_unreachable(_store_error(psycopg.errors.DiskFull("no space left")))
    assert not server_unreachable(_store_error(OSError("read-only file system")))
    assert not server_unreachable(KeyError("1.2.3"))
