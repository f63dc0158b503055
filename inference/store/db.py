"""The study store's API, the same on both backends: images, results per weights, reviews, claims and
the audit trail. ``Store(target)`` opens the backend the target names: a file is an embedded SQLite
store (:mod:`inference.store.sqlite_backend`, the default), a ``postgresql://`` URL a team store on a
PostgreSQL server (:mod:`inference.store.postgres_backend`).

Results are kept per (image, weights sha256, fingerprint of what was scored, precision), so a result is
reused exactly when the same content is scored by the same weights at the same precision. Ranks are
never stored: they depend on the thresholds of the moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inference.api import ScanEntry, Status
from inference.store.location import is_server_url

REVIEW_OUTCOMES = ("accepted", "rejected", "reviewed")
CONTENT_CHANGED = "instance UID reused with different content"  # the warning, and the audit's reason
LEASE_S = 600.0  # a claim's lease: it frees itself this long after it was taken or last renewed


class StoreError(Exception):
    """The store cannot be opened or used (unreadable file, newer schema, server down, ...): a plain
    message."""


# SQLSTATEs of a PostgreSQL server that cannot take writes at all (the backend's errors carry them).
_SERVER_CANNOT_WRITE = {"53100": "the server's disk is full", "25006": "read-only"}


def cannot_write(exc: StoreError) -> str:
    """Why a failed store call means the store cannot be written at all (read-only, full disk, I/O
    error), or "" for a passing trouble (a lock held too long) and for anything else."""
    cause = exc.__cause__
    if isinstance(cause, OSError):
        return str(cause)
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is not None:
        return _SERVER_CANNOT_WRITE.get(sqlstate, "")
    code = getattr(cause, "sqlite_errorcode", None)
    if code is None:
        return ""
    from inference.store.sqlite_backend import sqlite_cannot_write

    return sqlite_cannot_write(code, str(cause))


def not_permitted(exc: BaseException) -> bool:
    """Whether the server refused the call to this login (a team store's reader may review, claim and
    write notes, never images or results)."""
    cause = exc.__cause__ if isinstance(exc, StoreError) else None
    return getattr(cause, "sqlstate", None) == "42501"


# SQLSTATEs of a server going away: shutting down, crashed, not yet accepting connections
_SERVER_GONE = {"57P01", "57P02", "57P03"}


def server_unreachable(exc: BaseException) -> bool:
    """Whether a store call failed because the server could not be reached (the call may be asked
    again later), rather than because the store refused it."""
    cause = exc.__cause__ if isinstance(exc, StoreError) else None
    if cause is None or not type(cause).__module__.startswith("psycopg"):
        return False  # psycopg is postgres_backend's alone: its errors are known here by name
    if not {"OperationalError", "InterfaceError"} & {kind.__name__ for kind in type(cause).__mro__}:
        return False
    sqlstate = getattr(cause, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in _SERVER_GONE


@dataclass(frozen=True)
class ImageResult:
    """One image's outcome under one set of weights: its probabilities, or why it could not be read
    or why the safety gate stopped it (NOT_SCORED: probabilities kept, never ranked)."""

    image_uid: str
    status: Status  # SCORED, NOT_SCORED (stopped by the safety gate) or ERROR
    probabilities: Mapping[str, float] = field(default_factory=dict)
    reason: str = ""
    warnings: tuple[str, ...] = ()
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)  # see Prediction
    gate_score: float | None = None  # the safety gate's score (>1: stopped); None when it had none
    gate_overridden: bool = False  # scored although the gate stopped it: the reader's override
    fingerprint: str = ""  # of the content scored (ImageMeta.fingerprint); "": the image's current one


@dataclass(frozen=True)
class StoredImage:
    """An image as the store knows it: its identity, its study's arrival time and its scan row."""

    image_uid: str
    entry: ScanEntry
    arrived: str


@dataclass(frozen=True)
class Review:
    study_uid: str
    outcome: str  # one of REVIEW_OUTCOMES
    note: str
    user: str
    time: str


@dataclass(frozen=True)
class AuditEvent:
    time: str
    user: str
    action: str
    study_uid: str
    weights_sha256: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class Claim:
    """Who is reading a study, until when: ``mine`` when it is this connection's user."""

    study_uid: str
    holder: str  # the database role that holds it
    expires: str  # ISO 8601 UTC, the server's clock
    mine: bool


