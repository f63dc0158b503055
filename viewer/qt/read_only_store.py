"""A command that writes to a study store that cannot be written, or about a study another reader
holds (a team store's claim): the reader is told, nothing is done."""

from __future__ import annotations

from collections.abc import Callable

from viewer.core.claim_text import refused
from viewer.qt.session import TriageSession


def cannot_keep(session: TriageSession, say: Callable[[str], None], what: str) -> bool:
    """True, and the reader told, when the study store is open but cannot be written, or when the
    study shown is being read by someone else (it is read-only until taken over)."""
    if session.claims.holder:
        say(refused(session.claims.holder, what))
        return True
    if session.store is None or session.store_writable:
        return False
    say(f"Not saved: the study store cannot be written, so {what} is not kept")
    return True
