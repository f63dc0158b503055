"""The one exception the readers raise."""

from __future__ import annotations


class ReadError(Exception):
    """A file could not be read as a radiograph; ``str(err)`` is a user-facing reason."""