class Store:
    """A connection to one store; safe to share between threads (calls are serialised).

    ``Store(target)`` opens a SQLite file, or the PostgreSQL database of a ``postgresql://`` URL.
    """

    path: Path  # the store file; for a server store, the local name its folders and indexes sit beside

    def __new__(cls, target: Path | str, read_only: bool = False) -> Store:
        if cls is Store:
            if is_server_url(target):
                from inference.store.postgres_backend import PostgresStore

                cls = PostgresStore
            else:
                from inference.store.sqlite_backend import SqliteStore

                cls = SqliteStore
        return super().__new__(cls)

    def __init__(self, target: Path | str, read_only: bool = False) -> None:
        """Open (or create) the store; ``read_only`` opens an existing one as it is, never created,
        upgraded or written (every write raises :class:`StoreError`)."""

    @property
    def server_url(self) -> str:
        """The team store's ``postgresql://`` URL (claims, NOTIFY); "" for an embedded SQLite file."""
        return ""

    @property
    def writable(self) -> bool:
        """False when opened ``read_only`` or when the store cannot be written; a write can still fail
        later (a full disk): it raises :class:`StoreError`."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def version(self) -> int:
        """The schema version the store is at."""
        raise NotImplementedError

    # -- images ------------------------------------------------------------------------------------
    def record(self, entries: Sequence[ScanEntry], source: str = "file") -> list[str]:
        """Record scanned images (and their studies) as arriving now; returns their image UIDs.

        An image seen before keeps its arrival time; its path, header facts and fingerprint are
        refreshed. An image UID seen before with other content (another fingerprint) is audited as
        ``instance-uid-reused``; its results of the other content are kept, no longer current.
        """
        raise NotImplementedError

    def images(
        self, study_uids: Iterable[str] | None = None, include_archived: bool = False
    ) -> list[StoredImage]:
        """Every recorded image (of ``study_uids`` when given), in arrival order."""
        raise NotImplementedError

    # -- results -----------------------------------------------------------------------------------
    def results(self, weights_sha256: str, image_uids: Iterable[str] | None = None) -> dict[str, ImageResult]:
        """Current results of ``weights_sha256`` (of each image's current content, the newest of any
        precision), by image UID (only ``image_uids`` when given). A result whose image UID also has
        results of other content carries the warning :data:`CONTENT_CHANGED`."""
        raise NotImplementedError

    def reusable_results(
        self, weights_sha256: str, precision: str, image_uids: Iterable[str]
    ) -> dict[str, ImageResult]:
        """The results a run at ``precision`` may reuse instead of scoring: of the same weights, of the
        image's current content (fingerprint) and of that precision; never an error (a file that could
        not be read is read again)."""
        raise NotImplementedError

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
        raise NotImplementedError

    # -- studies -----------------------------------------------------------------------------------
    def archive(self, study_uids: Iterable[str], archived: bool = True) -> int:
        """Leave studies out of the worklist (or bring them back); returns how many changed."""
        raise NotImplementedError

    def archive_older_than(self, arrived_before: str) -> int:
        """Archive every study that arrived before the ISO time ``arrived_before``."""
        raise NotImplementedError

    def arrivals(self, study_uids: Iterable[str]) -> dict[str, str]:
        """When each of ``study_uids`` first arrived (ISO 8601 UTC), by study UID."""
        raise NotImplementedError

    def has_study(self, study_uid: str) -> bool:
        raise NotImplementedError

    # -- reviews -----------------------------------------------------------------------------------
    def set_review(self, study_uid: str, outcome: str, note: str = "") -> Review:
        """Record the reader's outcome for a study (replacing an earlier one) and audit it; a claim
        of the study held by this user is released with it. ``KeyError``: no such study."""
        raise NotImplementedError

    def clear_review(self, study_uid: str) -> None:
        raise NotImplementedError

    def reviews(self) -> dict[str, Review]:
        raise NotImplementedError

    # -- claims: who is reading what -----------------------------------------------------------------
    def claim(self, study_uid: str, lease_s: float = LEASE_S, take_over: bool = False) -> Claim:
        """Claim a study for ``lease_s`` seconds (renewing a claim of this user's own): the claim now
        held, which is someone else's (``mine`` False) when they hold it and ``take_over`` is not
        asked; a take-over is audited. ``KeyError``: no such study."""
        raise NotImplementedError

    def release(self, study_uid: str) -> bool:
        """Give back this user's claim of a study; False when this user held none."""
        raise NotImplementedError

    def claim_next(self, ranked_study_uids: Sequence[str], lease_s: float = LEASE_S) -> Claim | None:
        """Claim the first of ``ranked_study_uids`` (reading order: ranks are the caller's, they
        depend on thresholds) that is unreviewed, not archived and held by nobody; None when none is.
        Two users asking at once get different studies."""
        raise NotImplementedError

    def claims(self) -> dict[str, Claim]:
        """Every claim whose lease has not ended, by study UID."""
        raise NotImplementedError

    # -- purge: the received and retrieved files of old studies ------------------------------------
    def purgeable(self, arrived_before: str, reviewed_only: bool = False) -> list[StoredImage]:
        """The images whose file is still kept (not purged) of every study, archived or not, that
        arrived before the ISO time ``arrived_before`` (only reviewed studies with ``reviewed_only``),
        by study in arrival order."""
        raise NotImplementedError

    def mark_purged(self, image_uids: Iterable[str]) -> str:
        """Note that the files of ``image_uids`` were removed (now; images already marked keep their
        time); returns the time written. Results, reviews and audit are untouched."""
        raise NotImplementedError

    # -- similar cases: image embeddings and patients' studies -------------------------------------
    def embeddings_since(
        self, weights_sha256: str, after: int = 0
    ) -> tuple[int, dict[str, list[np.ndarray]]]:
        """Studies with an embedding of ``weights_sha256`` written after sequence number ``after``, each
        with every embedding of its images, and the last sequence number read (``after`` if none)."""
        raise NotImplementedError

    def same_patient_studies(self, study_uid: str) -> set[str]:
        """Every study of the patient(s) of ``study_uid``, itself included; empty when no patient is known."""
        raise NotImplementedError

    # -- PACS link: the UIDs of the objects made per (study, weights), and what was sent where ------
    def pacs_object_uids(
        self, study_uid: str, weights_sha256: str, kind: str, new: Callable[[], tuple[str, str]]
    ) -> tuple[str, str]:
        """(series UID, SOP instance UID) of the ``kind`` object ('sr', 'sc') of a study's results under
        these weights: the ones kept, else ``new()``, kept from now on."""
        raise NotImplementedError

    def record_sent(
        self, study_uid: str, weights_sha256: str, destination: str, sop_uids: Sequence[str]
    ) -> None:
        """Note that a study's objects were sent to ``destination`` (no credentials), and audit it."""
        raise NotImplementedError

    def sent(self, study_uid: str) -> list[tuple[str, str, str]]:
        """(kind, SOP instance UID, destination) of every object of ``study_uid`` sent, oldest first."""
        raise NotImplementedError

    # -- live arrivals: images recorded after a point, for a viewer that watches the store ----------
    def last_image_seq(self) -> int:
        """The sequence number of the newest image recorded (0 when none), for :meth:`images_since`."""
        raise NotImplementedError

    def images_since(self, after: int) -> tuple[int, list[StoredImage]]:
        """Images recorded after sequence number ``after`` (archived studies left out), oldest first,
        and the last sequence number read (``after`` if none). Sequence numbers are in commit order,
        so no image is missed however many writers there are."""
        raise NotImplementedError

    # -- safety gate: the reader's override ("Score Anyway" in the viewer) ---------------------------
    def override_gate(self, study_uid: str, weights_sha256: str) -> int:
        """Score the study's images the safety gate stopped under ``weights_sha256`` (not_scored with a
        gate score) after all: they become scored and marked overridden, with their probabilities, gate
        score and the gate's reason kept, and one ``gate-overridden`` event with their gate scores is
        audited, in one transaction. Returns how many images changed (0: none was stopped)."""
        raise NotImplementedError

    # -- audit -------------------------------------------------------------------------------------
    def log(self, action: str, study_uid: str = "", weights_sha256: str = "", **detail: Any) -> None:
        """Append one event to the audit trail. ``detail`` must never hold a patient name."""
        raise NotImplementedError

    def audit(self) -> list[AuditEvent]:
        """The audit trail, oldest first."""
        raise NotImplementedError
