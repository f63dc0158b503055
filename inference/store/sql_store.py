"""What the two backends of the store do alike, written once: every query and row mapping the same on
SQLite and PostgreSQL, over one small transaction handle (:class:`Tx`, ``?`` placeholders on both).

A backend keeps only what truly differs: connecting, transactions and their retries, how a list is
passed, upserts and sequence numbers, migrations, claims, and who writes "who and when" (the client
on SQLite, the server on PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from inference.api import ImageMeta, ScanEntry, Status
from inference.identity import image_uid
from inference.store.db import (
    CONTENT_CHANGED,
    REVIEW_OUTCOMES,
    AuditEvent,
    ImageResult,
    Review,
    Store,
    StoredImage,
)
from inference.store.user import now_iso
from inference.text import printable

T = TypeVar("T")
Row = dict[str, Any]
AuditRow = tuple[str, str, str, Mapping[str, Any]]  # action, study UID, weights sha256, detail

META_COLUMNS = (
    "patient_id", "patient_name", "accession", "study_date", "study_time", "modality", "view_position",
    "body_part", "photometric", "rows", "columns", "window_center", "window_width", "fingerprint", "purged",
)  # fmt: skip
_IMAGE_COLUMNS = ("study_uid", "source", "path", "arrived", "scan_status", "scan_reason", *META_COLUMNS)
_REFRESHED = ("study_uid", "path", "scan_status", "scan_reason", *META_COLUMNS)  # an image seen again
_STORED_IMAGE = "SELECT i.*, s.arrived AS study_arrived FROM images i JOIN studies s USING (study_uid)"
_OTHER_CONTENT = (
    "EXISTS (SELECT 1 FROM results o WHERE o.image_uid = r.image_uid"
    " AND o.fingerprint NOT IN ('', r.fingerprint))"
)
# A result row is current when it is of its image's current content (fingerprint of its last scan) and
# no newer row of the same image, weights and content exists (whatever the precision: newest shown).
_CURRENT = (
    "r.fingerprint = i.fingerprint AND NOT EXISTS (SELECT 1 FROM results n WHERE n.image_uid = r.image_uid"
    " AND n.weights_sha256 = r.weights_sha256 AND n.fingerprint = r.fingerprint AND n.seq > r.seq{same})"
)


class Tx(Protocol):
    """One transaction of a backend; statements take ``?`` placeholders on both engines."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; how many rows it changed."""
        ...

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


def image_upsert(seq: str = "") -> str:
    """The statement that records an image (or refreshes one seen before); ``seq``: the SQL that
    numbers a new image, where the engine does not number it itself."""
    columns = ", ".join(f'"{c}"' for c in _IMAGE_COLUMNS)
    marks = ", ".join("?" * len(_IMAGE_COLUMNS))
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in _REFRESHED)
    numbered = ("seq, ", f"{seq}, ") if seq else ("", "")
    return (
        f"INSERT INTO images (image_uid, {numbered[0]}{columns}) VALUES (?, {numbered[1]}{marks})"
        f" ON CONFLICT (image_uid) DO UPDATE SET {updates}"
    )


def result_insert(scores: Sequence[str]) -> str:
    """``INTO results …`` of one result, its ``scores`` columns as the engine keeps them; the
    fingerprint is the result's, else its image's current one."""
    return (
        'INTO results (image_uid, weights_sha256, fingerprint, "precision", status, reason,'
        f" {', '.join(scores)}, preprocessing, device, scored_at, gate_score) VALUES (?, ?,"
        " COALESCE(NULLIF(?, ''), (SELECT fingerprint FROM images WHERE image_uid = ?)),"
        f" ?, ?, ?, {', '.join('?' * len(scores))}, ?, ?, ?, ?)"
    )


