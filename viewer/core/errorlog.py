"""A PHI-free error log in the user's data folder.

Paths often carry patient names (``/exports/DOE_JOHN/1.dcm``), so every path-like run of text in a
record is replaced by a short token: the extension plus a hash that lets support match two log lines
to the same file without learning its name. Header values are never logged by the viewer.
"""

from __future__ import annotations

import hashlib
import logging
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path

from viewer.core import paths

_PATHLIKE = re.compile(r"(?:[A-Za-z]:\\|\\\\|/|~/)[^\s'\"<>|:,;]*")
_HANDLER_NAME = "cxr-triage-errorlog"


def path_token(path: str | Path) -> str:
    """``<file#1a2b3c4d.dcm>``: stable per path, reveals nothing of its folders or name."""
    text = str(path)
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:8]
    return f"<file#{digest}{Path(text).suffix.lower()}>"


def redact(text: str) -> str:
    return _PATHLIKE.sub(lambda m: path_token(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """Renders each record's message (and traceback) with paths replaced by tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = redact(formatted)
        return True


class OwnOrSevereFilter(logging.Filter):
    """Our own warnings, and only errors from libraries (whose messages may quote header values)."""

    OWN = ("viewer", "inference", "__main__")

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or record.name.split(".")[0] in self.OWN


def setup_error_log(path: Path | None = None, level: int = logging.WARNING) -> Path:
    """Attach (once) a rotating, redacting file handler to the root logger; returns the log path."""
    path = Path(path) if path is not None else paths.log_path()
    root = logging.getLogger()
    for handler in root.handlers:
        if handler.get_name() == _HANDLER_NAME:
            return path
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    handler.set_name(_HANDLER_NAME)
    handler.setLevel(level)
    handler.addFilter(OwnOrSevereFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    return path
