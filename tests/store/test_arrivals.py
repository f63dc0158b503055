"""Live arrivals on a team store (issue #23, item 4): a reader that catches up from the last sequence
number it saw misses nothing, even when writers commit out of order; a NOTIFY wakes a listener at each
commit that records images."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from inference.api import ImageMeta, ScanEntry
from inference.store import Store
from inference.store.postgres_backend import ArrivalListener

HELD = 4242  # the advisory lock the test holds to keep one writer's transaction open


def record(url: str, study: str) -> None:
    with Store(url) as store:
        store.record(
            [ScanEntry(meta=ImageMeta(path=Path(f"/x/{study}.dcm"), study_uid=study, sop_uid=f"{study}.1"))]
        )


def waiting_on_locks(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as db:
        return int(db.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0])


def until(condition, what: str, limit_s: float = 60.0) -> None:
    """A bounded wait for a state the other connections reach (never a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting for {what}")
        time.sleep(0.02)


def test_catching_up_misses_no_image_when_writers_commit_out_of_order(pg_url: str):
    Store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as admin:  # the 'slow' writer waits after its insert
        admin.execute(
            "CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN PERFORM pg_advisory_xact_lock_shared({HELD}); RETURN NEW; END $$"
        )
        admin.execute(
            "CREATE TRIGGER hold AFTER INSERT ON images FOR EACH ROW WHEN (NEW.study_uid = 'slow')"
            " EXECUTE FUNCTION hold()"
        )
    with psycopg.connect(pg_url, autocommit=True) as gate, Store(pg_url) as reader:
        gate.execute("SELECT pg_advisory_lock(%s)", (HELD,))
        slow = threading.Thread(target=record, args=(pg_url, "slow"))
        slow.start()
        until(
            lambda: waiting_on_locks(pg_url) == 1, "the slow writer to hold its image inside its transaction"
        )
        fast = threading.Thread(target=record, args=(pg_url, "fast"))
        fast.start()
        until(lambda: not fast.is_alive() or waiting_on_locks(pg_url) == 2, "the fast writer")
        seen, first = reader.images_since(0)
        gate.execute("SELECT pg_advisory_unlock(%s)", (HELD,))
        slow.join(timeout=60)
        fast.join(timeout=60)
        _, later = reader.images_since(seen)
    assert sorted(i.entry.meta.study_uid for i in [*first, *later]) == ["fast", "slow"]


def test_a_listener_wakes_at_each_commit_that_records_images(pg_url: str):
    Store(pg_url).close()
    with ArrivalListener(pg_url) as listener, Store(pg_url) as viewer:
        seen = viewer.last_image_seq()
        assert not listener.wait(0)  # nothing arrived yet
        record(pg_url, "1.2.3")
        assert listener.wait(60)
        seen, images = viewer.images_since(seen)
        assert [i.entry.meta.study_uid for i in images] == ["1.2.3"]


WRITER = """
import sys
from pathlib import Path
from inference.api import ImageMeta, ScanEntry
from inference.store import Store
store = Store(sys.argv[1])
for i in range(int(sys.argv[3])):
    uid = f"{sys.argv[2]}.{i}"
    store.record([ScanEntry(meta=ImageMeta(path=Path(f"/x/{uid}.dcm"), study_uid=uid, sop_uid=uid + ".1"))])
"""


def test_three_writers_and_two_watching_viewers_miss_no_arrival(pg_url: str):
    Store(pg_url).close()
    per_writer, tags = 60, ("listen", "batch", "triage")
    expected = {f"{tag}.{i}" for tag in tags for i in range(per_writer)}
    seen: list[list[str]] = [[], []]

    def watch(into: list[str]) -> None:
        with ArrivalListener(pg_url) as listener, Store(pg_url) as viewer:
            cursor = 0
            deadline = time.monotonic() + 120
            while len(into) < len(expected) and time.monotonic() < deadline:
                listener.wait(1.0)
                cursor, images = viewer.images_since(cursor)
                into.extend(i.entry.meta.study_uid for i in images)

    viewers = [threading.Thread(target=watch, args=(into,)) for into in seen]
    for v in viewers:
        v.start()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, pg_url, tag, str(per_writer)]) for tag in tags]
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0]
    for v in viewers:
        v.join(timeout=150)
    for into in seen:
        assert sorted(into) == sorted(expected)  # every arrival, each once
