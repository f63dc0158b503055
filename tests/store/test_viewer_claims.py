"""Claims in the viewer (issue #23, viewer item 3), two readers' windows on one team store, each on its
own connection and login: the study a reader opens is claimed; the other sees "being read by NAME" in
the worklist and the caption, opens it read-only (review keys refuse, visibly) and may take it over
(audited; the first reader's window turns read-only); a review, moving on or closing the window gives
the claim back."""

from __future__ import annotations

from postgres_cluster import Logins
from PySide6.QtCore import Qt
from team_viewer import team_windows  # noqa: F401  (the fixture)
from viewer_fakes import entry

from inference.store import Store
from viewer.core.worklist_columns import Column
from viewer.qt import claims


def holders(url: str) -> dict[str, str]:
    with Store(url) as store:
        return {uid: claim.holder for uid, claim in store.claims().items()}


def test_two_readers_one_study_claimed_shown_refused_taken_over_and_given_back(
    qtbot,
    team_windows,  # noqa: F811
    logins: Logins,
    pg_url: str,
    monkeypatch,
):
    monkeypatch.setattr(claims, "REFRESH_MS", 200)
    with Store(logins["listen"]) as listen:
        listen.record([entry(1), entry(2), entry(3)])
    alice_name, bob_name = logins.name("alice"), logins.name("bob")
    alice = team_windows(logins["alice"], name="alice")
    bob = team_windows(logins["bob"], name="bob")
    for win in (alice, bob):
        qtbot.waitUntil(lambda win=win: win.session.worklist_model.rowCount() == 3, timeout=10_000)

    assert bob.worklist.select_uid("1.2.3") and alice.worklist.select_uid("1.2.1")  # each opens one
    reading = {"1.2.1": alice_name, "1.2.3": bob_name}
    qtbot.waitUntil(lambda: holders(pg_url) == reading, timeout=10_000)
    model = bob.session.worklist_model
    qtbot.waitUntil(lambda: model.index_of("1.2.1", Column.REVIEW).data() == f"being read by {alice_name}")

    assert bob.worklist.select_uid("1.2.1")  # opened read-only
    qtbot.waitUntil(lambda: f"being read by {alice_name}" in bob.caption.text(), timeout=10_000)
    assert "read-only" in bob.caption.text()
    qtbot.keyClick(bob.worklist.table, Qt.Key.Key_A)
    assert "Not saved: this study is being read by" in bob.statusBar().currentMessage()
    assert model.worklist.get("1.2.1").review is None

    qtbot.keyClick(
        bob.worklist.table,
        Qt.Key.Key_T,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )  # take over
    qtbot.waitUntil(lambda: holders(pg_url) == {"1.2.1": bob_name}, timeout=10_000)  # 1.2.3 given back
    qtbot.waitUntil(lambda: "being read by" not in bob.caption.text(), timeout=10_000)
    qtbot.waitUntil(lambda: f"being read by {bob_name}" in alice.caption.text(), timeout=10_000)
    alice.actions_.reject.trigger()  # X, in her window: no longer hers to review
    assert "Not saved: this study is being read by" in alice.statusBar().currentMessage()
    qtbot.keyClick(bob.worklist.table, Qt.Key.Key_A)  # now it is his to review
    qtbot.waitUntil(lambda: not bob.session.store_writing, timeout=10_000)
    with Store(pg_url) as admin:
        assert admin.reviews()["1.2.1"].user == bob_name
        taken = [e for e in admin.audit() if e.action == "claim-taken-over"]
    assert [(e.user, e.study_uid, e.detail) for e in taken] == [(bob_name, "1.2.1", {"from": alice_name})]
    qtbot.waitUntil(lambda: "1.2.1" not in holders(pg_url), timeout=10_000)  # the review gave it back

    assert alice.worklist.select_uid("1.2.2")  # alice moves on: her new study is hers
    qtbot.waitUntil(lambda: holders(pg_url).get("1.2.2") == alice_name, timeout=10_000)
    alice.close()  # closing gives it back
    assert holders(pg_url) == {}


def test_the_claim_of_an_open_study_is_renewed_while_it_stays_open(
    qtbot,
    team_windows,  # noqa: F811
    logins: Logins,
    monkeypatch,
):
    monkeypatch.setattr(claims, "LEASE_S", 2.0)  # renewed every second
    with Store(logins["listen"]) as listen:
        listen.record([entry(1)])
    alice = team_windows(logins["alice"])
    qtbot.waitUntil(lambda: alice.session.worklist_model.rowCount() == 1, timeout=10_000)
    assert alice.worklist.select_uid("1.2.1") or alice.worklist.current_uid() == "1.2.1"

    def expires() -> str:
        with Store(logins["bob"]) as bob:
            claim = bob.claims().get("1.2.1")
        return claim.expires if claim is not None else ""

    qtbot.waitUntil(lambda: expires() != "", timeout=10_000)
    first = expires()
    qtbot.waitUntil(lambda: expires() > first, timeout=10_000)  # renewed before its lease ended
