"""The one exception the readers raise, and how a library's exception is worded inside its reason."""

from __future__ import annotations


class ReadError(Exception):
    """A file could not be read as a radiograph; ``str(err)`` is a user-facing reason."""


def short(exc: BaseException) -> str:
    """The first line of ``exc``'s message (its type name when empty), at most 200 characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
