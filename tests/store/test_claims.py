"""Claims on a team store (issue #23, item 3): who is reading what, for a lease; taking over is
audited; ``claim_next`` gives two readers asking at once different studies; a reader killed while
holding a claim loses it when the lease ends, and what it committed stays. SQLite refuses claims."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from postgres_cluster import Logins

from inference.api import ImageMeta, ScanEntry
from inference.store import Store, StoreError


def studies(url: str, *uids: str) -> None:
    with Store(url) as store:
        store.record(
            [ScanEntry(meta=ImageMeta(path=Path(f"/x/{u}.dcm"), study_uid=u, sop_uid=f"{u}.1")) for u in uids]
        )


def test_a_held_study_says_who_reads_it_and_a_take_over_is_audited(pg_url: str, logins: Logins):
    studies(logins["listen"], "1")
    alice_name, bob_name = logins.name("alice"), logins.name("bob")
    with Store(logins["alice"]) as alice, Store(logins["bob"]) as bob:
        mine = alice.claim("1")
        assert (mine.mine, mine.holder) == (True, alice_name)
        assert alice.claim("1").mine  # renewed
        held = bob.claim("1")
        assert (held.mine, held.holder) == (False, alice_name)
        assert bob.claims()["1"].holder == alice_name
        taken = bob.claim("1", take_over=True)
        assert (taken.mine, taken.holder) == (True, bob_name)
        assert not alice.release("1")  # no longer hers
        review = bob.set_review("1", "accepted")
        assert review.user == bob_name
        assert bob.claims() == {}  # the review released it
        with pytest.raises(KeyError):
            bob.claim("9.9")
    with Store(pg_url) as admin:
        (event,) = [e for e in admin.audit() if e.action == "claim-taken-over"]
    assert (event.user, event.study_uid, event.detail) == (bob_name, "1", {"from": alice_name})


def test_next_goes_down_the_reading_order_past_reviewed_held_and_archived_studies(logins: Logins):
    studies(logins["listen"], "a", "b", "c", "d", "e")
    order = ["e", "d", "c", "b", "a"]
    with Store(logins["alice"]) as alice, Store(logins["bob"]) as bob:
        alice.set_review("e", "reviewed")
        alice.archive(["d"])
        assert bob.claim("c").mine
        first = alice.claim_next(order)
        assert first is not None and (first.study_uid, first.mine) == ("b", True)
        second = alice.claim_next(order)
        assert second is not None and second.study_uid == "a"
        assert alice.claim_next(order) is None


CLAIMER = """
import sys
from inference.store import Store
store = Store(sys.argv[1])
order = sys.argv[2].split(",")
sys.stdin.readline()  # both start together
while (claim := store.claim_next(order)) is not None:
    print(claim.study_uid, flush=True)
"""


def test_two_processes_claiming_from_50_studies_at_once_claim_each_exactly_once(logins: Logins):
    order = [f"s{i}" for i in range(50)]
    studies(logins["listen"], *order)
    readers = [
        subprocess.Popen([sys.executable, "-c", CLAIMER, logins[who], ",".join(order)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for who in ("alice", "bob")
    ]  # fmt: skip
    outputs = [r.communicate("go\n", timeout=120) for r in readers]
    for reader, (_, err) in zip(readers, outputs, strict=True):
        assert reader.returncode == 0, err
    claimed = [out.split() for out, _ in outputs]
    assert sorted(claimed[0] + claimed[1]) == sorted(order)  # every study, none twice


KILLED = """
import sys, time
import psycopg
from inference.store import Store
url = sys.argv[1]
store = Store(url)
claim = store.claim("held", lease_s=float(sys.argv[2]))
store.set_review("done", "accepted", note="committed")
edit = psycopg.connect(url)  # a review being written when the process dies: never committed
edit.execute("INSERT INTO reviews (study_uid, outcome) VALUES ('open', 'rejected')")
print(claim.expires, flush=True)
time.sleep(600)
"""


def test_a_killed_reader_loses_its_claim_when_the_lease_ends_and_keeps_what_it_committed(
    pg_url: str, logins: Logins
):
    studies(logins["listen"], "held", "done", "open")
    reader = subprocess.Popen(
        [sys.executable, "-c", KILLED, logins["alice"], "3"], stdout=subprocess.PIPE, text=True
    )
    expires = datetime.fromisoformat(reader.stdout.readline().strip())
    os.kill(reader.pid, signal.SIGKILL)
    reader.wait(timeout=60)
    with Store(logins["bob"]) as bob, psycopg.connect(pg_url, autocommit=True) as admin:
        held = bob.claims().get("held")
        server_now = admin.execute("SELECT now()").fetchone()[0]
        assert held is not None and held.holder == logins.name("alice") or server_now >= expires
        deadline = time.monotonic() + 60
        while not bob.claim("held").mine:  # frees when its lease ends, not before
            assert time.monotonic() < deadline, "the dead reader's claim never freed"
            time.sleep(0.2)
        assert admin.execute("SELECT now()").fetchone()[0] >= expires
        reviews = bob.reviews()
    assert reviews["done"].note == "committed" and reviews["done"].user == logins.name("alice")
    assert "open" not in reviews


def test_a_sqlite_store_refuses_claims_plainly(tmp_path: Path):
    with Store(tmp_path / "s.sqlite") as store:
        store.record([ScanEntry(meta=ImageMeta(path=tmp_path / "a.png", study_uid="1", sop_uid="1.1"))])
        with pytest.raises(StoreError, match="claims need a team store on a PostgreSQL server"):
            store.claim("1")
        with pytest.raises(StoreError, match="claims need a team store"):
            store.claim_next(["1"])
        assert store.claims() == {}
