"""The team store: one PostgreSQL database that several workstations and services share (the API:
:class:`inference.store.db.Store`; the schema and roles: :mod:`inference.store.postgres_schema`).

Each write is one transaction, retried when the server picks it to break a deadlock. Images and
embeddings get their sequence numbers under a transaction-level advisory lock held until the commit,
so sequence numbers follow commit order and catching up from the last one seen never misses a row a
slower writer committed later; every commit that records images sends a NOTIFY that
:class:`ArrivalListener` wakes on. A study's row lock guards its claim and its review: claims are
taken with ``SELECT … FOR UPDATE SKIP LOCKED``, so two readers asking at once get different studies.
Who and when (reviews, claims, the audit) are the server's word: ``session_user`` and ``now()``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from inference.api import ImageMeta, ScanEntry, Status
from inference.identity import image_uid
from inference.store.db import (
    CONTENT_CHANGED,
    LEASE_S,
    REVIEW_OUTCOMES,
    AuditEvent,
    Claim,
    ImageResult,
    Review,
    Store,
    StoredImage,
    StoreError,
)
from inference.store.location import data_dir
from inference.store.postgres_schema import MIGRATIONS, VERSION
from inference.store.user import now_iso
from inference.text import printable

ARRIVALS_CHANNEL = "cxr_triage_arrivals"
CONNECT_TIMEOUT_S = 10
RETRIES = 5  # a transaction the server broke (deadlock, serialization) is run again this many times
_RETRYABLE = ("40P01", "40001")
# advisory lock keys (any bigint; these spell "cxr-triage" in spirit): schema changes, images' and
# embeddings' sequence numbers
_MIGRATION_LOCK, _IMAGE_SEQ_LOCK, _EMBEDDING_SEQ_LOCK = 0x6378720001, 0x6378720002, 0x6378720003
T = TypeVar("T")
Row = dict[str, Any]
Cursor = psycopg.Cursor[Row]

_META_COLUMNS = (
    "patient_id", "patient_name", "accession", "study_date", "study_time", "modality", "view_position",
    "body_part", "photometric", "rows", "columns", "window_center", "window_width", "fingerprint", "purged",
)  # fmt: skip
_META_SQL = ", ".join(f'"{c}"' for c in _META_COLUMNS)
_RESULT_COLUMNS = (
    "r.image_uid, r.status, r.reason, r.labels, r.probabilities, r.warnings, r.gate_score,"
    " r.gate_overridden, EXISTS (SELECT 1 FROM results o WHERE o.image_uid = r.image_uid"
    " AND o.fingerprint NOT IN ('', r.fingerprint)) AS other_content"
)
# As the SQLite store's: of the image's current content, and no newer row of it (see sqlite_backend).
_CURRENT = (
    "r.fingerprint = i.fingerprint AND NOT EXISTS (SELECT 1 FROM results n WHERE n.image_uid = r.image_uid"
    " AND n.weights_sha256 = r.weights_sha256 AND n.fingerprint = r.fingerprint AND n.seq > r.seq{same})"
)


class PostgresStore(Store):
    """A connection to one PostgreSQL database; safe to share between threads (calls are serialised)."""

    def __init__(self, target: Path | str, read_only: bool = False) -> None:
        self.url = str(target)
        self._read_only = read_only
        self._lock = threading.RLock()
        self._conn = self._connect()
        info = self._conn.info
        self.path = data_dir() / _local_name(info.host, info.port, info.dbname)
        self.where = f"{info.dbname} on {info.host}:{info.port}"  # for messages: never the password
        self._migrate()

    def _connect(self) -> psycopg.Connection[Row]:
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

        def work(cur: Cursor) -> None:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute("SELECT to_regclass('schema_version') IS NOT NULL AS made")
            made = _one(cur)["made"]
            start = int(_one(cur.execute("SELECT version FROM schema_version"))["version"]) if made else 0
            for number in range(start + 1, VERSION + 1):
                cur.execute(MIGRATIONS[number - 1])
                cur.execute("UPDATE schema_version SET version = %s", (number,))

        try:
            self._write(work)
        except StoreError as exc:
            raise StoreError(
                f"the team store {self.where} has no schema {VERSION} and this role cannot make it: "
                f"run `cxr-triage store init ADMIN_URL` ({exc.__cause__})"
            ) from exc.__cause__

    # -- transactions ------------------------------------------------------------------------------
    def _write(self, work: Callable[[Cursor], T]) -> T:
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
                        done = work(cur)
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
                    return self._conn.execute(sql, params).fetchall()
            except psycopg.Error as exc:
                if not self._conn.broken or attempt == 1:
                    raise StoreError(f"the team store {self.where} could not be read: {exc}") from exc
        raise AssertionError("unreachable")

    def _reconnect_if_lost(self) -> None:
        """A connection the server dropped (a restart) is opened again for the next call."""
        if self._conn.broken or self._conn.closed:
            self._conn = self._connect()

    # -- images ------------------------------------------------------------------------------------
    def record(self, entries: Sequence[ScanEntry], source: str = "file") -> list[str]:
        uids = [image_uid(e.meta) for e in entries]
        stamp = now_iso()

        def work(cur: Cursor) -> None:
            _audit_content_changes(cur, uids, entries)
            cur.executemany(
                "INSERT INTO studies (study_uid, arrived) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(e.meta.study_uid, stamp) for e in entries],
            )
            updates = ", ".join(
                f'"{c}" = excluded."{c}"'
                for c in ("study_uid", "path", "scan_status", "scan_reason", *_META_COLUMNS)
            )
            marks = ", ".join(["%s"] * len(_META_COLUMNS))
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_IMAGE_SEQ_LOCK,))  # held to the commit
            cur.executemany(
                "INSERT INTO images (image_uid, seq, study_uid, source, path, arrived, scan_status,"
                f" scan_reason, {_META_SQL})"
                f" VALUES (%s, nextval('image_seq'), %s, %s, %s, %s, %s, %s, {marks})"
                f" ON CONFLICT (image_uid) DO UPDATE SET {updates}",
                [
                    (uid, e.meta.study_uid, source, os.fsencode(e.meta.path), stamp, e.status.value,
                     printable(e.reason), *(_meta_value(e.meta, c) for c in _META_COLUMNS))
                    for uid, e in zip(uids, entries, strict=True)
                ],
            )  # fmt: skip
            cur.execute("SELECT pg_notify(%s, '')", (ARRIVALS_CHANNEL,))

        if entries:
            self._write(work)
        return uids

    def images(
        self, study_uids: Iterable[str] | None = None, include_archived: bool = False
    ) -> list[StoredImage]:
        where = ["true"] if include_archived else ["NOT s.archived"]
        params: list[Any] = []
        if study_uids is not None:
            where.append("s.study_uid = ANY(%s)")
            params.append(list(study_uids))
        rows = self._read(
            "SELECT i.*, s.arrived AS study_arrived FROM images i JOIN studies s USING (study_uid)"
            f" WHERE {' AND '.join(where)} ORDER BY s.arrived, i.seq",
            params,
        )
        return [StoredImage(r["image_uid"], _entry(r), r["study_arrived"]) for r in rows]

    # -- results -----------------------------------------------------------------------------------
    def results(self, weights_sha256: str, image_uids: Iterable[str] | None = None) -> dict[str, ImageResult]:
        return self._results(weights_sha256, image_uids, _CURRENT.format(same=""))

    def reusable_results(
        self, weights_sha256: str, precision: str, image_uids: Iterable[str]
    ) -> dict[str, ImageResult]:
        current = _CURRENT.format(same=' AND n."precision" = r."precision"')
        where = f'{current} AND r."precision" = %s AND r.status != %s'
        return self._results(weights_sha256, image_uids, where, [precision, Status.ERROR.value])

    def _results(
        self, weights_sha256: str, image_uids: Iterable[str] | None, where: str, params: Sequence[Any] = ()
    ) -> dict[str, ImageResult]:
        sql = f"SELECT {_RESULT_COLUMNS} FROM results r JOIN images i USING (image_uid)"
        sql += f" WHERE r.weights_sha256 = %s AND {where}"
        values: list[Any] = [weights_sha256, *params]
        if image_uids is not None:
            sql += " AND r.image_uid = ANY(%s)"
            values.append(list(image_uids))
        return {
            r["image_uid"]: ImageResult(
                r["image_uid"],
                Status(r["status"]),
                dict(zip(r["labels"], r["probabilities"], strict=True)),
                r["reason"],
                (*r["warnings"], *([CONTENT_CHANGED] if r["other_content"] else [])),
                gate_score=r["gate_score"],
                gate_overridden=r["gate_overridden"],
            )
            for r in self._read(sql, values)
        }

    def save_results(
        self,
        results: Sequence[ImageResult],
        weights_sha256: str,
        *,
        preprocessing: str = "",
        precision: str = "",
        device: str = "",
    ) -> list[ImageResult]:
        stamp = now_iso()
        rows = []
        for r in results:
            labels = list(r.probabilities)
            values = [float(r.probabilities[k]) for k in labels]
            json.dumps(values, allow_nan=False)  # refused as the SQLite store refuses it
            warnings = [printable(w) for w in r.warnings if w != CONTENT_CHANGED]
            rows.append((r.image_uid, weights_sha256, r.fingerprint, r.image_uid, precision, r.status.value,
                         printable(r.reason), labels, values, warnings, preprocessing, device, stamp,
                         r.gate_score))  # fmt: skip

        def work(cur: Cursor) -> list[ImageResult]:
            first_seq = _one(cur.execute("SELECT COALESCE(MAX(seq), 0) AS seq FROM results"))["seq"]
            cur.executemany(
                'INSERT INTO results (image_uid, weights_sha256, fingerprint, "precision", status, reason,'
                " labels, probabilities, warnings, preprocessing, device, scored_at, gate_score)"
                " VALUES (%s, %s,"
                " COALESCE(NULLIF(%s, ''), (SELECT fingerprint FROM images WHERE image_uid = %s)),"
                " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ' ON CONFLICT (image_uid, weights_sha256, fingerprint, "precision") DO UPDATE SET'
                " seq = nextval(pg_get_serial_sequence('results', 'seq')), status = excluded.status,"
                " reason = excluded.reason, labels = excluded.labels, probabilities = excluded.probabilities,"
                " warnings = excluded.warnings, preprocessing = excluded.preprocessing,"
                " device = excluded.device, scored_at = excluded.scored_at, gate_score = excluded.gate_score,"
                " gate_overridden = false",
                rows,
            )
            cur.execute(
                "SELECT DISTINCT study_uid FROM images WHERE image_uid = ANY(%s)",
                ([r.image_uid for r in results],),
            )
            studies = [row["study_uid"] for row in cur.fetchall()]
            _insert_audit(cur, [("scored", uid, weights_sha256, {"precision": precision}) for uid in studies])
            _insert_embeddings(cur, results, weights_sha256)
            cur.execute(
                "SELECT DISTINCT r.image_uid FROM results r JOIN results o USING (image_uid)"
                " WHERE r.seq > %s AND o.fingerprint NOT IN ('', r.fingerprint)",
                (first_seq,),
            )
            changed = {row["image_uid"] for row in cur.fetchall()}
            return [_with_warning(r, CONTENT_CHANGED) if r.image_uid in changed else r for r in results]

        return self._write(work) if results else []

    # -- studies -----------------------------------------------------------------------------------
    def archive(self, study_uids: Iterable[str], archived: bool = True) -> int:
        uids = list(study_uids)

        def work(cur: Cursor) -> int:
            cur.execute(
                "UPDATE studies SET archived = %s WHERE study_uid = ANY(%s) AND archived != %s",
                (archived, uids, archived),
            )
            changed = cur.rowcount
            _insert_audit(cur, [("archived" if archived else "unarchived", uid, "", {}) for uid in uids])
            return changed

        return self._write(work)

    def archive_older_than(self, arrived_before: str) -> int:
        rows = self._read(
            "SELECT study_uid FROM studies WHERE NOT archived AND arrived < %s", (arrived_before,)
        )
        return self.archive(r["study_uid"] for r in rows)

    def arrivals(self, study_uids: Iterable[str]) -> dict[str, str]:
        rows = self._read(
            "SELECT study_uid, arrived FROM studies WHERE study_uid = ANY(%s)", (list(study_uids),)
        )
        return {r["study_uid"]: r["arrived"] for r in rows}

    def has_study(self, study_uid: str) -> bool:
        return bool(self._read("SELECT 1 FROM studies WHERE study_uid = %s", (study_uid,)))

    # -- reviews -----------------------------------------------------------------------------------
    def set_review(self, study_uid: str, outcome: str, note: str = "") -> Review:
        if outcome not in REVIEW_OUTCOMES:
            raise ValueError(
                f"unknown review outcome {outcome!r}; choose one of {', '.join(REVIEW_OUTCOMES)}"
            )
        note = printable(note)

        def work(cur: Cursor) -> Review:
            _lock_study(cur, study_uid)
            row = _one(
                cur.execute(
                    "INSERT INTO reviews (study_uid, outcome, note) VALUES (%s, %s, %s)"
                    " ON CONFLICT (study_uid) DO UPDATE SET outcome = excluded.outcome, note = excluded.note"
                    ' RETURNING "user", time',
                    (study_uid, outcome, note),
                )
            )
            cur.execute("DELETE FROM claims WHERE study_uid = %s AND holder = session_user", (study_uid,))
            _insert_audit(cur, [(outcome, study_uid, "", {"note": note} if note else {})])
            return Review(study_uid, outcome, note, row["user"], _iso(row["time"]))

        return self._write(work)

    def clear_review(self, study_uid: str) -> None:
        def work(cur: Cursor) -> None:
            cur.execute("DELETE FROM reviews WHERE study_uid = %s", (study_uid,))
            _insert_audit(cur, [("review-cleared", study_uid, "", {})])

        self._write(work)

    def reviews(self) -> dict[str, Review]:
        return {
            r["study_uid"]: Review(r["study_uid"], r["outcome"], r["note"], r["user"], _iso(r["time"]))
            for r in self._read("SELECT * FROM reviews")
        }

    # -- claims ------------------------------------------------------------------------------------
    def claim(self, study_uid: str, lease_s: float = LEASE_S, take_over: bool = False) -> Claim:
        def work(cur: Cursor) -> Claim:
            _lock_study(cur, study_uid)
            held = _live_claim(cur, study_uid)
            if held is not None and not held.mine and not take_over:
                return held
            if held is not None and not held.mine:
                _insert_audit(cur, [("claim-taken-over", study_uid, "", {"from": held.holder})])
            return _take(cur, study_uid, lease_s)

        return self._write(work)

    def release(self, study_uid: str) -> bool:
        def work(cur: Cursor) -> bool:
            cur.execute("DELETE FROM claims WHERE study_uid = %s AND holder = session_user", (study_uid,))
            return cur.rowcount > 0

        return self._write(work)

    def claim_next(self, ranked_study_uids: Sequence[str], lease_s: float = LEASE_S) -> Claim | None:
        order = list(ranked_study_uids)

        def work(cur: Cursor) -> Claim | None:
            passed: list[str] = []
            while True:
                # Locks the first free candidate, skipping those another reader is claiming right now;
                # a candidate claimed or reviewed since this statement's snapshot is seen by the
                # next statement (the row lock now keeps it so), and passed over.
                cur.execute(
                    "SELECT s.study_uid FROM studies s WHERE s.study_uid = ANY(%s)"
                    " AND NOT s.study_uid = ANY(%s) AND NOT s.archived"
                    " AND NOT EXISTS (SELECT 1 FROM reviews v WHERE v.study_uid = s.study_uid)"
                    " AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.study_uid = s.study_uid"
                    " AND c.expires > now())"
                    " ORDER BY array_position(%s, s.study_uid) LIMIT 1 FOR UPDATE OF s SKIP LOCKED",
                    (order, passed, order),
                )
                row = cur.fetchone()
                if row is None:
                    return None
                uid = row["study_uid"]
                reviewed = cur.execute("SELECT 1 FROM reviews WHERE study_uid = %s", (uid,)).fetchone()
                if reviewed is None and _live_claim(cur, uid) is None:
                    return _take(cur, uid, lease_s)
                passed.append(uid)

        return self._write(work)

    def claims(self) -> dict[str, Claim]:
        rows = self._read(
            "SELECT study_uid, holder, expires, holder = session_user AS mine FROM claims"
            " WHERE expires > now()"
        )
        return {
            r["study_uid"]: Claim(r["study_uid"], r["holder"], _iso(r["expires"]), r["mine"]) for r in rows
        }

    # -- purge -------------------------------------------------------------------------------------
    def purgeable(self, arrived_before: str, reviewed_only: bool = False) -> list[StoredImage]:
        reviewed = " AND EXISTS (SELECT 1 FROM reviews v WHERE v.study_uid = s.study_uid)"
        rows = self._read(
            "SELECT i.*, s.arrived AS study_arrived FROM images i JOIN studies s USING (study_uid)"
            f" WHERE s.arrived < %s AND i.purged = ''{reviewed if reviewed_only else ''}"
            " ORDER BY s.arrived, s.study_uid, i.seq",
            (arrived_before,),
        )
        return [StoredImage(r["image_uid"], _entry(r), r["study_arrived"]) for r in rows]

    def mark_purged(self, image_uids: Iterable[str]) -> str:
        stamp = now_iso()
        uids = list(image_uids)
        self._write(
            lambda cur: cur.execute(
                "UPDATE images SET purged = %s WHERE purged = '' AND image_uid = ANY(%s)", (stamp, uids)
            )
        )
        return stamp

    # -- similar cases -----------------------------------------------------------------------------
    def embeddings_since(
        self, weights_sha256: str, after: int = 0
    ) -> tuple[int, dict[str, list[np.ndarray]]]:
        rows = self._read(
            "SELECT e.seq, i.study_uid, e.vector FROM embeddings e JOIN images i USING (image_uid)"
            " WHERE e.weights_sha256 = %s AND i.study_uid IN (SELECT i2.study_uid FROM embeddings e2"
            " JOIN images i2 USING (image_uid) WHERE e2.weights_sha256 = %s AND e2.seq > %s)"
            " ORDER BY e.seq",
            (weights_sha256, weights_sha256, after),
        )
        studies: dict[str, list[np.ndarray]] = {}
        for r in rows:
            studies.setdefault(r["study_uid"], []).append(np.frombuffer(r["vector"], dtype="<f4"))
        return max((r["seq"] for r in rows), default=after), studies

    def same_patient_studies(self, study_uid: str) -> set[str]:
        rows = self._read(
            "SELECT DISTINCT study_uid FROM images WHERE patient_id IN"
            " (SELECT patient_id FROM images WHERE study_uid = %s AND patient_id != '')",
            (study_uid,),
        )
        return {r["study_uid"] for r in rows}

    # -- PACS link ---------------------------------------------------------------------------------
    def pacs_object_uids(
        self, study_uid: str, weights_sha256: str, kind: str, new: Callable[[], tuple[str, str]]
    ) -> tuple[str, str]:
        key = (study_uid, weights_sha256, kind)
        select = (
            "SELECT series_uid, sop_uid FROM pacs_objects"
            " WHERE study_uid = %s AND weights_sha256 = %s AND kind = %s"
        )

        def work(cur: Cursor) -> tuple[str, str]:
            row = cur.execute(select, key).fetchone()
            if row is None:  # made here, unless another writer made them first: theirs are kept
                cur.execute(
                    "INSERT INTO pacs_objects VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (*key, *new()),
                )
                row = _one(cur.execute(select, key))
            return str(row["series_uid"]), str(row["sop_uid"])

        return self._write(work)

    def record_sent(
        self, study_uid: str, weights_sha256: str, destination: str, sop_uids: Sequence[str]
    ) -> None:
        stamp = now_iso()

        def work(cur: Cursor) -> None:
            cur.executemany(
                "INSERT INTO pacs_sent (sop_uid, destination, time) VALUES (%s, %s, %s)",
                [(uid, destination, stamp) for uid in sop_uids],
            )
            detail = {"destination": destination, "objects": list(sop_uids)}
            _insert_audit(cur, [("sent", study_uid, weights_sha256, detail)])

        self._write(work)

    def sent(self, study_uid: str) -> list[tuple[str, str, str]]:
        rows = self._read(
            "SELECT o.kind, s.sop_uid, s.destination FROM pacs_sent s JOIN pacs_objects o USING (sop_uid)"
            " WHERE o.study_uid = %s ORDER BY s.id",
            (study_uid,),
        )
        return [(r["kind"], r["sop_uid"], r["destination"]) for r in rows]

    # -- live arrivals -----------------------------------------------------------------------------
    def last_image_seq(self) -> int:
        return int(self._read("SELECT COALESCE(MAX(seq), 0) AS seq FROM images")[0]["seq"])

    def images_since(self, after: int) -> tuple[int, list[StoredImage]]:
        rows = self._read(
            "SELECT i.*, s.arrived AS study_arrived FROM images i JOIN studies s USING (study_uid)"
            " WHERE i.seq > %s AND NOT s.archived ORDER BY i.seq",
            (after,),
        )
        images = [StoredImage(r["image_uid"], _entry(r), r["study_arrived"]) for r in rows]
        return max((r["seq"] for r in rows), default=after), images

    # -- safety gate -------------------------------------------------------------------------------
    def override_gate(self, study_uid: str, weights_sha256: str) -> int:
        def work(cur: Cursor) -> int:
            cur.execute(
                "SELECT r.seq, r.gate_score FROM results r JOIN images i USING (image_uid)"
                " WHERE i.study_uid = %s AND r.weights_sha256 = %s AND r.status = %s"
                f" AND r.gate_score IS NOT NULL AND {_CURRENT.format(same='')} ORDER BY i.seq",
                (study_uid, weights_sha256, Status.NOT_SCORED.value),
            )
            stopped = [(row["seq"], row["gate_score"]) for row in cur.fetchall()]
            cur.executemany(
                "UPDATE results SET status = %s, gate_overridden = true WHERE seq = %s",
                [(Status.SCORED.value, seq) for seq, _ in stopped],
            )
            if stopped:
                detail = {"gate_scores": [round(score, 4) for _, score in stopped]}
                _insert_audit(cur, [("gate-overridden", study_uid, weights_sha256, detail)])
            return len(stopped)

        return self._write(work)

    # -- audit -------------------------------------------------------------------------------------
    def log(self, action: str, study_uid: str = "", weights_sha256: str = "", **detail: Any) -> None:
        self._write(lambda cur: _insert_audit(cur, [(action, study_uid, weights_sha256, detail)]))

    def audit(self) -> list[AuditEvent]:
        return [
            AuditEvent(_iso(r["time"]), r["user"], r["action"], r["study_uid"], r["weights_sha256"],
                       json.loads(r["detail"]))
            for r in self._read("SELECT * FROM audit ORDER BY id")
        ]  # fmt: skip


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


def _one(cur: Cursor) -> Row:
    row = cur.fetchone()
    if row is None:
        raise AssertionError("the query returns one row")
    return row


def _lock_study(cur: Cursor, study_uid: str) -> None:
    """Hold the study's row until the commit: its claim and review change under this lock only."""
    if cur.execute("SELECT 1 FROM studies WHERE study_uid = %s FOR UPDATE", (study_uid,)).fetchone() is None:
        raise KeyError(study_uid)


