"""How the viewer words a team store's claims: who is reading a study, and why a review is refused."""

from __future__ import annotations

TAKE_OVER_KEY = "Ctrl+Shift+T"


def being_read_by(holder: str) -> str:
    """The worklist's review cell and the caption of a study another reader holds."""
    return f"being read by {holder}"


def read_only_note(holder: str) -> str:
    """The caption's addition while the study shown is someone else's."""
    return f"{being_read_by(holder)}: read-only ({TAKE_OVER_KEY} takes it over)"


def refused(holder: str, what: str) -> str:
    """What the reader is told when a review of a study someone else holds is refused."""
    return (
        f"Not saved: this study is {being_read_by(holder)}, so {what} is not kept "
        f"({TAKE_OVER_KEY} takes it over)"
    )
