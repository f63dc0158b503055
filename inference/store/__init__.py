"""The study store (SQLite): images, results per weights, reviews and the audit trail."""

from inference.store.db import (
    CONTENT_CHANGED,
    REVIEW_OUTCOMES,
    AuditEvent,
    ImageResult,
    Review,
    Store,
    StoredImage,
    StoreError,
    cannot_write,
)
from inference.store.location import store_path

__all__ = [
    "CONTENT_CHANGED",
    "REVIEW_OUTCOMES",
    "AuditEvent",
    "ImageResult",
    "Review",
    "Store",
    "StoreError",
    "StoredImage",
    "cannot_write",
    "store_path",
]