def _live_claim(cur: Cursor, study_uid: str) -> Claim | None:
    row = cur.execute(
        "SELECT holder, expires, holder = session_user AS mine FROM claims"
        " WHERE study_uid = %s AND expires > now()",
        (study_uid,),
    ).fetchone()
    return None if row is None else Claim(study_uid, row["holder"], _iso(row["expires"]), row["mine"])


def _take(cur: Cursor, study_uid: str, lease_s: float) -> Claim:
    row = _one(
        cur.execute(
            "INSERT INTO claims (study_uid, expires) VALUES (%s, now() + make_interval(secs => %s))"
            " ON CONFLICT (study_uid) DO UPDATE SET expires = excluded.expires RETURNING holder, expires",
            (study_uid, lease_s),
        )
    )
    return Claim(study_uid, row["holder"], _iso(row["expires"]), True)


def _insert_audit(cur: Cursor, events: Sequence[tuple[str, str, str, Any]]) -> None:
    """Who and when: the server's (the audit's trigger)."""
    cur.executemany(
        "INSERT INTO audit (action, study_uid, weights_sha256, detail) VALUES (%s, %s, %s, %s)",
        [
            (action, study, weights, json.dumps(dict(detail), default=str))
            for action, study, weights, detail in events
        ],
    )


def _audit_content_changes(cur: Cursor, uids: Sequence[str], entries: Sequence[ScanEntry]) -> None:
    """Audit each image recorded before with another fingerprint than it now has."""
    cur.execute("SELECT image_uid, fingerprint FROM images WHERE image_uid = ANY(%s)", (list(uids),))
    before = {row["image_uid"]: row["fingerprint"] for row in cur.fetchall()}
    events = [
        ("instance-uid-reused", e.meta.study_uid, "", {"image_uid": uid, "reason": CONTENT_CHANGED})
        for uid, e in zip(uids, entries, strict=True)
        if before.get(uid) and e.meta.fingerprint and before[uid] != e.meta.fingerprint
    ]
    _insert_audit(cur, events)


