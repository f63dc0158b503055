"""A command that writes to a study store that cannot be written: the reader is told, nothing is done."""

from __future__ import annotations

from collections.abc import Callable

from viewer.qt.session import TriageSession


def cannot_keep(session: TriageSession, say: Callable[[str], None], what: str) -> bool:
    """True, and the reader told, when the study store is open but cannot be written."""
    if session.store is None or session.store_writable:
        return False
    say(f"Not saved: the study store cannot be written, so {what} is not kept")
    return True