class SqlStore(Store):
    """The store API over SQL; a backend supplies its transactions, reads and the few statements of
    its own (the methods below that raise :class:`NotImplementedError`)."""

    _IMAGE_SEQ = "seq"  # the column of ``images`` that numbers them in the order they were recorded
    _STUDY_LOCK = ""  # appended to a study's SELECT to hold its row to the commit, where rows lock

    # -- what a backend supplies -------------------------------------------------------------------
    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    def _write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in one transaction (retried as the engine needs); errors raise StoreError."""
        raise NotImplementedError

    def _any(self, column: str, values: Iterable[str]) -> tuple[str, Any]:
        """The condition "``column`` is one of ``values``" and the one parameter it takes."""
        raise NotImplementedError

    def _stamp(self) -> dict[str, str]:
        """Who and when as the client writes them (audit, reviews, objects sent); empty where the server
        writes them itself."""
        raise NotImplementedError

    def _upsert_images(self, tx: Tx, rows: Sequence[Sequence[Any]]) -> None:
        """Write :func:`image_upsert`'s rows."""
        raise NotImplementedError

    def _upsert_results(self, tx: Tx, rows: Sequence[Sequence[Any]]) -> None:
        """Write :func:`result_insert`'s rows, replacing a result of the same image, weights,
        fingerprint and precision (a replaced one gets a new ``seq`` and is no longer overridden)."""
        raise NotImplementedError

    def _scores(self, probabilities: dict[str, float], warnings: list[str]) -> tuple[Any, ...]:
        """A result's probabilities and warnings as its ``scores`` columns hold them."""
        raise NotImplementedError

    def _read_scores(self, row: Row) -> tuple[dict[str, float], list[str]]:
        raise NotImplementedError

    def _upsert_embeddings(self, tx: Tx, rows: Sequence[tuple[str, str, bytes]]) -> None:
        """Write (image UID, weights, float32 bytes) rows; a new write gets a new ``seq``."""
        raise NotImplementedError

    def _release_own_claim(self, tx: Tx, study_uid: str) -> bool:
        """Give back this user's claim of a study; False when there was none."""
        return False

    # -- images ------------------------------------------------------------------------------------
    def record(self, entries: Sequence[ScanEntry], source: str = "file") -> list[str]:
        uids = [image_uid(e.meta) for e in entries]
        stamp = now_iso()
        rows = [
            (uid, e.meta.study_uid, source, os.fsencode(e.meta.path), stamp, e.status.value,
             printable(e.reason), *(_meta_value(e.meta, c) for c in META_COLUMNS))
            for uid, e in zip(uids, entries, strict=True)
        ]  # fmt: skip

        def work(tx: Tx) -> None:
            self._audit_content_changes(tx, uids, entries)
            tx.run_many(
                "INSERT INTO studies (study_uid, arrived) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(e.meta.study_uid, stamp) for e in entries],
            )
            self._upsert_images(tx, rows)

        if entries:
            self._write(work)
        return uids

    def images(
        self, study_uids: Iterable[str] | None = None, include_archived: bool = False
    ) -> list[StoredImage]:
        where = ["true"] if include_archived else ["NOT s.archived"]
        params: list[Any] = []
        if study_uids is not None:
            condition, values = self._any("s.study_uid", study_uids)
            where.append(condition)
            params.append(values)
        rows = self._read(
            f"{_STORED_IMAGE} WHERE {' AND '.join(where)} ORDER BY s.arrived, i.{self._IMAGE_SEQ}", params
        )
        return [_stored_image(r) for r in rows]

    def _audit_content_changes(self, tx: Tx, uids: Sequence[str], entries: Sequence[ScanEntry]) -> None:
        """Audit each image recorded before with another fingerprint than it now has."""
        condition, values = self._any("image_uid", uids)
        before = {
            r["image_uid"]: r["fingerprint"]
            for r in tx.rows(f"SELECT image_uid, fingerprint FROM images WHERE {condition}", (values,))
        }
        events = [
            ("instance-uid-reused", e.meta.study_uid, "", {"image_uid": uid, "reason": CONTENT_CHANGED})
            for uid, e in zip(uids, entries, strict=True)
            if before.get(uid) and e.meta.fingerprint and before[uid] != e.meta.fingerprint
        ]
        self._insert_audit(tx, events)

    # -- results -----------------------------------------------------------------------------------
    def results(self, weights_sha256: str, image_uids: Iterable[str] | None = None) -> dict[str, ImageResult]:
        return self._results(weights_sha256, image_uids, _CURRENT.format(same=""))

    def reusable_results(
        self, weights_sha256: str, precision: str, image_uids: Iterable[str]
    ) -> dict[str, ImageResult]:
        current = _CURRENT.format(same=' AND n."precision" = r."precision"')
        where = f'{current} AND r."precision" = ? AND r.status != ?'
        return self._results(weights_sha256, image_uids, where, [precision, Status.ERROR.value])

    def _results(
        self, weights_sha256: str, image_uids: Iterable[str] | None, where: str, params: Sequence[Any] = ()
    ) -> dict[str, ImageResult]:
        sql = f"SELECT r.*, {_OTHER_CONTENT} AS other_content FROM results r JOIN images i USING (image_uid)"
        sql += f" WHERE r.weights_sha256 = ? AND {where}"
        values: list[Any] = [weights_sha256, *params]
        if image_uids is not None:
            condition, uids = self._any("r.image_uid", image_uids)
            sql += f" AND {condition}"
            values.append(uids)
        results = {}
        for r in self._read(sql, values):
            probabilities, warnings = self._read_scores(r)
            results[r["image_uid"]] = ImageResult(
                r["image_uid"],
                Status(r["status"]),
                probabilities,
                r["reason"],
                (*warnings, *([CONTENT_CHANGED] if r["other_content"] else [])),
                gate_score=r["gate_score"],
                gate_overridden=bool(r["gate_overridden"]),
            )
        return results

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
        rows = [
            (r.image_uid, weights_sha256, r.fingerprint, r.image_uid, precision, r.status.value,
             printable(r.reason),
             *self._scores({k: float(v) for k, v in r.probabilities.items()},
                           [printable(w) for w in r.warnings if w != CONTENT_CHANGED]),
             preprocessing, device, stamp, r.gate_score)
            for r in results
        ]  # fmt: skip
        embeddings = [
            (r.image_uid, weights_sha256, np.asarray(r.embedding, dtype="<f4").tobytes())
            for r in results
            if r.embedding is not None and r.status is Status.SCORED
        ]

        def work(tx: Tx) -> list[ImageResult]:
            first_seq = tx.rows("SELECT COALESCE(MAX(seq), 0) AS seq FROM results")[0]["seq"]
            self._upsert_results(tx, rows)
            condition, uids = self._any("image_uid", [r.image_uid for r in results])
            studies = tx.rows(f"SELECT DISTINCT study_uid FROM images WHERE {condition}", (uids,))
            scored = {"precision": precision}
            self._insert_audit(tx, [("scored", s["study_uid"], weights_sha256, scored) for s in studies])
            if embeddings:
                self._upsert_embeddings(tx, embeddings)
            changed = {
                row["image_uid"]
                for row in tx.rows(
                    "SELECT DISTINCT r.image_uid FROM results r JOIN results o USING (image_uid)"
                    " WHERE r.seq > ? AND o.fingerprint NOT IN ('', r.fingerprint)",
                    (first_seq,),
                )
            }
            return [_with_warning(r, CONTENT_CHANGED) if r.image_uid in changed else r for r in results]

        return self._write(work) if results else []

    # -- studies -----------------------------------------------------------------------------------
    def archive(self, study_uids: Iterable[str], archived: bool = True) -> int:
        uids = list(study_uids)
        condition, values = self._any("study_uid", uids)

        def work(tx: Tx) -> int:
            changed = tx.run(
                f"UPDATE studies SET archived = ? WHERE {condition} AND archived != ?",
                (archived, values, archived),
            )
            self._insert_audit(tx, [("archived" if archived else "unarchived", uid, "", {}) for uid in uids])
            return changed

        return self._write(work)

    def archive_older_than(self, arrived_before: str) -> int:
        rows = self._read(
            "SELECT study_uid FROM studies WHERE NOT archived AND arrived < ?", (arrived_before,)
        )
        return self.archive(r["study_uid"] for r in rows)

    def arrivals(self, study_uids: Iterable[str]) -> dict[str, str]:
        condition, values = self._any("study_uid", study_uids)
        rows = self._read(f"SELECT study_uid, arrived FROM studies WHERE {condition}", (values,))
        return {r["study_uid"]: r["arrived"] for r in rows}

    def has_study(self, study_uid: str) -> bool:
        return bool(self._read("SELECT 1 FROM studies WHERE study_uid = ?", (study_uid,)))

    def _lock_study(self, tx: Tx, study_uid: str) -> None:
        """``KeyError`` when there is no such study; where rows lock, its row is held to the commit
        (a study's claim and review change under this lock only)."""
        if not tx.rows(f"SELECT 1 FROM studies WHERE study_uid = ?{self._STUDY_LOCK}", (study_uid,)):
            raise KeyError(study_uid)

    # -- reviews -----------------------------------------------------------------------------------
    def set_review(self, study_uid: str, outcome: str, note: str = "") -> Review:
        if outcome not in REVIEW_OUTCOMES:
            raise ValueError(
                f"unknown review outcome {outcome!r}; choose one of {', '.join(REVIEW_OUTCOMES)}"
            )
        note = printable(note)
        review = {**self._stamp(), "study_uid": study_uid, "outcome": outcome, "note": note}
        columns = ", ".join(f'"{c}"' for c in review)
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in review if c != "study_uid")

        def work(tx: Tx) -> Review:
            self._lock_study(tx, study_uid)
            row = tx.rows(
                f"INSERT INTO reviews ({columns}) VALUES ({', '.join('?' * len(review))})"
                f' ON CONFLICT (study_uid) DO UPDATE SET {updates} RETURNING "user", time',
                list(review.values()),
            )[0]
            self._release_own_claim(tx, study_uid)
            self._insert_audit(tx, [(outcome, study_uid, "", {"note": note} if note else {})])
            return Review(study_uid, outcome, note, row["user"], iso_time(row["time"]))

        return self._write(work)

    def clear_review(self, study_uid: str) -> None:
        def work(tx: Tx) -> None:
            tx.run("DELETE FROM reviews WHERE study_uid = ?", (study_uid,))
            self._insert_audit(tx, [("review-cleared", study_uid, "", {})])

        self._write(work)

    def reviews(self) -> dict[str, Review]:
        return {
            r["study_uid"]: Review(r["study_uid"], r["outcome"], r["note"], r["user"], iso_time(r["time"]))
            for r in self._read("SELECT * FROM reviews")
        }

    # -- purge -------------------------------------------------------------------------------------
    def purgeable(self, arrived_before: str, reviewed_only: bool = False) -> list[StoredImage]:
        reviewed = " AND EXISTS (SELECT 1 FROM reviews v WHERE v.study_uid = s.study_uid)"
        rows = self._read(
            f"{_STORED_IMAGE} WHERE s.arrived < ? AND i.purged = ''{reviewed if reviewed_only else ''}"
            f" ORDER BY s.arrived, s.study_uid, i.{self._IMAGE_SEQ}",
            (arrived_before,),
        )
        return [_stored_image(r) for r in rows]

    def mark_purged(self, image_uids: Iterable[str]) -> str:
        stamp = now_iso()
        condition, values = self._any("image_uid", image_uids)
        self._write(
            lambda tx: tx.run(
                f"UPDATE images SET purged = ? WHERE purged = '' AND {condition}", (stamp, values)
            )
        )
        return stamp

    # -- similar cases -----------------------------------------------------------------------------
    def embeddings_since(
        self, weights_sha256: str, after: int = 0
    ) -> tuple[int, dict[str, list[np.ndarray]]]:
        rows = self._read(
            "SELECT e.seq, i.study_uid, e.vector FROM embeddings e JOIN images i USING (image_uid)"
            " WHERE e.weights_sha256 = ? AND i.study_uid IN (SELECT i2.study_uid FROM embeddings e2"
            " JOIN images i2 USING (image_uid) WHERE e2.weights_sha256 = ? AND e2.seq > ?)"
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
            " (SELECT patient_id FROM images WHERE study_uid = ? AND patient_id != '')",
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
            " WHERE study_uid = ? AND weights_sha256 = ? AND kind = ?"
        )

        def work(tx: Tx) -> tuple[str, str]:
            rows = tx.rows(select, key)
            if not rows:  # made here, unless another writer made them first: theirs are kept
                tx.run(
                    "INSERT INTO pacs_objects VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", (*key, *new())
                )
                rows = tx.rows(select, key)
            return str(rows[0]["series_uid"]), str(rows[0]["sop_uid"])

        return self._write(work)

    def record_sent(
        self, study_uid: str, weights_sha256: str, destination: str, sop_uids: Sequence[str]
    ) -> None:
        stamp = now_iso()
        sent = [
            {**self._stamp(), "sop_uid": uid, "destination": destination, "time": stamp} for uid in sop_uids
        ]

        def work(tx: Tx) -> None:
            _insert_rows(tx, "pacs_sent", sent)
            detail = {"destination": destination, "objects": list(sop_uids)}
            self._insert_audit(tx, [("sent", study_uid, weights_sha256, detail)])

        self._write(work)

    def sent(self, study_uid: str) -> list[tuple[str, str, str]]:
        rows = self._read(
            "SELECT o.kind, s.sop_uid, s.destination FROM pacs_sent s JOIN pacs_objects o USING (sop_uid)"
            " WHERE o.study_uid = ? ORDER BY s.id",
            (study_uid,),
        )
        return [(r["kind"], r["sop_uid"], r["destination"]) for r in rows]

    # -- live arrivals -----------------------------------------------------------------------------
    def last_image_seq(self) -> int:
        return int(self._read(f"SELECT COALESCE(MAX({self._IMAGE_SEQ}), 0) AS seq FROM images")[0]["seq"])

    def images_since(self, after: int) -> tuple[int, list[StoredImage]]:
        seq = f"i.{self._IMAGE_SEQ}"
        rows = self._read(
            f"SELECT {seq} AS seq, i.*, s.arrived AS study_arrived FROM images i JOIN studies s"
            f" USING (study_uid) WHERE {seq} > ? AND NOT s.archived ORDER BY {seq}",
            (after,),
        )
        return max((r["seq"] for r in rows), default=after), [_stored_image(r) for r in rows]

    # -- safety gate -------------------------------------------------------------------------------
    def override_gate(self, study_uid: str, weights_sha256: str) -> int:
        def work(tx: Tx) -> int:
            stopped = tx.rows(
                "SELECT r.seq, r.gate_score FROM results r JOIN images i USING (image_uid)"
                " WHERE i.study_uid = ? AND r.weights_sha256 = ? AND r.status = ?"
                f" AND r.gate_score IS NOT NULL AND {_CURRENT.format(same='')} ORDER BY i.{self._IMAGE_SEQ}",
                (study_uid, weights_sha256, Status.NOT_SCORED.value),
            )
            tx.run_many(
                "UPDATE results SET status = ?, gate_overridden = true WHERE seq = ?",
                [(Status.SCORED.value, r["seq"]) for r in stopped],
            )
            if stopped:
                detail = {"gate_scores": [round(r["gate_score"], 4) for r in stopped]}
                self._insert_audit(tx, [("gate-overridden", study_uid, weights_sha256, detail)])
            return len(stopped)

        return self._write(work)

    # -- audit -------------------------------------------------------------------------------------
    def log(self, action: str, study_uid: str = "", weights_sha256: str = "", **detail: Any) -> None:
        self._write(lambda tx: self._insert_audit(tx, [(action, study_uid, weights_sha256, detail)]))

    def audit(self) -> list[AuditEvent]:
        return [
            AuditEvent(iso_time(r["time"]), r["user"], r["action"], r["study_uid"], r["weights_sha256"],
                       json.loads(r["detail"]))
            for r in self._read("SELECT * FROM audit ORDER BY id")
        ]  # fmt: skip

    def _insert_audit(self, tx: Tx, events: Sequence[AuditRow]) -> None:
        stamp = self._stamp()
        _insert_rows(
            tx,
            "audit",
            [
                {**stamp, "action": action, "study_uid": study, "weights_sha256": weights,
                 "detail": json.dumps(dict(detail), default=str)}
                for action, study, weights, detail in events
            ],
        )  # fmt: skip


