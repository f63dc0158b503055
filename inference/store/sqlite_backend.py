"""The embedded store: one SQLite file that remembers images, results, reviews and the audit trail
(the API: :class:`inference.store.db.Store`). The file is opened in WAL mode with foreign
keys on; every write is one short ``BEGIN IMMEDIATE`` transaction, and a writer that finds the file
busy waits (busy timeout) and retries, so the viewer and a command-line run can write the same store
at once.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

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
from inference.store.schema import MIGRATIONS, VERSION
from inference.store.user import current_user, now_iso
from inference.text import printable

BUSY_TIMEOUT_S = 30.0  # sqlite waits this long for a lock before "database is locked"
LOCK_RETRIES = 5  # then the whole transaction is retried this many times, with a short back-off
T = TypeVar("T")
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


_META_COLUMNS = (
    "patient_id", "patient_name", "accession", "study_date", "study_time", "modality", "view_position",
    "body_part", "photometric", "rows", "columns", "window_center", "window_width", "fingerprint", "purged",
)  # fmt: skip
_RESULT_COLUMNS = (
    "r.image_uid, r.status, r.reason, r.probabilities, r.warnings, r.gate_score, r.gate_overridden,"
    " EXISTS (SELECT 1 FROM results o WHERE o.image_uid = r.image_uid"
    " AND o.fingerprint NOT IN ('', r.fingerprint)) AS other_content"
)
# A result row is current when it is of its image's current content (fingerprint of its last scan) and
# no newer row of the same image, weights and content exists (whatever the precision: newest shown).
_CURRENT = (
    "r.fingerprint = i.fingerprint AND NOT EXISTS (SELECT 1 FROM results n WHERE n.image_uid = r.image_uid"
    " AND n.weights_sha256 = r.weights_sha256 AND n.fingerprint = r.fingerprint AND n.seq > r.seq{same})"
)


class SqliteStore(Store):
    """A connection to one store file; safe to share between threads (calls are serialised)."""

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
    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one immediate transaction; a busy file is waited for, then retried."""
        for attempt in range(LOCK_RETRIES + 1):
            try:
                with self._lock, self._transaction() as db:
                    return work(db)
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

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._db.execute(sql, params)
            cursor.row_factory = sqlite3.Row
            return cursor.fetchall()

    # -- images ------------------------------------------------------------------------------------
    def record(self, entries: Sequence[ScanEntry], source: str = "file") -> list[str]:
        """Record scanned images (and their studies) as arriving now; returns their image UIDs.

        An image seen before keeps its arrival time; its path, header facts and fingerprint are
        refreshed. An image UID seen before with other content (another fingerprint) is audited as
        ``instance-uid-reused``; its results of the other content are kept, no longer current.
        """
        uids = [image_uid(e.meta) for e in entries]
        stamp = now_iso()

        def work(db: sqlite3.Connection) -> None:
            _audit_content_changes(db, uids, entries)
            db.executemany(
                "INSERT INTO studies (study_uid, arrived) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(e.meta.study_uid, stamp) for e in entries],
            )
            columns = ", ".join(_META_COLUMNS)
            marks = ", ".join("?" * len(_META_COLUMNS))
            updates = ", ".join(
                f"{c} = excluded.{c}"
                for c in ("study_uid", "path", "scan_status", "scan_reason", *_META_COLUMNS)
            )
            db.executemany(
                f"INSERT INTO images (image_uid, study_uid, source, path, arrived, scan_status, scan_reason, "
                f"{columns}) VALUES (?, ?, ?, ?, ?, ?, ?, {marks}) "
                f"ON CONFLICT (image_uid) DO UPDATE SET {updates}",
                [
                    (uid, e.meta.study_uid, source, os.fsencode(e.meta.path), stamp, e.status.value,
                     printable(e.reason), *(_meta_value(e.meta, c) for c in _META_COLUMNS))
                    for uid, e in zip(uids, entries, strict=True)
                ],
            )  # fmt: skip

        self._write(work)
        return uids

    def images(
        self, study_uids: Iterable[str] | None = None, include_archived: bool = False
    ) -> list[StoredImage]:
        """Every recorded image (of ``study_uids`` when given), in arrival order."""
        where = ["1"] if include_archived else ["s.archived = 0"]
        params: list[str] = []
        if study_uids is not None:
            where.append("s.study_uid IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(study_uids)))
        rows = self._read(
            "SELECT i.*, s.arrived AS study_arrived FROM images i JOIN studies s USING (study_uid)"
            f" WHERE {' AND '.join(where)} ORDER BY s.arrived, i.rowid",
            params,
        )
        return [StoredImage(r["image_uid"], _entry(r), r["study_arrived"]) for r in rows]

    # -- results -----------------------------------------------------------------------------------
    def results(self, weights_sha256: str, image_uids: Iterable[str] | None = None) -> dict[str, ImageResult]:
        """Current results of ``weights_sha256`` (of each image's current content, the newest of any
        precision), by image UID (only ``image_uids`` when given). A result whose image UID also has
        results of other content carries the warning :data:`CONTENT_CHANGED`."""
        return self._results(weights_sha256, image_uids, _CURRENT.format(same=""))

    def reusable_results(
        self, weights_sha256: str, precision: str, image_uids: Iterable[str]
    ) -> dict[str, ImageResult]:
        """The results a run at ``precision`` may reuse instead of scoring: of the same weights, of the
        image's current content (fingerprint) and of that precision; never an error (a file that could
        not be read is read again)."""
        current = _CURRENT.format(same=" AND n.precision = r.precision")
        where = f"{current} AND r.precision = ? AND r.status != ?"
        return self._results(weights_sha256, image_uids, where, [precision, Status.ERROR.value])

    def _results(
        self, weights_sha256: str, image_uids: Iterable[str] | None, where: str, params: Sequence[Any] = ()
    ) -> dict[str, ImageResult]:
        sql = f"SELECT {_RESULT_COLUMNS} FROM results r JOIN images i USING (image_uid)"
        sql += f" WHERE r.weights_sha256 = ? AND {where}"
        values = [weights_sha256, *params]
        if image_uids is not None:
            sql += " AND r.image_uid IN (SELECT value FROM json_each(?))"
            values.append(json.dumps(list(image_uids)))
        return {
            r["image_uid"]: ImageResult(
                r["image_uid"],
                Status(r["status"]),
                json.loads(r["probabilities"]),
                r["reason"],
                (*json.loads(r["warnings"]), *([CONTENT_CHANGED] if r["other_content"] else [])),
                gate_score=r["gate_score"],
                gate_overridden=bool(r["gate_overridden"]),
            )  # fmt: skip
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
        """Commit one batch of results (and one ``scored`` audit event per study) in one transaction;
        returns them as the store now holds them (see :meth:`results` for their warnings).

        Each result is kept with its fingerprint (else its image's current one: what its last scan
        found) and ``precision``, replacing only a result of the same of both."""
        stamp = now_iso()

        def work(db: sqlite3.Connection) -> list[ImageResult]:
            first_seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM results").fetchone()[0]
            db.executemany(
                "INSERT OR REPLACE INTO results (image_uid, weights_sha256, fingerprint, precision, status,"
                " reason, probabilities, warnings, preprocessing, device, scored_at, gate_score)"
                " VALUES (?, ?,"
                " COALESCE(NULLIF(?, ''), (SELECT fingerprint FROM images WHERE image_uid = ?)),"
                " ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (r.image_uid, weights_sha256, r.fingerprint, r.image_uid, precision, r.status.value,
                     printable(r.reason),
                     json.dumps({k: float(v) for k, v in r.probabilities.items()}, allow_nan=False),
                     json.dumps([printable(w) for w in r.warnings if w != CONTENT_CHANGED]), preprocessing,
                     device, stamp,
                     r.gate_score)
                    for r in results
                ],
            )  # fmt: skip
            marks = ", ".join("?" * len(results))
            studies = db.execute(
                f"SELECT DISTINCT study_uid FROM images WHERE image_uid IN ({marks})",
                [r.image_uid for r in results],
            ).fetchall()
            _insert_audit(
                db, [("scored", uid, weights_sha256, {"precision": precision}) for (uid,) in studies]
            )
            _insert_embeddings(db, results, weights_sha256)
            changed = {
                uid
                for (uid,) in db.execute(
                    "SELECT DISTINCT r.image_uid FROM results r JOIN results o USING (image_uid)"
                    " WHERE r.seq > ? AND o.fingerprint NOT IN ('', r.fingerprint)",
                    (first_seq,),
                )
            }
            return [_with_warning(r, CONTENT_CHANGED) if r.image_uid in changed else r for r in results]

        return self._write(work) if results else []

    # -- studies -----------------------------------------------------------------------------------
    def archive(self, study_uids: Iterable[str], archived: bool = True) -> int:
        """Leave studies out of the worklist (or bring them back); returns how many changed."""
        uids = list(study_uids)

        def work(db: sqlite3.Connection) -> int:
            changed = 0
            for uid in uids:
                changed += db.execute(
                    "UPDATE studies SET archived = ? WHERE study_uid = ? AND archived != ?",
                    (int(archived), uid, int(archived)),
                ).rowcount
            _insert_audit(db, [("archived" if archived else "unarchived", uid, "", {}) for uid in uids])
            return changed

        return self._write(work)

    def archive_older_than(self, arrived_before: str) -> int:
        """Archive every study that arrived before the ISO time ``arrived_before``."""
        rows = self._read(
            "SELECT study_uid FROM studies WHERE archived = 0 AND arrived < ?", (arrived_before,)
        )
        return self.archive(r["study_uid"] for r in rows)

    # -- reviews -----------------------------------------------------------------------------------
    def set_review(self, study_uid: str, outcome: str, note: str = "") -> Review:
        """Record the reader's outcome for a study (replacing an earlier one) and audit it."""
        if outcome not in REVIEW_OUTCOMES:
            raise ValueError(
                f"unknown review outcome {outcome!r}; choose one of {', '.join(REVIEW_OUTCOMES)}"
            )
        review = Review(study_uid, outcome, printable(note), current_user(), now_iso())

        def work(db: sqlite3.Connection) -> None:
            if db.execute("SELECT 1 FROM studies WHERE study_uid = ?", (study_uid,)).fetchone() is None:
                raise KeyError(study_uid)
            db.execute(
                "INSERT OR REPLACE INTO reviews (study_uid, outcome, note, user, time)"
                " VALUES (?, ?, ?, ?, ?)",
                (study_uid, outcome, review.note, review.user, review.time),
            )
            _insert_audit(db, [(outcome, study_uid, "", {"note": review.note} if note else {})])

        self._write(work)
        return review

    def clear_review(self, study_uid: str) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM reviews WHERE study_uid = ?", (study_uid,))
            _insert_audit(db, [("review-cleared", study_uid, "", {})])

        self._write(work)

    def reviews(self) -> dict[str, Review]:
        return {
            r["study_uid"]: Review(r["study_uid"], r["outcome"], r["note"], r["user"], r["time"])
            for r in self._read("SELECT * FROM reviews")
        }

    # -- claims: refused, a SQLite store has one workstation -----------------------------------------
    def claim(self, study_uid: str, lease_s: float = LEASE_S, take_over: bool = False) -> Claim:
        raise StoreError(CLAIMS_NEED_A_SERVER)

    def release(self, study_uid: str) -> bool:
        raise StoreError(CLAIMS_NEED_A_SERVER)

    def claim_next(self, ranked_study_uids: Sequence[str], lease_s: float = LEASE_S) -> Claim | None:
        raise StoreError(CLAIMS_NEED_A_SERVER)

    def claims(self) -> dict[str, Claim]:
        return {}  # nobody else reads this store's worklist

    # -- purge: the received and retrieved files of old studies ------------------------------------
    def purgeable(self, arrived_before: str, reviewed_only: bool = False) -> list[StoredImage]:
        """The images whose file is still kept (not purged) of every study, archived or not, that
        arrived before the ISO time ``arrived_before`` (only reviewed studies with ``reviewed_only``),
        by study in arrival order."""
        reviewed = " AND EXISTS (SELECT 1 FROM reviews v WHERE v.study_uid = s.study_uid)"
        rows = self._read(
            "SELECT i.*, s.arrived AS study_arrived FROM images i JOIN studies s USING (study_uid)"
            f" WHERE s.arrived < ? AND i.purged = ''{reviewed if reviewed_only else ''}"
            " ORDER BY s.arrived, s.study_uid, i.rowid",
            (arrived_before,),
        )
        return [StoredImage(r["image_uid"], _entry(r), r["study_arrived"]) for r in rows]

    def mark_purged(self, image_uids: Iterable[str]) -> str:
        """Note that the files of ``image_uids`` were removed (now; images already marked keep their
        time); returns the time written. Results, reviews and audit are untouched."""
        stamp = now_iso()
        uids = json.dumps(list(image_uids))
        self._write(
            lambda db: db.execute(
                "UPDATE images SET purged = ? WHERE purged = ''"
                " AND image_uid IN (SELECT value FROM json_each(?))",
                (stamp, uids),
            )
        )
        return stamp

    def arrivals(self, study_uids: Iterable[str]) -> dict[str, str]:
        """When each of ``study_uids`` first arrived (ISO 8601 UTC), by study UID."""
        rows = self._read(
            "SELECT study_uid, arrived FROM studies WHERE study_uid IN (SELECT value FROM json_each(?))",
            (json.dumps(list(study_uids)),),
        )
        return {r["study_uid"]: r["arrived"] for r in rows}

    def has_study(self, study_uid: str) -> bool:
        return bool(self._read("SELECT 1 FROM studies WHERE study_uid = ?", (study_uid,)))

    # -- similar cases: image embeddings and patients' studies -------------------------------------
    def embeddings_since(
        self, weights_sha256: str, after: int = 0
    ) -> tuple[int, dict[str, list[np.ndarray]]]:
        """Studies with an embedding of ``weights_sha256`` written after sequence number ``after``, each
        with every embedding of its images, and the last sequence number read (``after`` if none)."""
        rows = self._read(
            "SELECT e.seq, i.study_uid, e.vector FROM embeddings e JOIN images i USING (image_uid)"
            " WHERE e.weights_sha256 = ? AND i.study_uid IN (SELECT i2.study_uid FROM embeddings e2"
            " JOIN images i2 USING (image_uid) WHERE e2.weights_sha256 = ? AND e2.seq > ?)",
            (weights_sha256, weights_sha256, after),
        )
        studies: dict[str, list[np.ndarray]] = {}
        for r in rows:
            studies.setdefault(r["study_uid"], []).append(np.frombuffer(r["vector"], dtype="<f4"))
        return max((r["seq"] for r in rows), default=after), studies

    def same_patient_studies(self, study_uid: str) -> set[str]:
        """Every study of the patient(s) of ``study_uid``, itself included; empty when no patient is known."""
        rows = self._read(
            "SELECT DISTINCT study_uid FROM images WHERE patient_id IN"
            " (SELECT patient_id FROM images WHERE study_uid = ? AND patient_id != '')",
            (study_uid,),
        )
        return {r["study_uid"] for r in rows}

    # -- PACS link: the UIDs of the objects made per (study, weights), and what was sent where ------
    def pacs_object_uids(
        self, study_uid: str, weights_sha256: str, kind: str, new: Callable[[], tuple[str, str]]
    ) -> tuple[str, str]:
        """(series UID, SOP instance UID) of the ``kind`` object ('sr', 'sc') of a study's results under
        these weights: the ones kept, else ``new()``, kept from now on."""

        def work(db: sqlite3.Connection) -> tuple[str, str]:
            key = (study_uid, weights_sha256, kind)
            where = "WHERE study_uid = ? AND weights_sha256 = ? AND kind = ?"
            row = db.execute(f"SELECT series_uid, sop_uid FROM pacs_objects {where}", key).fetchone()
            if row is not None:
                return str(row[0]), str(row[1])
            series_uid, sop_uid = new()
            db.execute("INSERT INTO pacs_objects VALUES (?, ?, ?, ?, ?)", (*key, series_uid, sop_uid))
            return series_uid, sop_uid

        return self._write(work)

    def record_sent(
        self, study_uid: str, weights_sha256: str, destination: str, sop_uids: Sequence[str]
    ) -> None:
        """Note that a study's objects were sent to ``destination`` (no credentials), and audit it."""
        stamp, user = now_iso(), current_user()

        def work(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO pacs_sent (sop_uid, destination, time, user) VALUES (?, ?, ?, ?)",
                [(uid, destination, stamp, user) for uid in sop_uids],
            )
            detail = {"destination": destination, "objects": list(sop_uids)}
            _insert_audit(db, [("sent", study_uid, weights_sha256, detail)])

        self._write(work)

    def sent(self, study_uid: str) -> list[tuple[str, str, str]]:
        """(kind, SOP instance UID, destination) of every object of ``study_uid`` sent, oldest first."""
        rows = self._read(
            "SELECT o.kind, s.sop_uid, s.destination FROM pacs_sent s JOIN pacs_objects o USING (sop_uid)"
            " WHERE o.study_uid = ? ORDER BY s.id",
            (study_uid,),
        )
        return [(r["kind"], r["sop_uid"], r["destination"]) for r in rows]

    # -- live arrivals: images recorded after a point, for a viewer that watches the store ----------
    def last_image_seq(self) -> int:
        """The sequence number of the newest image recorded (0 when none), for :meth:`images_since`."""
        return int(self._read("SELECT COALESCE(MAX(rowid), 0) AS seq FROM images")[0]["seq"])

    def images_since(self, after: int) -> tuple[int, list[StoredImage]]:
        """Images recorded after sequence number ``after`` (archived studies left out), oldest first,
        and the last sequence number read (``after`` if none)."""
        rows = self._read(
            "SELECT i.rowid AS seq, i.*, s.arrived AS study_arrived FROM images i JOIN studies s"
            " USING (study_uid) WHERE i.rowid > ? AND s.archived = 0 ORDER BY i.rowid",
            (after,),
        )
        images = [StoredImage(r["image_uid"], _entry(r), r["study_arrived"]) for r in rows]
        return max((r["seq"] for r in rows), default=after), images

    # -- safety gate: the reader's override ("Score Anyway" in the viewer) ---------------------------
    def override_gate(self, study_uid: str, weights_sha256: str) -> int:
        """Score the study's images the safety gate stopped under ``weights_sha256`` (not_scored with a
        gate score) after all: they become scored and marked overridden, with their probabilities, gate
        score and the gate's reason kept, and one ``gate-overridden`` event with
        their gate scores is audited, in one transaction. Returns how many images changed (0: none
        was stopped, and nothing is written)."""

        def work(db: sqlite3.Connection) -> int:
            stopped = db.execute(
                "SELECT r.seq, r.gate_score FROM results r JOIN images i USING (image_uid)"
                " WHERE i.study_uid = ? AND r.weights_sha256 = ? AND r.status = ?"
                f" AND r.gate_score IS NOT NULL AND {_CURRENT.format(same='')} ORDER BY i.rowid",
                (study_uid, weights_sha256, Status.NOT_SCORED.value),
            ).fetchall()
            db.executemany(
                "UPDATE results SET status = ?, gate_overridden = 1 WHERE seq = ?",
                [(Status.SCORED.value, seq) for seq, _ in stopped],
            )
            if stopped:
                detail = {"gate_scores": [round(score, 4) for _, score in stopped]}
                _insert_audit(db, [("gate-overridden", study_uid, weights_sha256, detail)])
            return len(stopped)

        return self._write(work)

    # -- audit -------------------------------------------------------------------------------------
    def log(self, action: str, study_uid: str = "", weights_sha256: str = "", **detail: Any) -> None:
        """Append one event to the audit trail. ``detail`` must never hold a patient name."""
        self._write(lambda db: _insert_audit(db, [(action, study_uid, weights_sha256, detail)]))

    def audit(self) -> list[AuditEvent]:
        """The audit trail, oldest first."""
        return [
            AuditEvent(r["time"], r["user"], r["action"], r["study_uid"], r["weights_sha256"],
                       json.loads(r["detail"]))
            for r in self._read("SELECT * FROM audit ORDER BY id")
        ]  # fmt: skip


