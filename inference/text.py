"""Text that leaves the program: file names and header values made safe for each destination."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def printable(text: str) -> str:
    """``text`` as valid UTF-8: kept as it is where it can be; bytes of a file name that were not
    UTF-8 (Python's surrogate escapes) become a visible ``\\xNN``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def terminal_safe(text: str) -> str:
    """:func:`printable`, with control characters (ANSI escapes, newlines, bells) shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", printable(text))


def csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP: prefix ``'`` to
    cells starting with ``= + - @``, tab or carriage return). Numbers are left alone."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_STARTS):
        return "'" + value
    return value
