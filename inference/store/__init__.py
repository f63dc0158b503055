"""The study store (SQLite, or PostgreSQL for a team): images, results per weights, reviews, claims and
the audit trail."""

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
    cannot_write,
    not_permitted,
    server_unreachable,
)
from inference.store.location import is_server_url, store_path, store_target

__all__ = [
    "CONTENT_CHANGED",
    "LEASE_S",
    "REVIEW_OUTCOMES",
    "AuditEvent",
    "Claim",
    "ImageResult",
    "Review",
    "Store",
    "StoreError",
    "StoredImage",
    "cannot_write",
    "not_permitted",
    "server_unreachable",
    "is_server_url",
    "store_path",
    "store_target",
]