def _insert_embeddings(cur: Cursor, results: Sequence[ImageResult], weights_sha256: str) -> None:
    """Each scored result's embedding as float32 bytes; a new write gets a new ``seq``, in commit order."""
    rows = [
        (r.image_uid, weights_sha256, np.asarray(r.embedding, dtype="<f4").tobytes())
        for r in results
        if r.embedding is not None and r.status is Status.SCORED
    ]
    if not rows:
        return
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_EMBEDDING_SEQ_LOCK,))  # held to the commit
    cur.executemany(
        "INSERT INTO embeddings (image_uid, weights_sha256, seq, vector)"
        " VALUES (%s, %s, nextval('embedding_seq'), %s)"
        " ON CONFLICT (image_uid, weights_sha256) DO UPDATE SET seq = excluded.seq, vector = excluded.vector",
        rows,
    )


def _with_warning(result: ImageResult, warning: str) -> ImageResult:
    if warning in result.warnings:
        return result
    return dataclasses.replace(result, warnings=(*result.warnings, warning))


def _meta_value(meta: ImageMeta, column: str) -> Any:
    value = getattr(meta, column)
    return printable(value) if isinstance(value, str) else value


def _entry(row: Row) -> ScanEntry:
    meta = ImageMeta(
        path=Path(os.fsdecode(bytes(row["path"]))),
        study_uid=row["study_uid"],
        sop_uid=row["image_uid"],
        **{c: row[c] for c in _META_COLUMNS},
    )
    return ScanEntry(meta=meta, status=Status(row["scan_status"]), reason=row["scan_reason"])


def _iso(moment: datetime) -> str:
    """A server timestamp as the SQLite store writes its times: ISO 8601 UTC, in seconds."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


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