def _apply_migration(db: sqlite3.Connection, *, number: int) -> None:
    for statement in _statements(MIGRATIONS[number - 1]):
        db.execute(statement)
    db.execute(f"PRAGMA user_version = {number}")


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


def _insert_audit(db: sqlite3.Connection, events: Sequence[tuple[str, str, str, Mapping[str, Any]]]) -> None:
    user, stamp = current_user(), now_iso()
    db.executemany(
        "INSERT INTO audit (time, user, action, study_uid, weights_sha256, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [(stamp, user, action, study, weights, json.dumps(dict(detail), default=str))
         for action, study, weights, detail in events],
    )  # fmt: skip


def _audit_content_changes(db: sqlite3.Connection, uids: Sequence[str], entries: Sequence[ScanEntry]) -> None:
    """Audit each image recorded before with another fingerprint than it now has."""
    before = dict(
        db.execute(
            "SELECT image_uid, fingerprint FROM images WHERE image_uid IN (SELECT value FROM json_each(?))",
            (json.dumps(list(uids)),),
        ).fetchall()
    )
    events = [
        ("instance-uid-reused", e.meta.study_uid, "", {"image_uid": uid, "reason": CONTENT_CHANGED})
        for uid, e in zip(uids, entries, strict=True)
        if before.get(uid) and e.meta.fingerprint and before[uid] != e.meta.fingerprint
    ]
    _insert_audit(db, events)


