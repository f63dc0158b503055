"""Who and when, as the audit trail records them."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime


def current_user() -> str:
    """The operating-system account running CXR Triage ("unknown" when the system cannot tell)."""
    try:
        return getpass.getuser()
    except Exception:  # no USER/LOGNAME and no password entry (containers)
        return "unknown"


def now_iso() -> str:
    """The current time, ISO 8601 in UTC with seconds: sortable as text."""
    return datetime.now(UTC).isoformat(timespec="seconds")
