"""A team store whose server dropped the connection (a restart, a failover, an idle timeout): the next
call connects again and goes on; a write the server never committed is written once, not lost and
not doubled."""

from __future__ import annotations

from pathlib import Path

import psycopg

from inference.api import ImageMeta, ScanEntry
from inference.store import Store


def drop_connections(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as admin:
        return len(
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid != pg_backend_pid()"
            ).fetchall()
        )


def test_calls_after_the_server_dropped_the_connection_go_on(pg_url: str):
    with Store(pg_url) as store:
        store.record([ScanEntry(meta=ImageMeta(path=Path("/x/a.dcm"), study_uid="1", sop_uid="1.1"))])
        assert drop_connections(pg_url) == 1
        assert store.has_study("1")  # a read
        assert drop_connections(pg_url) == 1
        store.log("opened", study_uid="1")  # a write
        store.record([ScanEntry(meta=ImageMeta(path=Path("/x/b.dcm"), study_uid="2", sop_uid="2.1"))])
        assert [e.action for e in store.audit()] == ["opened"]
        assert [i.entry.meta.study_uid for i in store.images()] == ["1", "2"]
