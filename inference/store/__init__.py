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
    "store_path",
]
