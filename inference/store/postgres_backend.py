"""The team store: one PostgreSQL database that several workstations and services share (the API:
:class:`inference.store.db.Store`; the queries both backends share: :mod:`inference.store.sql_store`;
the schema and roles: :mod:`inference.store.postgres_schema`).

Each write is one transaction, retried when the server picks it to break a deadlock. Images and
embeddings get their sequence numbers under a transaction-level advisory lock held until the commit,
so sequence numbers follow commit order and catching up from the last one seen never misses a row a
slower writer committed later; every commit that records images sends a NOTIFY that
:class:`ArrivalListener` wakes on. A study's row lock guards its claim and its review: claims are
taken with ``SELECT … FOR UPDATE SKIP LOCKED``, so two readers asking at once get different studies.
Who and when (reviews, claims, the audit) are the server's word: ``session_user`` and ``now()``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from inference.store.db import LEASE_S, Claim, StoreError
from inference.store.location import data_dir
from inference.store.postgres_schema import MIGRATIONS, VERSION
from inference.store.sql_store import Row, SqlStore, T, Tx, image_upsert, iso_time, result_insert

ARRIVALS_CHANNEL = "cxr_triage_arrivals"
CONNECT_TIMEOUT_S = 10
RETRIES = 5  # a transaction the server broke (deadlock, serialization) is run again this many times
_RETRYABLE = ("40P01", "40001")
# advisory lock keys (any bigint; these spell "cxr-triage" in spirit): schema changes, images' and
# embeddings' sequence numbers
_MIGRATION_LOCK, _IMAGE_SEQ_LOCK, _EMBEDDING_SEQ_LOCK = 0x6378720001, 0x6378720002, 0x6378720003
Cursor = psycopg.Cursor[dict[str, Any]]


class _PostgresTx:
    """:class:`inference.store.sql_store.Tx` on a cursor inside its transaction."""

    def __init__(self, cur: Cursor) -> None:
        self._cur = cur

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._cur.execute(_placeholders(sql), params or None).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._cur.execute(_placeholders(sql), params or None).rowcount

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cur.executemany(_placeholders(sql), rows)


class PostgresStore(SqlStore):
    """A connection to one PostgreSQL database; safe to share between threads (calls are serialised)."""

    _STUDY_LOCK = " FOR UPDATE"

    def __init__(self, target: Path | str, read_only: bool = False) -> None:
        self.url = str(target)
        self._read_only = read_only
        self._lock = threading.RLock()
        self._conn = self._connect()
        info = self._conn.info
        self.path = data_dir() / _local_name(info.host, info.port, info.dbname)
        self.where = f"{info.dbname} on {info.host}:{info.port}"  # for messages: never the password
        self._migrate()

    @property
    def server_url(self) -> str:
        return self.url

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        try:
            return psycopg.connect(
                self.url, autocommit=True, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT_S
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the team store {_without_password(self.url)}: {exc}") from exc

    @property
    def writable(self) -> bool:
        return not self._read_only

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- schema ------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        rows = self._read("SELECT to_regclass('schema_version') IS NOT NULL AS made")
        if not rows[0]["made"]:
            return 0
        return int(self._read("SELECT version FROM schema_version")[0]["version"])

    def _migrate(self) -> None:
        current = self.version
        if current > VERSION:
            raise StoreError(
                f"the team store {self.where} was written by a newer CXR Triage (schema {current}; "
                f"this version reads up to {VERSION}); update CXR Triage"
            )
        if current == VERSION:
            return
        if self._read_only:
            raise StoreError(
                f"the team store {self.where} is at schema {current}: run `cxr-triage store init`"
            )

        def work(tx: Tx) -> None:
            tx.run("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            made = tx.rows("SELECT to_regclass('schema_version') IS NOT NULL AS made")[0]["made"]
            start = int(tx.rows("SELECT version FROM schema_version")[0]["version"]) if made else 0
            for number in range(start + 1, VERSION + 1):
                tx.run(MIGRATIONS[number - 1])
                tx.run("UPDATE schema_version SET version = ?", (number,))

        try:
            self._write(work)
        except StoreError as exc:
            raise StoreError(
                f"the team store {self.where} has no schema {VERSION} and this role cannot make it: "
                f"run `cxr-triage store init ADMIN_URL` ({exc.__cause__})"
            ) from exc.__cause__

    # -- transactions ------------------------------------------------------------------------------
    def _write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in one transaction; one the server broke (deadlock), or whose connection was
        lost before it asked to commit (so nothing of it was kept), is run again."""
        if self._read_only:
            raise StoreError(f"the team store {self.where} was opened read-only")
        for attempt in range(RETRIES + 1):
            committing = False
            try:
                with self._lock:
                    self._reconnect_if_lost()
                    with self._conn.transaction(), self._conn.cursor() as cur:
                        done = work(_PostgresTx(cur))
                        committing = True  # lost from here on, it may have been kept: never rerun
                    return done
            except psycopg.Error as exc:
                lost_before_commit = self._conn.broken and not committing
                if (exc.sqlstate not in _RETRYABLE and not lost_before_commit) or attempt == RETRIES:
                    raise StoreError(f"the team store {self.where} could not be written: {exc}") from exc
                time.sleep(0.02 * 2**attempt)
        raise AssertionError("unreachable")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """One query; asked again once on a new connection when the server had dropped this one."""
        for attempt in range(2):
            try:
                with self._lock:
                    self._reconnect_if_lost()
                    return self._conn.execute(_placeholders(sql), params or None).fetchall()
            except psycopg.Error as exc:
                if not self._conn.broken or attempt == 1:
                    raise StoreError(f"the team store {self.where} could not be read: {exc}") from exc
        raise AssertionError("unreachable")

    def _reconnect_if_lost(self) -> None:
        """A connection the server dropped (a restart) is opened again for the next call."""
        if self._conn.broken or self._conn.closed:
            self._conn = self._connect()

    # -- what differs from SQLite ------------------------------------------------------------------
    def _any(self, column: str, values: Iterable[str]) -> tuple[str, Any]:
        return f"{column} = ANY(?)", list(values)

    def _stamp(self) -> dict[str, str]:
        return {}  # the server's triggers write session_user and now()

    def _upsert_images(self, tx: Tx, rows: Sequence[Sequence[Any]]) -> None:
        tx.run("SELECT pg_advisory_xact_lock(?)", (_IMAGE_SEQ_LOCK,))  # held to the commit
        tx.run_many(image_upsert("nextval('image_seq')"), rows)
        tx.run("SELECT pg_notify(?, '')", (ARRIVALS_CHANNEL,))

    def _upsert_results(self, tx: Tx, rows: Sequence[Sequence[Any]]) -> None:
        tx.run_many(
            f"INSERT {result_insert(('labels', 'probabilities', 'warnings'))}"
            ' ON CONFLICT (image_uid, weights_sha256, fingerprint, "precision") DO UPDATE SET'
            " seq = nextval(pg_get_serial_sequence('results', 'seq')), status = excluded.status,"
            " reason = excluded.reason, labels = excluded.labels, probabilities = excluded.probabilities,"
            " warnings = excluded.warnings, preprocessing = excluded.preprocessing,"
            " device = excluded.device, scored_at = excluded.scored_at, gate_score = excluded.gate_score,"
            " gate_overridden = false",
            rows,
        )

    def _scores(self, probabilities: dict[str, float], warnings: list[str]) -> tuple[Any, ...]:
        values = list(probabilities.values())
        json.dumps(values, allow_nan=False)  # refused as the SQLite store refuses it
        return list(probabilities), values, warnings

    def _read_scores(self, row: Row) -> tuple[dict[str, float], list[str]]:
        return dict(zip(row["labels"], row["probabilities"], strict=True)), row["warnings"]

    def _upsert_embeddings(self, tx: Tx, rows: Sequence[tuple[str, str, bytes]]) -> None:
        tx.run("SELECT pg_advisory_xact_lock(?)", (_EMBEDDING_SEQ_LOCK,))  # held to the commit
        tx.run_many(
            "INSERT INTO embeddings (image_uid, weights_sha256, seq, vector)"
            " VALUES (?, ?, nextval('embedding_seq'), ?)"
            " ON CONFLICT (image_uid, weights_sha256)"
            " DO UPDATE SET seq = excluded.seq, vector = excluded.vector",
            rows,
        )

    # -- claims ------------------------------------------------------------------------------------
    def claim(self, study_uid: str, lease_s: float = LEASE_S, take_over: bool = False) -> Claim:
        def work(tx: Tx) -> Claim:
            self._lock_study(tx, study_uid)
            held = _live_claim(tx, study_uid)
            if held is not None and not held.mine and not take_over:
                return held
            if held is not None and not held.mine:
                self._insert_audit(tx, [("claim-taken-over", study_uid, "", {"from": held.holder})])
            return _take(tx, study_uid, lease_s)

        return self._write(work)

    def release(self, study_uid: str) -> bool:
        return self._write(lambda tx: self._release_own_claim(tx, study_uid))

    def _release_own_claim(self, tx: Tx, study_uid: str) -> bool:
        return tx.run("DELETE FROM claims WHERE study_uid = ? AND holder = session_user", (study_uid,)) > 0

    def claim_next(self, ranked_study_uids: Sequence[str], lease_s: float = LEASE_S) -> Claim | None:
        order = list(ranked_study_uids)

        def work(tx: Tx) -> Claim | None:
            passed: list[str] = []
            while True:
                # Locks the first free candidate, skipping those another reader is claiming right now;
                # a candidate claimed or reviewed since this statement's snapshot is seen by the
                # next statement (the row lock now keeps it so), and passed over.
                rows = tx.rows(
                    "SELECT s.study_uid FROM studies s WHERE s.study_uid = ANY(?)"
                    " AND NOT s.study_uid = ANY(?) AND NOT s.archived"
                    " AND NOT EXISTS (SELECT 1 FROM reviews v WHERE v.study_uid = s.study_uid)"
                    " AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.study_uid = s.study_uid"
                    " AND c.expires > now())"
                    " ORDER BY array_position(?, s.study_uid) LIMIT 1 FOR UPDATE OF s SKIP LOCKED",
                    (order, passed, order),
                )
                if not rows:
                    return None
                uid = rows[0]["study_uid"]
                reviewed = tx.rows("SELECT 1 FROM reviews WHERE study_uid = ?", (uid,))
                if not reviewed and _live_claim(tx, uid) is None:
                    return _take(tx, uid, lease_s)
                passed.append(uid)

        return self._write(work)

    def claims(self) -> dict[str, Claim]:
        rows = self._read(
            "SELECT study_uid, holder, expires, holder = session_user AS mine FROM claims"
            " WHERE expires > now()"
        )
        return {
            r["study_uid"]: Claim(r["study_uid"], r["holder"], iso_time(r["expires"]), r["mine"])
            for r in rows
        }