def iso_time(moment: str | datetime) -> str:
    """A time as the store gives it: ISO 8601 UTC, in seconds (a server's timestamps are converted)."""
    if isinstance(moment, str):
        return moment
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _insert_rows(tx: Tx, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows that all name the same columns."""
    if not rows:
        return
    columns = ", ".join(f'"{c}"' for c in rows[0])
    marks = ", ".join("?" * len(rows[0]))
    tx.run_many(f"INSERT INTO {table} ({columns}) VALUES ({marks})", [list(r.values()) for r in rows])


def _with_warning(result: ImageResult, warning: str) -> ImageResult:
    if warning in result.warnings:
        return result
    return dataclasses.replace(result, warnings=(*result.warnings, warning))


def _meta_value(meta: ImageMeta, column: str) -> Any:
    value = getattr(meta, column)
    return printable(value) if isinstance(value, str) else value


def _stored_image(row: Row) -> StoredImage:
    meta = ImageMeta(
        path=Path(os.fsdecode(bytes(row["path"]))),
        study_uid=row["study_uid"],
        sop_uid=row["image_uid"],
        **{c: row[c] for c in META_COLUMNS},
    )
    entry = ScanEntry(meta=meta, status=Status(row["scan_status"]), reason=row["scan_reason"])
    return StoredImage(row["image_uid"], entry, row["study_arrived"])
