"""The embedded store: one SQLite file that remembers images, results, reviews and the audit trail
(the API: :class:`inference.store.db.Store`; the queries both backends share:
:mod:`inference.store.sql_store`). The file is opened in WAL mode with foreign keys on; every write is
one short ``BEGIN IMMEDIATE`` transaction, and a writer that finds the file busy waits (busy timeout)
and retries, so the viewer and a command-line run can write the same store at once.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from inference.store.db import LEASE_S, Claim, StoreError
from inference.store.schema import MIGRATIONS, VERSION
from inference.store.sql_store import Row, SqlStore, T, Tx, image_upsert, result_insert
from inference.store.user import current_user, now_iso

BUSY_TIMEOUT_S = 30.0  # sqlite waits this long for a lock before "database is locked"
LOCK_RETRIES = 5  # then the whole transaction is retried this many times, with a short back-off
CLAIMS_NEED_A_SERVER = (
    "claims need a team store on a PostgreSQL server (--db postgresql://USER@HOST:PORT/DBNAME): "
    "a SQLite store is one workstation's"
)


def sqlite_cannot_write(code: int, text: str) -> str:
    """:func:`inference.store.cannot_write` for an SQLite error code."""
    primary = code & 0xFF
    if primary == sqlite3.SQLITE_READONLY:
        return "read-only"
    if primary == sqlite3.SQLITE_FULL:
        return "the disk is full"
    if primary in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
        return text
    return ""


class _SqliteTx:
    """:class:`inference.store.sql_store.Tx` on the connection, inside its transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return _fetch(self._db, sql, params)

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._db.execute(sql, params).rowcount

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)


class SqliteStore(SqlStore):
    """A connection to one store file; safe to share between threads (calls are serialised)."""

    _IMAGE_SEQ = "rowid"

    def __init__(self, target: Path | str, read_only: bool = False) -> None:
        self.path = Path(target)
        self._read_only = read_only
        try:
            if read_only:
                uri = f"{self.path.absolute().as_uri()}?mode=ro"
                try:
                    self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
                    self._db.execute("PRAGMA user_version")
                except sqlite3.OperationalError:  # WAL in a read-only folder: its -shm cannot be made
                    uri += "&immutable=1"
                    self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(
                    self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
                )
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints, never corrupt
            self._db.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.OperationalError) as exc:
            raise StoreError(f"cannot open the study store {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a CXR Triage study store ({exc})") from exc
        self._lock = threading.RLock()
        self._migrate()

    @property
    def writable(self) -> bool:
        """False when opened ``read_only`` or when the file cannot be written (read-only file or file
        system); a write can still fail later (a full disk): it raises :class:`StoreError`."""
        return not self._read_only and os.access(self.path, os.W_OK)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- schema ------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        try:
            current = self.version
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a CXR Triage study store ({exc})") from exc
        if current > VERSION:
            raise StoreError(
                f"the study store {self.path} was written by a newer CXR Triage (schema {current}; "
                f"this version reads up to {VERSION}); update CXR Triage or use another --db"
            )
        for number in range(current + 1, VERSION + 1):
            self._write(functools.partial(_apply_migration, number=number))

    # -- transactions ------------------------------------------------------------------------------
    def _write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in one immediate transaction; a busy file is waited for, then retried."""
        for attempt in range(LOCK_RETRIES + 1):
            try:
                with self._lock, self._transaction() as db:
                    return work(_SqliteTx(db))
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == LOCK_RETRIES:
                    raise StoreError(f"the study store {self.path} could not be written: {exc}") from exc
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            return _fetch(self._db, sql, params)

    # -- what differs from PostgreSQL ----------------------------------------------------------------
    def _any(self, column: str, values: Iterable[str]) -> tuple[str, Any]:
        return f"{column} IN (SELECT value FROM json_each(?))", json.dumps(list(values))

    def _stamp(self) -> dict[str, str]:
        return {"time": now_iso(), "user": current_user()}

    def _upsert_images(self, tx: Tx, rows: Sequence[Sequence[Any]]) -> None:
        tx.run_many(image_upsert(), rows)  # a new image's rowid numbers it

    def _upsert_results(self, tx: Tx, rows: Sequence[Sequence[Any]]) -> None:
        tx.run_many(f"INSERT OR REPLACE {result_insert(('probabilities', 'warnings'))}", rows)

    def _scores(self, probabilities: dict[str, float], warnings: list[str]) -> tuple[Any, ...]:
        return json.dumps(probabilities, allow_nan=False), json.dumps(warnings)

    def _read_scores(self, row: Row) -> tuple[dict[str, float], list[str]]:
        return json.loads(row["probabilities"]), json.loads(row["warnings"])

    def _upsert_embeddings(self, tx: Tx, rows: Sequence[tuple[str, str, bytes]]) -> None:
        tx.run_many(
            "INSERT OR REPLACE INTO embeddings (image_uid, weights_sha256, vector) VALUES (?, ?, ?)", rows
        )

    # -- claims: refused, a SQLite store has one workstation -----------------------------------------
    def claim(self, study_uid: str, lease_s: float = LEASE_S, take_over: bool = False) -> Claim:
        raise StoreError(CLAIMS_NEED_A_SERVER)

    def release(self, study_uid: str) -> bool:
        raise StoreError(CLAIMS_NEED_A_SERVER)

    def claim_next(self, ranked_study_uids: Sequence[str], lease_s: float = LEASE_S) -> Claim | None:
        raise StoreError(CLAIMS_NEED_A_SERVER)

    def claims(self) -> dict[str, Claim]:
        return {}  # nobody else reads this store's worklist


def _apply_migration(tx: Tx, *, number: int) -> None:
    for statement in _statements(MIGRATIONS[number - 1]):
        tx.run(statement)
    tx.run(f"PRAGMA user_version = {number}")


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements (``executescript`` would commit our transaction)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete statement in migration: {buffer.strip()[:60]}")


def _fetch(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Row]:
    cursor = db.execute(sql, params)
    cursor.row_factory = _dict_row
    return cursor.fetchall()


def _dict_row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, values, strict=True)}


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text