class ArrivalListener:
    """Wakes a viewer when images arrive in a team store: LISTEN on a connection of its own. After it is
    made (or made again, when the server was away), catch up with :meth:`Store.images_since`: a NOTIFY
    sent while nobody listened is not kept."""

    def __init__(self, url: str) -> None:
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            self._conn.execute(f"LISTEN {ARRIVALS_CHANNEL}")
        except psycopg.Error as exc:
            raise StoreError(f"cannot listen to the team store {_without_password(url)}: {exc}") from exc

    def wait(self, timeout_s: float) -> bool:
        """Whether images arrived within ``timeout_s`` seconds (False: none did)."""
        try:
            return any(True for _ in self._conn.notifies(timeout=timeout_s, stop_after=1))
        except psycopg.Error as exc:
            raise StoreError(f"the team store stopped sending arrivals: {exc}") from exc

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ArrivalListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _placeholders(statement: str) -> str:
    """The shared statements' ``?`` placeholders as psycopg's ``%s`` (none holds a ``%`` or a ``?``
    of its own)."""
    return statement.replace("?", "%s")


def _live_claim(tx: Tx, study_uid: str) -> Claim | None:
    rows = tx.rows(
        "SELECT holder, expires, holder = session_user AS mine FROM claims"
        " WHERE study_uid = ? AND expires > now()",
        (study_uid,),
    )
    return (
        None
        if not rows
        else Claim(study_uid, rows[0]["holder"], iso_time(rows[0]["expires"]), rows[0]["mine"])
    )