def _with_warning(result: ImageResult, warning: str) -> ImageResult:
    if warning in result.warnings:
        return result
    return dataclasses.replace(result, warnings=(*result.warnings, warning))


def _insert_embeddings(db: sqlite3.Connection, results: Sequence[ImageResult], weights_sha256: str) -> None:
    """Each scored result's embedding as a float32 BLOB; a new write gets a new ``seq``."""
    db.executemany(
        "INSERT OR REPLACE INTO embeddings (image_uid, weights_sha256, vector) VALUES (?, ?, ?)",
        [
            (r.image_uid, weights_sha256, np.asarray(r.embedding, dtype="<f4").tobytes())
            for r in results
            if r.embedding is not None and r.status is Status.SCORED
        ],
    )


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _meta_value(meta: ImageMeta, column: str) -> Any:
    value = getattr(meta, column)
    return printable(value) if isinstance(value, str) else value


def _entry(row: sqlite3.Row) -> ScanEntry:
    meta = ImageMeta(
        path=Path(os.fsdecode(row["path"])),
        study_uid=row["study_uid"],
        sop_uid=row["image_uid"],
        **{c: row[c] for c in _META_COLUMNS},
    )
    return ScanEntry(meta=meta, status=Status(row["scan_status"]), reason=row["scan_reason"])