def _take(tx: Tx, study_uid: str, lease_s: float) -> Claim:
    row = tx.rows(
        "INSERT INTO claims (study_uid, expires) VALUES (?, now() + make_interval(secs => ?))"
        " ON CONFLICT (study_uid) DO UPDATE SET expires = excluded.expires RETURNING holder, expires",
        (study_uid, lease_s),
    )[0]
    return Claim(study_uid, row["holder"], iso_time(row["expires"]), True)


def _local_name(host: str, port: int, dbname: str) -> str:
    """The name in the data folder that stands for this database (its similar-case index sits beside)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"postgresql-{host}-{port}-{dbname}")


def _without_password(url: str) -> str:
    return re.sub(r"(://[^:@/]*):[^@/]*@", r"\1@", url)


def create_login(admin_url: str, name: str, role: str, password: str) -> None:
    """Make ``name`` a login of the group role ``role`` (:data:`postgres_schema.ROLES`' values), with
    ``password`` sent to the server already hashed (SCRAM): never in its logs."""
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as admin:
            hashed = admin.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                    sql.Identifier(name), sql.Literal(hashed.decode()), sql.Identifier(role)
                )
            )
    except psycopg.Error as exc:
        raise StoreError(f"cannot add {name} to {_without_password(admin_url)}: {exc}") from exc
